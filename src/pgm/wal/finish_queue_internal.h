// FinishQueue (module-private, used by the receiver): compresses/encrypts completed segments
// on a thread of its own, so the stream never waits for bzip2 or gzip. push() and stop() may
// be called from one thread at a time; the worker thread starts with the first job.
//
// Stopping finishes only the job at hand: a backlog (bzip2 under load) must not hold a
// shutdown past the daemon's grace period; what is left stays plain and complete and is
// finished at the next start. Jobs are (directory, segment name); a failed job leaves the
// plain, complete segment in place (it is finished again at the next receiver start).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <utility>

#include "pgm/wal/receiver.h"

namespace pgm::wal {

class FinishQueue {
 public:
  // `o` must outlive the queue.
  explicit FinishQueue(const ReceiverOptions& o) : options_(o) {}
  FinishQueue(const FinishQueue&) = delete;
  FinishQueue& operator=(const FinishQueue&) = delete;
  ~FinishQueue() { stop(); }

  // True when the options ask for compression or encryption (else push() does nothing).
  bool needed() const;
  void push(std::string dir, std::string name);
  // Waits for the job at hand; the rest are dropped (and logged).
  void stop();

 private:
  void loop();

  const ReceiverOptions& options_;
  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::pair<std::string, std::string>> jobs_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pgm::wal
