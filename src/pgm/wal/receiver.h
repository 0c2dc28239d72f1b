// The WAL receiver: streams one server's WAL over a libpq replication connection into a wal/
// directory (and optionally a WAL-shipping directory), the way pg_receivewal does, and keeps
// doing so across server restarts, terminated walsenders, network cuts and full disks.
//
// run_receiver() blocks in the calling thread until `stop` becomes true. Per session it:
//   1. connects with replication=true (same auth and TLS as any other libpq connection) and
//      runs IDENTIFY_SYSTEM;
//   2. checks the replication slot (it must exist and be physical; with create_slot it is
//      created with RESERVE_WAL);
//   3. picks the start: newest local segment (a .partial wins), else READ_REPLICATION_SLOT,
//      else IDENTIFY_SYSTEM's position - always the start of that segment;
//   4. fetches missing <tli>.history files with TIMELINE_HISTORY;
//   5. runs START_REPLICATION SLOT <slot> PHYSICAL X/X TIMELINE n and writes XLogData through
//      SegmentWriter; on end-of-timeline it follows the next timeline.
// Feedback (Standby Status Update) reports write = received and flush = fsynced only. It is
// sent when the server asks, every status_interval, and - with `sync` - after every batch of
// messages, which is then fsynced first, so the server may treat us as a synchronous standby.
// Completed segments are compressed/encrypted by a background thread (finish_segment), which
// also finishes any plain segments left by an earlier run; one that fails (a full disk) stays
// plain and is tried again (finish_queue_internal.h).
// A failed session is reported once per distinct error and retried after a growing, bounded
// back-off; every session restarts from what is durable on disk, so there is no gap and no
// duplicate. When the disk is full, or too little space is left for the next segment, streaming
// pauses (the connection is closed; the slot keeps the WAL on the server) until there is room
// again, so the receiver's own files stay bounded (space_guard_internal.h); the pause and the
// recovery are logged once each.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/pg/connection.h"
#include "pgm/wal/lsn.h"

namespace pgm::wal {

struct ReceiverOptions {
  std::string server;         // name, for log lines
  pg::ConnectParams connect;  // host/port/user/password/TLS; replication is set by the receiver
  std::string slot;           // physical replication slot; also the application_name
  bool create_slot = false;   // create the slot when missing
  std::string wal_dir;        // created when missing
  std::string shipping_dir;   // second copy of every byte; "" = none
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  int level = 3;
  crypto::AesMode encryption = crypto::AesMode::kNone;
  std::shared_ptr<const crypto::MasterKey> key;  // required when encryption is not none
  bool sync = false;                             // fsync + feedback after every batch
  std::chrono::milliseconds status_interval{std::chrono::seconds(10)};
  std::chrono::milliseconds min_backoff{std::chrono::seconds(1)};
  std::chrono::milliseconds max_backoff{std::chrono::seconds(30)};
};

struct ReceiverProgress {
  bool streaming = false;
  TimelineId tli;
  Lsn received;              // end of the bytes written
  Lsn flushed;               // end of the bytes fsynced
  Lsn server_end;            // the server's end of WAL, from its last message
  std::string current_file;  // the open .partial's name, "" when none
  size_t unfinished = 0;     // complete segments still plain, waiting to be compressed/encrypted
};

// Callbacks from the receiving thread (the daemon maps them onto shared memory).
class ReceiverObserver {
 public:
  virtual ~ReceiverObserver() = default;
  // After every batch of messages and every state change; must be cheap.
  virtual void on_progress(const ReceiverProgress& /*progress*/) {}
  // A session failed (or recovered: `message` empty). `invalid` marks configuration problems
  // an operator must fix (slot missing or not physical).
  virtual void on_error(const std::string& /*message*/, bool /*invalid*/) {}
};

// Runs until `stop` is true (checked at least every 200 ms; a signal interrupting poll makes
// it prompt). Returns an error only for invalid options (bad slot name, encryption without a
// key, unusable wal_dir); everything else is retried.
Result<void> run_receiver(const ReceiverOptions& options, ReceiverObserver& observer,
                          const std::atomic<bool>& stop);

// Slot names PostgreSQL accepts: 1-63 of [a-z0-9_].
bool is_valid_slot_name(std::string_view name);

}  // namespace pgm::wal
