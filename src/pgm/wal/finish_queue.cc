#include <cerrno>
#include <cstring>
#include <memory>

#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/wal/finish_queue_internal.h"
#include "pgm/wal/segment_writer.h"

namespace pgm::wal {
namespace {

// A segment that failed for lack of space is tried again once its directory has gained this
// much (small changes by other writers do not each cost a compression).
constexpr uint64_t kRetryOnGrowth = uint64_t{1} << 20;

}  // namespace

bool is_out_of_space(const Error& error) {
  // Error keeps no errno; errno_error() spells it with strerror(), whose text for these two is
  // fixed in glibc.
  const std::string& m = error.message();
  for (int e : {ENOSPC, EDQUOT}) {
    const char* text = std::strerror(e);  // NOLINT(concurrency-mt-unsafe): static for known errnos
    if (m.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

FinishQueue::FinishQueue(const ReceiverOptions& o)
    : FinishQueue(
          o.server,
          o.algorithm != compress::Algorithm::kNone || o.encryption != crypto::AesMode::kNone,
          // One finisher for the worker thread's life: its buffers and compressor context are
          // reused. Created on first use, on that thread.
          [&o, finisher = std::shared_ptr<SegmentFinisher>()](const std::string& dir,
                                                              const std::string& name) mutable {
            if (!finisher) {
              finisher = std::make_shared<SegmentFinisher>(o.algorithm, o.level, o.encryption,
                                                           o.key.get());
            }
            return finisher->finish(dir, name);
          },
          [](const std::string& dir) -> std::optional<uint64_t> {
            auto space = io::filesystem_space(dir);
            return space ? std::optional<uint64_t>(space->free) : std::nullopt;
          },
          Timing{}) {}

FinishQueue::FinishQueue(std::string server, bool needed, FinishFn finish, SpaceFn space,
                         Timing timing)
    : server_(std::move(server)),
      needed_(needed),
      finish_(std::move(finish)),
      space_(std::move(space)),
      timing_(timing),
      retry_delay_(timing.min_retry) {}

void FinishQueue::push(std::string dir, std::string name) {
  if (!needed_) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { loop(); });
    }
    Job job(std::move(dir), std::move(name));
    // A new segment is the next pass for those that failed (they are older: tried first).
    requeue_failed(true);
    if (current_ != job) {
      ready_.insert(std::move(job));
    }
  }
  cv_.notify_one();
}

void FinishQueue::retry_now() {
  {
    std::lock_guard lock(mutex_);
    requeue_failed(true);
  }
  cv_.notify_one();
}

FinishBacklog FinishQueue::backlog() const {
  std::lock_guard lock(mutex_);
  FinishBacklog b;
  b.failed = failed_.size();
  for (const auto& [job, failure] : failed_) {
    b.out_of_space += failure.out_of_space ? 1 : 0;
  }
  b.waiting = waiting_locked();
  return b;
}

size_t FinishQueue::waiting_locked() const {
  // A failed job may also be ready (requeued) or at hand: each counts once.
  size_t n = ready_.size();
  for (const auto& [job, failure] : failed_) {
    n += ready_.count(job) == 0 ? 1 : 0;
  }
  if (current_ && failed_.count(*current_) == 0 && ready_.count(*current_) == 0) {
    ++n;
  }
  return n;
}

void FinishQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void FinishQueue::requeue_failed(bool all) {
  std::map<std::string, std::optional<uint64_t>> free_now;  // one statvfs per directory
  for (auto it = failed_.begin(); it != failed_.end();) {
    bool again = all;
    if (!again && it->second.out_of_space) {
      const std::string& dir = it->first.first;
      auto known = free_now.find(dir);
      if (known == free_now.end()) {
        known = free_now.emplace(dir, space_ ? space_(dir) : std::nullopt).first;
      }
      again = known->second && it->second.free_then &&
              *known->second >= *it->second.free_then + kRetryOnGrowth;
    }
    if (again) {
      ready_.insert(it->first);  // it stays in failed_ (with its message) until the outcome
    }
    ++it;
  }
}

void FinishQueue::record(const Job& job, const Result<std::string>& done) {
  const auto& [dir, name] = job;
  auto previous = failed_.find(job);
  if (done || done.error().code() == ErrorCode::kNotFound) {
    if (!done) {
      // Pruned meanwhile, or a stored form appeared and the plain file is gone.
      log::debug("wal {}: {}/{} is gone: {}", server_, dir, name, done.error().message());
    } else if (previous != failed_.end()) {
      log::info("wal {}: stored {}/{} after an earlier failure", server_, dir, *done);
    } else {
      log::debug("wal {}: stored {}/{}", server_, dir, *done);
    }
    if (previous != failed_.end()) {
      failed_.erase(previous);
    }
    if (done) {
      retry_delay_ = timing_.min_retry;
    }
    return;
  }
  const std::string& message = done.error().message();
  Failure f{message, is_out_of_space(done.error()), space_ ? space_(dir) : std::nullopt};
  if (previous == failed_.end() || previous->second.message != message) {
    log::warn(
        "wal {}: cannot compress/encrypt {}/{}: {}; the plain segment is kept and tried "
        "again",
        server_, dir, name, message);
  } else {
    log::debug("wal {}: still cannot compress/encrypt {}/{}: {}", server_, dir, name, message);
  }
  failed_[job] = std::move(f);
}

void FinishQueue::loop() {
  using Clock = std::chrono::steady_clock;
  std::unique_lock lock(mutex_);
  for (;;) {
    if (stopping_) {
      if (size_t left = waiting_locked(); left > 0) {
        log::info("wal {}: {} segment(s) left plain; they are finished at the next start", server_,
                  left);
      }
      return;
    }
    if (!ready_.empty()) {
      Job job = *ready_.begin();
      ready_.erase(ready_.begin());
      current_ = job;
      lock.unlock();
      auto done = finish_(job.first, job.second);
      lock.lock();
      current_.reset();
      record(job, done);
      if (!done && next_retry_ <= Clock::now()) {
        // The first failure since the last back-off was scheduled (or since a success).
        next_retry_ = Clock::now() + retry_delay_;
        retry_delay_ = std::min(retry_delay_ * 2, timing_.max_retry);
      }
      continue;
    }
    if (failed_.empty()) {
      cv_.wait(lock, [this] { return stopping_ || !ready_.empty(); });
      continue;
    }
    auto wait = std::min<Clock::duration>(timing_.poll, next_retry_ - Clock::now());
    if (wait > Clock::duration::zero()) {
      cv_.wait_for(lock, wait, [this] { return stopping_ || !ready_.empty(); });
    }
    if (stopping_ || !ready_.empty()) {
      continue;
    }
    bool due = Clock::now() >= next_retry_;
    if (due) {
      next_retry_ = Clock::now() + retry_delay_;
      retry_delay_ = std::min(retry_delay_ * 2, timing_.max_retry);
    }
    requeue_failed(due);
  }
}

}  // namespace pgm::wal
