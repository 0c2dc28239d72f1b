// WAL continuity and RPO of each server (docs/monitoring.md, "WAL continuity and RPO").
//
// check_continuity() runs in the probe child after the probe (it blocks on disk): it lists the
// server's wal/ directory, finds the first segment missing between the oldest valid backup's
// first segment and the newest stored one, decodes once each complete segment it has not
// decoded yet (CRC and prev-link of every record; a bad one is a gap too) and the newest
// .partial, and publishes the result and the newest commit time in shared memory. A new gap
// is logged once at ERROR, its end at INFO. What was decoded is remembered in shared memory
// (ServerState::wal_checked_below), so a segment is decoded once per daemon run.
//
// rpo_seconds() is the pure function status and metrics apply to what was published.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "pgm/daemon/context.h"
#include "pgm/daemon/shared_state.h"
#include "pgm/wal/segment.h"

namespace pgm::daemon {

void check_continuity(const DaemonContext& ctx, size_t index);

// The oldest valid backup's first WAL segment; nullopt when there is no valid backup (or its
// backup.info names no WAL). Reads the server's backup directory.
std::optional<wal::SegmentId> oldest_backup_start(const config::Config& c,
                                                  const config::ServerConfig& s, uint64_t seg_size);

// Seconds of committed work lost if the server vanished now:
//  * unknown (nullopt) before the first check, or when the server was never reached;
//  * 0 when the WAL stored durably here (`flushed_lsn`, live) reaches the server's flushed WAL
//    position seen by the last probe, or when the server's last commit (known with
//    track_commit_timestamp = on) is no newer than the newest commit stored here;
//  * otherwise now - the newest commit time stored here, or now - the time of the probe before
//    the last one when the WAL stored here reaches what the server had flushed then (the
//    unstored WAL, and any commit in it, is younger than that probe: an idle server whose
//    last commit is old shows no large RPO for the few seconds its newest WAL is in flight);
//    unknown when neither is known.
std::optional<int64_t> rpo_seconds(const ContinuitySnapshot& c, uint64_t flushed_lsn,
                                   int64_t now_unix_us);

// The wall clock in microseconds since the Unix epoch (what rpo_seconds() compares with).
int64_t unix_micros_now();

}  // namespace pgm::daemon
