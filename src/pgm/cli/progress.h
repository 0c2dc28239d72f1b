// pgmoneta-cli progress: the live bar drawn on stderr while a long command (backup) waits for
// its answer, and the text output of the `progress` command. Rendering and the decisions are
// pure functions; ProgressPoller runs one background thread that polls the daemon over its own
// connection and is stopped (and joined) by its owner before anything else writes to stderr.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include <nlohmann/json.hpp>

#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/management/protocol.h"

namespace pgm::cli {

// The bar is drawn only on a terminal and unless --no-progress was given (any -F: it goes to
// stderr, the answer to stdout).
bool should_show_progress(bool stderr_is_tty, bool no_progress_flag);

// The progress "Command" to poll while `command` runs: "backup" for backup; nullopt for
// commands without progress reporting.
std::optional<std::string> progress_operation(management::Command command);

// One decoded progress Response. nullopt from parse_progress() when Outcome.Status is not true
// or the Response lacks ProgressState.
struct ProgressSample {
  std::string state;  // idle | starting | streaming | finishing
  uint64_t done = 0;
  uint64_t total = 0;               // 0 = unknown
  std::optional<int> percentage;    // 0-100 as sent
  std::optional<double> elapsed;    // seconds
  std::optional<double> remaining;  // seconds; nullopt when the daemon sent -1
  std::string server;
  std::string operation;
  bool tracking = true;  // false: the daemon has progress = off (Tracking false)
};
std::optional<ProgressSample> parse_progress(const nlohmann::json& response_doc);

// 1024-based sizes with one decimal: 512 -> "512 B", 335544320 -> "320.0 MiB".
std::string format_bytes(double bytes);
// "m:ss" or "h:mm:ss": 4 -> "0:04", 3723 -> "1:02:03"; negative or non-finite -> "--:--".
std::string format_duration(double seconds);

// One bar line, at most width - 1 columns (never the last column, to avoid wrapping):
//   "[#########.........]  45%  320.0 MiB / 710.0 MiB  95.3 MiB/s  ETA 0:04"
// The bar takes the room left beside a 53-column tail, so its length stays put between polls
// (at most 40 cells; narrower terminals: beside the actual tail; omitted below 10). total 0: only
// "320.0 MiB  95.3 MiB/s". Unknown rate or eta parts are left out. No "\r", no escapes.
std::string render_bar(int width, uint64_t done, uint64_t total, std::optional<double> rate,
                       std::optional<double> eta);

// ETA: the daemon's Remaining when known, else (total - done) / rate when both are known.
std::optional<double> estimate_eta(const ProgressSample& sample, std::optional<double> rate);

// Exponentially smoothed bytes/s from (time, done) samples. A sample whose done is below the
// previous one (a new operation) restarts the estimate. Not thread-safe.
class RateSmoother {
 public:
  explicit RateSmoother(double alpha = 0.3) : alpha_(alpha) {}
  void add(std::chrono::steady_clock::duration at, uint64_t done);
  // nullopt until two samples with time between them.
  std::optional<double> rate() const { return rate_; }

 private:
  double alpha_;
  std::optional<std::chrono::steady_clock::duration> last_at_;
  uint64_t last_done_ = 0;
  std::optional<double> rate_;
};

// Text output of `pgmoneta-cli progress`: "Key: value" lines (Server, Operation, State, and
// when not idle Progress bar, Done, Total, Rate-free Elapsed/Remaining). Ends with a newline.
std::string render_progress_text(const ProgressSample& sample);

// Columns of the terminal on fd; 80 when unknown.
int terminal_columns(int fd);

// Polls the daemon every `interval` and writes "\r<bar>\x1b[K" through `write`; stop() erases
// the line ("\r\x1b[K") if one was drawn. The first poll happens one interval after start, so a
// quick answer draws nothing. Any failure (connect, exchange, Outcome.Status false: progress =
// off, older daemon) ends polling silently. State idle draws nothing.
class ProgressPoller {
 public:
  struct Hooks {
    std::function<Result<UniqueFd>()> connect;               // a second connection
    std::function<Result<nlohmann::json>(int fd)> exchange;  // one progress request
    std::function<void(std::string_view)> write;             // stderr
    std::function<int()> width = [] { return 80; };          // terminal columns
    std::chrono::milliseconds interval = std::chrono::milliseconds(500);
  };
  explicit ProgressPoller(Hooks hooks);
  ProgressPoller(const ProgressPoller&) = delete;
  ProgressPoller& operator=(const ProgressPoller&) = delete;
  ~ProgressPoller();  // stop()

  // Idempotent. Wakes the thread, interrupts an exchange in flight (shutdown of its socket),
  // joins, then erases the line. After it returns, `write` is not called again.
  void stop();
  // Number of progress exchanges attempted (for tests).
  int polls() const;

 private:
  void loop();
  // Returns false when polling must end.
  bool poll_once(std::chrono::steady_clock::time_point start);

  Hooks hooks_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  int active_fd_ = -1;  // guarded by mu_; the socket of the exchange in flight
  int polls_ = 0;       // guarded by mu_
  bool drawn_ = false;  // poller thread only until joined
  RateSmoother smoother_;
  std::thread thread_;
};

}  // namespace pgm::cli
