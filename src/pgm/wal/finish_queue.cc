#include "pgm/log/log.h"
#include "pgm/wal/finish_queue_internal.h"
#include "pgm/wal/segment_writer.h"

namespace pgm::wal {

bool FinishQueue::needed() const {
  return options_.algorithm != compress::Algorithm::kNone ||
         options_.encryption != crypto::AesMode::kNone;
}

void FinishQueue::push(std::string dir, std::string name) {
  if (!needed()) {
    return;
  }
  {
    std::lock_guard lock(mutex_);
    if (!thread_.joinable()) {
      thread_ = std::thread([this] { loop(); });
    }
    jobs_.emplace_back(std::move(dir), std::move(name));
  }
  cv_.notify_one();
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

void FinishQueue::loop() {
  // One finisher for the thread's life: its buffers and compressor context are reused.
  SegmentFinisher finisher(options_.algorithm, options_.level, options_.encryption,
                           options_.key.get());
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
    if (stopping_) {
      if (!jobs_.empty()) {
        log::info("wal {}: {} segment(s) left plain; they are finished at the next start",
                  options_.server, jobs_.size());
      }
      return;
    }
    auto [dir, name] = std::move(jobs_.front());
    jobs_.pop_front();
    lock.unlock();
    auto done = finisher.finish(dir, name);
    if (!done) {
      log::error("wal {}: cannot compress/encrypt {}/{}: {} (the plain segment is kept)",
                 options_.server, dir, name, done.error().message());
    } else {
      log::debug("wal {}: stored {}/{}", options_.server, dir, *done);
    }
    lock.lock();
  }
}

}  // namespace pgm::wal
