#include "pgm/activity/repository_state.h"

#include <unistd.h>

#include <chrono>

namespace pgm::activity {

namespace {

uint32_t bit(Activity a) { return 1u << static_cast<unsigned>(a); }

}  // namespace

int64_t wall_clock_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool RepositoryState::try_lock_repository(pid_t owner) {
  pid_t expected = 0;
  return repository_owner_.compare_exchange_strong(expected, owner);
}

void RepositoryState::unlock_repository(pid_t owner) {
  pid_t expected = owner;
  repository_owner_.compare_exchange_strong(expected, 0);
}

bool RepositoryState::active(Activity a) const { return (flags_.load() & bit(a)) != 0; }

Progress RepositoryState::progress() const {
  Progress p;
  p.operation = operation_of(operation_.load());
  p.phase = phase_of(phase_.load());
  p.done = done_.load();
  p.total = total_.load();
  p.started_ms = started_ms_.load();
  return p;
}

void RepositoryState::release(pid_t pid) {
  if (pid > 0 && activity_owner_.load() == pid) {
    flags_.store(0);
    phase_.store(0);
    operation_.store(0);
    pid_t expected = pid;
    activity_owner_.compare_exchange_strong(expected, 0);
  }
  unlock_repository(pid);
}

ActivityGuard::ActivityGuard(RepositoryState& state, Activity flag) : state_(state), flag_(flag) {
  mark_owner();
  state_.flags_.fetch_or(bit(flag));
}

ActivityGuard::ActivityGuard(RepositoryState& state, Operation operation, Phase phase,
                             std::optional<Activity> flag, uint64_t total)
    : state_(state), flag_(flag), progress_(true) {
  mark_owner();
  if (flag_) {
    state_.flags_.fetch_or(bit(*flag_));
  }
  state_.operation_.store(static_cast<int>(operation));
  state_.done_.store(0);
  state_.total_.store(total);
  state_.started_ms_.store(wall_clock_ms());
  state_.phase_.store(static_cast<int>(phase));
}

ActivityGuard::~ActivityGuard() {
  drop_flag();
  if (progress_) {
    state_.phase_.store(0);
    state_.operation_.store(0);
  }
  // The last mark of this process gone: nothing is owned any more.
  if (state_.flags_.load() == 0 && state_.phase_.load() == 0) {
    pid_t expected = ::getpid();
    state_.activity_owner_.compare_exchange_strong(expected, 0);
  }
}

void ActivityGuard::mark_owner() { state_.activity_owner_.store(::getpid()); }

void ActivityGuard::set_phase(Phase phase) { state_.phase_.store(static_cast<int>(phase)); }

void ActivityGuard::set_progress(uint64_t done, uint64_t total) {
  state_.done_.store(done);
  state_.total_.store(total);
}

void ActivityGuard::drop_flag() {
  if (flag_) {
    state_.flags_.fetch_and(~bit(*flag_));
    flag_.reset();
  }
}

RepositoryLock::RepositoryLock(RepositoryState& state) : state_(state) {
  locked_ = state_.try_lock_repository(::getpid());
}

RepositoryLock::~RepositoryLock() {
  if (locked_) {
    state_.unlock_repository(::getpid());
  }
}

}  // namespace pgm::activity
