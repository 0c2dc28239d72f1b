#include "pgm/daemon/shared_state.h"

#include <cerrno>
#include <cstring>
#include <new>
#include <type_traits>

#include <sys/mman.h>

namespace pgm::daemon {

static_assert(std::is_trivially_destructible_v<SharedState>,
              "shared memory holds only trivially destructible state");
static_assert(std::atomic<pid_t>::is_always_lock_free, "cross-process atomics must be lock-free");
static_assert(std::atomic<uint64_t>::is_always_lock_free,
              "cross-process atomics must be lock-free");

void SharedState::release(pid_t pid) {
  for (ServerState& server : servers) {
    server.release(pid);
  }
}

void ServerState::lock_text() const {
  bool expected = false;
  while (!text_lock_.compare_exchange_weak(expected, true, std::memory_order_acquire)) {
    expected = false;
  }
}

void ServerState::unlock_text() const { text_lock_.store(false, std::memory_order_release); }

namespace {
template <size_t N>
void copy_text(char (&dst)[N], std::string_view src) {
  size_t n = std::min(src.size(), N - 1);
  std::memcpy(dst, src.data(), n);
  dst[n] = '\0';
}
}  // namespace

void ServerState::publish(const ServerSnapshot& s) {
  lock_text();
  probed_ = true;
  version_num_ = s.version_num;
  checksums_ = s.checksums;
  primary_ = s.primary;
  summarize_wal_ = s.summarize_wal;
  block_size_ = s.block_size;
  wal_segment_size_ = s.wal_segment_size;
  last_probe_epoch_ = s.last_probe_epoch;
  copy_text(wal_level_, s.wal_level);
  copy_text(reason_, s.reason);
  online_.store(s.online);
  unlock_text();
}

void ServerState::mark_offline(std::string_view reason) {
  lock_text();
  copy_text(reason_, reason);
  online_.store(false);
  unlock_text();
}

ServerSnapshot ServerState::snapshot() const {
  ServerSnapshot s;
  lock_text();
  s.probed = probed_;
  s.version_num = version_num_;
  s.major_version = version_num_ / 10000;
  s.minor_version = version_num_ % 10000;
  s.checksums = checksums_;
  s.primary = primary_;
  s.summarize_wal = summarize_wal_;
  s.block_size = block_size_;
  s.wal_segment_size = wal_segment_size_;
  s.last_probe_epoch = last_probe_epoch_;
  s.wal_level = wal_level_;
  s.reason = reason_;
  s.online = online_.load();
  unlock_text();
  s.admin_offline = admin_offline_.load();
  return s;
}

void ServerState::set_wal_file(std::string_view name) {
  lock_text();
  copy_text(wal_file_, name);
  unlock_text();
}

void ServerState::set_wal_error(std::string_view message) {
  lock_text();
  copy_text(wal_error_, message);
  unlock_text();
}

void ServerState::set_wal_gap(std::string_view first_missing, std::string_view problem) {
  lock_text();
  copy_text(gap_segment_, first_missing);
  copy_text(gap_problem_, problem);
  unlock_text();
  wal_gap.store(!first_missing.empty());
}

void ServerState::set_wal_bad(std::string_view segment, std::string_view problem) {
  lock_text();
  copy_text(bad_segment_, segment);
  copy_text(bad_problem_, problem);
  unlock_text();
}

std::pair<std::string, std::string> ServerState::wal_bad() const {
  lock_text();
  std::pair<std::string, std::string> out{bad_segment_, bad_problem_};
  unlock_text();
  return out;
}

ContinuitySnapshot ServerState::continuity_snapshot() const {
  ContinuitySnapshot c;
  c.checked_epoch = wal_checked_epoch.load();
  c.stored_commit_us = wal_stored_commit_us.load();
  c.server_commit_us = server_commit_us.load();
  c.server_lsn = server_lsn.load();
  c.prev_server_lsn = prev_server_lsn.load();
  c.prev_server_lsn_us = prev_server_lsn_us.load();
  lock_text();
  c.first_missing = gap_segment_;
  c.problem = gap_problem_;
  unlock_text();
  c.gap = !c.first_missing.empty();
  return c;
}

WalSnapshot ServerState::wal_snapshot() const {
  WalSnapshot w;
  w.pid = wal_pid.load();
  w.streaming = wal_streaming.load();
  w.invalid = wal_invalid.load();
  w.timeline = wal_timeline.load();
  w.received = wal_received.load();
  w.flushed = wal_flushed.load();
  w.server_end = wal_server_end.load();
  w.unfinished = wal_unfinished.load();
  lock_text();
  w.current_file = wal_file_;
  w.last_error = wal_error_;
  unlock_text();
  return w;
}

Result<SharedSegment> SharedSegment::create() {
  void* p = ::mmap(nullptr, sizeof(SharedState), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
  if (p == MAP_FAILED) {  // NOLINT(performance-no-int-to-ptr): MAP_FAILED is the API
    return make_errno_error("mmap shared memory", errno);
  }
  return SharedSegment(new (p) SharedState());
}

SharedSegment::SharedSegment(SharedSegment&& other) noexcept : state_(other.state_) {
  other.state_ = nullptr;
}

SharedSegment::~SharedSegment() {
  if (state_ != nullptr) {
    ::munmap(state_, sizeof(SharedState));
  }
}

}  // namespace pgm::daemon
