// FinishQueue (module-private, used by the receiver): compresses/encrypts completed segments
// on a thread of its own, so the stream never waits for bzip2 or gzip. push(), retry_now() and
// stop() may be called from one thread at a time; backlog() from any thread. The worker thread
// starts with the first job.
//
// Jobs are (directory, segment name), taken oldest name first; one pushed twice is queued once.
// A failed job leaves the plain, complete segment in place (finish_segment never removes it
// before the stored form is durable) and stays in the queue: it is tried again
//   - on the next push (the next segment completing),
//   - when the free space of its directory has grown by 1 MiB since it last failed (checked
//     every `poll`),
//   - after a back-off (`min_retry`, doubling up to `max_retry`, reset by a success),
//   - when retry_now() is called,
// and, if the receiver stops first, at the next receiver start. A segment that vanished
// meanwhile (pruned, or finished by an earlier attempt) is dropped quietly. The first failure
// of a segment is logged at WARN, repeats of the same error at DEBUG, the recovery at INFO.
//
// Stopping finishes only the job at hand: a backlog (bzip2 under load) must not hold a
// shutdown past the daemon's grace period; what is left stays plain and complete and is
// finished at the next start.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <utility>

#include "pgm/wal/receiver.h"

namespace pgm::wal {

// True for an error caused by a full file system or an exhausted quota (ENOSPC, EDQUOT): the
// same action succeeds once space is freed.
bool is_out_of_space(const Error& error);

// What the queue holds now (a consistent snapshot).
struct FinishBacklog {
  size_t waiting = 0;       // segments still plain: queued, in progress or failed
  size_t failed = 0;        // of those, segments whose last attempt failed
  size_t out_of_space = 0;  // of those, failed for lack of space
};

class FinishQueue {
 public:
  // Finishes one segment: returns the stored file name. Runs on the worker thread.
  using FinishFn =
      std::function<Result<std::string>(const std::string& dir, const std::string& name)>;
  // Bytes available in `dir`, nullopt when unknown.
  using SpaceFn = std::function<std::optional<uint64_t>(const std::string& dir)>;

  struct Timing {
    std::chrono::milliseconds poll{1000};
    std::chrono::milliseconds min_retry{1000};
    std::chrono::milliseconds max_retry{60000};
  };

  // Finishes with a SegmentFinisher built from `o`, which must outlive the queue.
  explicit FinishQueue(const ReceiverOptions& o);
  // For tests: `needed` says whether there is anything to do at all; `finish` and `space`
  // replace the finisher and statvfs.
  FinishQueue(std::string server, bool needed, FinishFn finish, SpaceFn space, Timing timing);
  FinishQueue(const FinishQueue&) = delete;
  FinishQueue& operator=(const FinishQueue&) = delete;
  ~FinishQueue() { stop(); }

  // True when the options ask for compression or encryption (else push() does nothing).
  bool needed() const { return needed_; }
  void push(std::string dir, std::string name);
  // Failed jobs are tried again now.
  void retry_now();
  FinishBacklog backlog() const;
  // Waits for the job at hand; the rest are dropped (and logged).
  void stop();

 private:
  using Job = std::pair<std::string, std::string>;  // directory, segment name
  struct Failure {
    std::string message;
    bool out_of_space = false;
    std::optional<uint64_t> free_then;  // free space of the directory when it failed
  };

  void loop();
  // With the lock held: moves failed jobs back to the ready set (all, or those whose
  // directory has more free space than when they failed).
  void requeue_failed(bool all);
  void record(const Job& job, const Result<std::string>& done);
  size_t waiting_locked() const;

  const std::string server_;
  const bool needed_;
  FinishFn finish_;
  SpaceFn space_;
  const Timing timing_;

  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::set<Job> ready_;
  std::map<Job, Failure> failed_;
  std::optional<Job> current_;
  std::chrono::steady_clock::time_point next_retry_{};
  std::chrono::milliseconds retry_delay_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgm::wal
