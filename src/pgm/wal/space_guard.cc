#include <thread>
#include <utility>

#include <fmt/format.h>

#include "pgm/io/file.h"
#include "pgm/wal/space_guard_internal.h"

namespace pgm::wal {
namespace {

std::string human_bytes(uint64_t bytes) {
  constexpr uint64_t kMiB = uint64_t{1} << 20;
  constexpr uint64_t kGiB = uint64_t{1} << 30;
  if (bytes >= kGiB) {
    return fmt::format("{:.1f} GB", static_cast<double>(bytes) / static_cast<double>(kGiB));
  }
  return fmt::format("{} MB", bytes / kMiB);
}

}  // namespace

SpaceGuard::SpaceGuard(std::vector<std::string> dirs, std::string finished_as, SpaceFn space)
    : dirs_(std::move(dirs)), finished_as_(std::move(finished_as)), space_(std::move(space)) {}

std::optional<uint64_t> SpaceGuard::free_space(const std::string& dir) const {
  if (space_) {
    return space_(dir);
  }
  auto s = io::filesystem_space(dir);
  return s ? std::optional<uint64_t>(s->free) : std::nullopt;
}

std::optional<std::string> SpaceGuard::check(const FinishBacklog& backlog) const {
  if (seg_size_ == 0) {
    return std::nullopt;
  }
  for (const std::string& dir : dirs_) {
    auto free = free_space(dir);
    if (free && *free < needed()) {
      return dir;
    }
  }
  if (backlog.out_of_space > kMaxUnfinished) {
    return dirs_.front();
  }
  return std::nullopt;
}

std::string SpaceGuard::directory_of(const Error& error) const {
  for (const std::string& dir : dirs_) {
    if (error.message().find(dir + "/") != std::string::npos) {
      return dir;
    }
  }
  std::string fullest = dirs_.front();
  std::optional<uint64_t> least;
  for (const std::string& dir : dirs_) {
    auto free = free_space(dir);
    if (free && (!least || *free < *least)) {
      least = free;
      fullest = dir;
    }
  }
  return fullest;
}

bool SpaceGuard::may_resume(const FinishBacklog& backlog) const {
  if (backlog.out_of_space > 0) {
    return false;  // the finisher retries them as space grows; their room comes first
  }
  for (const std::string& dir : dirs_) {
    auto free = free_space(dir);
    if (free && *free < needed()) {
      return false;
    }
  }
  return true;
}

std::string SpaceGuard::paused_message(const std::string& dir, const FinishBacklog& backlog) const {
  auto free = free_space(dir);
  std::string state = free ? fmt::format(" ({} free)", human_bytes(*free)) : std::string();
  if (finished_as_.empty()) {
    return fmt::format("disk full in {}{}: streaming paused", dir, state);
  }
  return fmt::format("disk full in {}{}: {} segment{} waiting to be {}, streaming paused", dir,
                     state, backlog.waiting, backlog.waiting == 1 ? "" : "s", finished_as_);
}

std::string SpaceGuard::resumed_message(const std::string& dir) const {
  auto free = free_space(dir);
  std::string state = free ? fmt::format(" ({} free)", human_bytes(*free)) : std::string();
  return fmt::format("disk space available again in {}{}, streaming again", dir, state);
}

bool SpaceGuard::wait(const BacklogFn& backlog, const std::atomic<bool>& stop,
                      std::chrono::milliseconds min_wait, std::chrono::milliseconds poll,
                      const std::function<void(const FinishBacklog&)>& on_poll) const {
  using Clock = std::chrono::steady_clock;
  auto earliest = Clock::now() + min_wait;
  for (;;) {
    auto next = Clock::now() + poll;
    while (!stop.load() && Clock::now() < next) {
      // Short naps: a stop request is seen within 100 ms.
      std::this_thread::sleep_for(
          std::min<Clock::duration>(std::chrono::milliseconds(100), next - Clock::now()));
    }
    if (stop.load()) {
      return false;
    }
    FinishBacklog b = backlog();
    if (on_poll) {
      on_poll(b);
    }
    if (Clock::now() >= earliest && may_resume(b)) {
      return true;
    }
  }
}

}  // namespace pgm::wal
