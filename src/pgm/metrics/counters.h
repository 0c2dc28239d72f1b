// MetricsCounters: the endpoint's own counters, and what `clear prometheus` (the management
// `reset` command) resets. Trivially destructible with a fixed size and lock-free atomics, so
// the daemon may place it in its shared segment and update it from any process or thread.
//
// `clear prometheus` resets:
//   * these counters (scrapes) and stamps reset_epoch;
//   * the per-server operation counters kept by the daemon (ServerState::operation_count and
//     failed_operation_count), i.e. pgmoneta_operations_total and
//     pgmoneta_failed_operations_total; the daemon resets those itself.
// Everything else is a gauge read from the live state or the repository (backups, WAL, space,
// progress, proven restore) and is unaffected. Prometheus' rate() treats the drop of a
// counter to 0 as a counter reset, so clearing does not produce negative rates.
#pragma once

#include <atomic>
#include <cstdint>

namespace pgm::metrics {

struct MetricsCounters {
  std::atomic<uint64_t> scrapes{0};     // /metrics responses built
  std::atomic<int64_t> reset_epoch{0};  // last `clear prometheus`, seconds; 0 = never

  void count_scrape() { scrapes.fetch_add(1, std::memory_order_relaxed); }
  void reset(int64_t now_epoch) {
    scrapes.store(0, std::memory_order_relaxed);
    reset_epoch.store(now_epoch, std::memory_order_relaxed);
  }
};

}  // namespace pgm::metrics
