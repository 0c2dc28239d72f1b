// SpaceGuard (module-private, used by the receiver): keeps the receiver's own footprint bounded
// when its disk fills up. Streaming pauses (the replication connection is closed; the slot on
// the server keeps the WAL, so nothing is lost) while
//   - a directory the receiver writes to has less free space than it needs for its next step:
//     one segment for the next .partial, plus one for the compressed form of the segment just
//     completed when segments are compressed or encrypted; or
//   - more than kMaxUnfinished complete segments are stored plain because compressing them
//     failed for lack of space; or
//   - a write failed with ENOSPC/EDQUOT.
// It resumes once every directory has the space it needs and no segment waits for space. The
// receiver logs the pause once and the recovery once, not every retry.
//
// Single-threaded (the receiver's thread); the probes it is given may be called from it only.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/finish_queue_internal.h"

namespace pgm::wal {

class SpaceGuard {
 public:
  static constexpr size_t kMaxUnfinished = 2;

  // Bytes available in a directory, nullopt when unknown (then it never pauses for it).
  using SpaceFn = std::function<std::optional<uint64_t>(const std::string& dir)>;
  using BacklogFn = std::function<FinishBacklog()>;

  // `dirs`: wal_dir, then the shipping dir if any. `finished_as`: what happens to segments
  // after completion, for the log line ("compressed", "encrypted", "compressed and
  // encrypted"), "" when they stay plain. An empty `space` uses statvfs.
  SpaceGuard(std::vector<std::string> dirs, std::string finished_as, SpaceFn space = {});

  // Known once a session has asked the server; 0 (the default) never pauses for space.
  void set_segment_size(uint64_t seg_size) { seg_size_ = seg_size; }
  // Free bytes a directory needs to go on.
  uint64_t needed() const { return seg_size_ * (finished_as_.empty() ? 1 : 2); }

  // At a segment boundary: why streaming must pause (the directory to name in the log line),
  // nullopt to go on.
  std::optional<std::string> check(const FinishBacklog& backlog) const;
  // After a session failed with an out-of-space error: the directory it names (the first of
  // `dirs` the message mentions, else the fullest one, else wal_dir).
  std::string directory_of(const Error& error) const;
  // True when streaming may start again.
  bool may_resume(const FinishBacklog& backlog) const;

  // "disk full in <dir>: 2 segments waiting to be compressed, streaming paused"
  std::string paused_message(const std::string& dir, const FinishBacklog& backlog) const;
  // "disk space available again in <dir> (1.2 GB free), streaming again"
  std::string resumed_message(const std::string& dir) const;

  // Blocks until may_resume() holds and at least `min_wait` has passed (so a full quota that
  // statvfs does not show cannot make a tight reconnect loop), or `stop`; checks every `poll`.
  // `on_poll` runs after every check with the backlog seen (to publish it). Returns false when
  // stopped.
  bool wait(const BacklogFn& backlog, const std::atomic<bool>& stop,
            std::chrono::milliseconds min_wait, std::chrono::milliseconds poll,
            const std::function<void(const FinishBacklog&)>& on_poll) const;

 private:
  std::optional<uint64_t> free_space(const std::string& dir) const;

  std::vector<std::string> dirs_;
  std::string finished_as_;
  SpaceFn space_;
  uint64_t seg_size_ = 0;
};

}  // namespace pgm::wal
