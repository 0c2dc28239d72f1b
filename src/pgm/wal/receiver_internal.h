// Receiver (module-private): the state and steps of run_receiver() (receiver.h). receiver.cc
// holds the libpq session and the streaming loop; receiver_state.cc the receiver's files at
// start-up (leftovers, the shipping copy), the pauses for disk space and the reporting of
// failures and recoveries. One Receiver runs on one thread; its FinishQueue has a thread of
// its own.
#pragma once

#include <atomic>
#include <chrono>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/pg/connection.h"
#include "pgm/wal/finish_queue_internal.h"
#include "pgm/wal/receiver.h"
#include "pgm/wal/segment_writer.h"
#include "pgm/wal/space_guard_internal.h"

// libpq's connection type, as libpq-fe.h declares it (the header stays in receiver.cc).
typedef struct pg_conn PGconn;  // NOLINT(modernize-use-using): must match libpq's declaration

namespace pgm::wal {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// Longest wait in poll(): bounds how late a stop request is noticed without a signal.
constexpr milliseconds kPollSlice{200};
// Silence after which we ask the server for a keepalive, and after which (counted from that
// request) the connection is declared dead: covers network cuts that leave no RST.
constexpr milliseconds kQuietBeforePing{30000};
constexpr milliseconds kQuietBeforeDead{60000};
// A failing receiver reports at WARN; after this long without a working session, ERROR once.
constexpr std::chrono::minutes kEscalateAfter{5};
// A session is reported working again once it has written WAL, or has run this long.
constexpr milliseconds kWorkingAfter{1000};
// While paused for a full disk, free space is looked at this often.
constexpr milliseconds kSpacePoll{1000};

// Why a session ended.
struct SessionEnd {
  bool stopped = false;   // stop requested
  bool paused = false;    // ended to wait for disk space (SpaceGuard)
  bool streamed = false;  // received WAL before ending
};

struct Failure {
  Error error;
  bool invalid = false;
  bool streamed = false;
};

class Receiver {
 public:
  Receiver(const ReceiverOptions& o, ReceiverObserver& obs, const std::atomic<bool>& stop)
      : o_(o), observer_(obs), stop_(stop), finisher_(o), space_(directories(o), finished_as(o)) {}

  Result<void> run();

 private:
  tl::expected<SessionEnd, Failure> session();
  Result<void> prepare_directories();
  void queue_leftovers(const std::string& dir);
  Result<void> repair_shipping(const ResumePoint& resume);
  Result<void> fetch_history(pg::Connection& conn, TimelineId tli);
  Result<std::optional<ResumePoint>> read_slot(pg::Connection& conn, bool* invalid);
  Result<void> create_slot(pg::Connection& conn);

  // Streams one timeline. Returns the next timeline's start on end-of-timeline, nullopt when
  // stopped.
  struct NextTimeline {
    TimelineId tli;
    Lsn start;
  };
  Result<std::optional<NextTimeline>> stream(pg::Connection& conn, bool* streamed);
  Result<void> send_feedback(PGconn* conn, bool reply_requested);
  Result<void> flush_writers();
  Result<void> write(Lsn start, std::span<const uint8_t> data);
  Lsn flushed() const;
  void publish(bool streaming);
  void sleep_backoff(milliseconds delay);
  Result<void> segment_completed(const std::string& dir, const std::string& name);
  bool wait_for_space(const std::string& dir, milliseconds min_wait);
  void working_again();
  void escalate(const std::string& message);
  static std::vector<std::string> directories(const ReceiverOptions& o);
  static std::string finished_as(const ReceiverOptions& o);

  const ReceiverOptions& o_;
  ReceiverObserver& observer_;
  const std::atomic<bool>& stop_;
  FinishQueue finisher_;
  SpaceGuard space_;

  uint64_t seg_size_ = 0;
  std::optional<SegmentWriter> writer_;
  std::optional<SegmentWriter> shipper_;
  Lsn server_end_;
  Lsn last_reported_flush_;
  std::string last_error_;
  Clock::time_point failing_since_{};
  bool escalated_ = false;
  bool pause_ = false;             // a segment boundary found too little space: end the session
  std::string pause_dir_;          // the directory short of space
  bool paused_for_space_ = false;  // the pause was logged; the recovery is to be logged
  std::string recovery_line_;      // what to log then
};

}  // namespace pgm::wal
