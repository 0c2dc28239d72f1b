// Collects the daemon's MetricsSnapshot (metrics/snapshot.h) for /metrics and the status
// page: the configuration, the shared segment's live state and each server's repository on
// disk (the backup.info of every backup, the sizes of the stored WAL, statvfs of base_dir and
// the workspaces). Never hashes or walks backup data, so a scrape stays cheap.
//
// Runs in any process holding a DaemonContext (typically the forked metrics child). Reads the
// shared segment without locks (atomics and its snapshot() copies) and never modifies it. A
// backup directory deleted while it is being read is skipped, not reported as invalid.
#pragma once

#include "pgm/daemon/context.h"
#include "pgm/metrics/counters.h"
#include "pgm/metrics/snapshot.h"

namespace pgm::daemon {

// `counters` (may be null: scrapes 0, never reset) supplies the endpoint's own counters; the
// caller counts the scrape (counters->count_scrape()) itself. ctx.config must be set; with
// ctx.shared null only configuration and repository facts are filled in.
metrics::MetricsSnapshot collect_metrics(const DaemonContext& ctx,
                                         const metrics::MetricsCounters* counters = nullptr);

}  // namespace pgm::daemon
