// The metrics process: a child of the main process that serves the `metrics` port with its own
// libev loop (http/server.h) until it is sent SIGTERM (default action: the child keeps no state
// worth saving). GET /metrics answers the Prometheus text (metrics/prometheus.h), GET / the
// status page (metrics/status_page.h), every other path 403, as pgmoneta does. The `console`
// listener, when open, is served from the same loop with the same TLS, cache and limits: GET /
// answers the web console (metrics/console_page.h), GET /metrics the Prometheus text, every
// other path 403.
//
// Answers are built from collect_metrics() (metrics_collect.h) and cached per path for
// metrics_cache_max_age when at most metrics_cache_max_size bytes; `clear prometheus` bumps
// SharedState::metrics_generation, which drops the cache. TLS when metrics_cert_file and
// metrics_key_file are set: a configured file that does not exist means plain HTTP with a
// warning (pgmoneta's rule); files that exist but do not load stop the service with an error
// (exit code 2) rather than serving in plain text what was meant to be encrypted.
//
// The main process restarts the child after a configuration change (it serves a copy-on-write
// snapshot of the configuration), and after a crash.
#pragma once

#include "pgm/core/unique_fd.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// Exit code of a metrics process whose TLS files do not load: not restarted until the
// configuration changes.
inline constexpr int kMetricsTlsFailed = 2;

// Serves `listener` and, when open, `console` (both already listening); returns the exit code.
int run_metrics_service(const DaemonContext& ctx, UniqueFd listener, UniqueFd console);

// One connection to the `nagios` port, in a child of its own: writes pgmoneta's passive-check
// line (metrics/nagios.h) from the metrics as /metrics has them, then closes. The metrics port
// need not be on (pgmoneta fetches its own /metrics; we collect directly). A client that does
// not read within 5 s is dropped. Returns the exit code.
int run_nagios_check(const DaemonContext& ctx, UniqueFd client);

}  // namespace pgm::daemon
