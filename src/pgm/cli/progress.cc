#include "pgm/cli/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include "pgm/activity/names.h"

namespace pgm::cli {

namespace {

using nlohmann::json;
namespace key = management::key;

constexpr const char* kProgressState = "ProgressState";
constexpr const char* kPhase = "Phase";
constexpr const char* kDone = "Done";
constexpr const char* kTotal = "Total";
constexpr const char* kPercentage = "Percentage";
constexpr const char* kElapsed = "Elapsed";
constexpr const char* kRemaining = "Remaining";
constexpr const char* kOperation = "Operation";

constexpr int kMaxBarCells = 40;
constexpr int kMinBarCells = 10;
// Length of "100%  999.9 MiB / 999.9 MiB  999.9 MiB/s  ETA 1:00:00".
constexpr int kTailReserve = 53;
constexpr const char* kEraseLine = "\r\x1b[K";

std::optional<double> number(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number()) {
    return std::nullopt;
  }
  double v = it->get<double>();
  return std::isfinite(v) ? std::optional<double>(v) : std::nullopt;
}

uint64_t byte_count(const json& obj, const char* name) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return 0;
  }
  if (it->is_number_unsigned()) {
    return it->get<uint64_t>();
  }
  if (it->is_number_integer()) {
    int64_t v = it->get<int64_t>();
    return v > 0 ? static_cast<uint64_t>(v) : 0;
  }
  if (it->is_number_float()) {
    double v = it->get<double>();
    return std::isfinite(v) && v > 0 ? static_cast<uint64_t>(v) : 0;
  }
  return 0;
}

std::string text(const json& obj, const char* name) {
  auto it = obj.find(name);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int percent_of(uint64_t done, uint64_t total) {
  if (total == 0) {
    return 0;
  }
  if (done >= total) {
    return 100;
  }
  return static_cast<int>(static_cast<long double>(done) * 100 / static_cast<long double>(total));
}

std::string bar_cells(uint64_t done, uint64_t total, int cells) {
  int filled = 0;
  if (total > 0) {
    filled = done >= total ? cells
                           : static_cast<int>(static_cast<long double>(done) * cells /
                                              static_cast<long double>(total));
  }
  // Appended piece by piece: GCC 12 at -O3 misreads `"[" + std::string(...)` as an
  // overlapping copy (-Wrestrict), which breaks Release builds with -Werror.
  std::string out = "[";
  out.append(static_cast<size_t>(filled), '#');
  out.append(static_cast<size_t>(cells - filled), '.');
  out += ']';
  return out;
}

}  // namespace

bool should_show_progress(bool stderr_is_tty, bool no_progress_flag) {
  return stderr_is_tty && !no_progress_flag;
}

std::optional<std::string> progress_operation(management::Command command) {
  switch (command) {
    case management::Command::kBackup:
      return std::string(activity::operation_name(activity::Operation::kBackup));
    case management::Command::kRestore:
    case management::Command::kS3Restore:
    case management::Command::kAzureRestore:
    case management::Command::kSshRestore:
      return std::string(activity::operation_name(activity::Operation::kRestore));
    case management::Command::kVerify:
      return std::string(activity::operation_name(activity::Operation::kVerify));
    case management::Command::kArchive:
      return std::string(activity::operation_name(activity::Operation::kArchive));
    default:
      return std::nullopt;
  }
}

std::optional<ProgressSample> parse_progress(const json& response_doc) {
  if (!response_doc.is_object()) {
    return std::nullopt;
  }
  auto outcome = response_doc.find(key::kOutcome);
  if (outcome == response_doc.end() || !outcome->is_object()) {
    return std::nullopt;
  }
  auto status = outcome->find(key::kStatus);
  if (status == outcome->end() || !status->is_boolean() || !status->get<bool>()) {
    return std::nullopt;
  }
  auto r = response_doc.find(key::kResponse);
  if (r == response_doc.end() || !r->is_object()) {
    return std::nullopt;
  }
  // The state: pgmoneta's number (ours adds its name as Phase), or a name (older daemons).
  auto state = r->find(kProgressState);
  if (state == r->end() || !(state->is_string() || state->is_number_integer())) {
    return std::nullopt;
  }
  ProgressSample s;
  if (state->is_string()) {
    s.state = state->get<std::string>();
  } else if (auto phase = r->find(kPhase); phase != r->end() && phase->is_string()) {
    s.state = phase->get<std::string>();
  } else {
    const int64_t code = state->get<int64_t>();
    s.state = code >= 0 && code < static_cast<int64_t>(activity::kPhaseCount)
                  ? std::string(activity::phase_name(static_cast<activity::Phase>(code)))
                  : std::to_string(code);
  }
  s.done = byte_count(*r, kDone);
  s.total = byte_count(*r, kTotal);
  if (auto p = number(*r, kPercentage)) {
    s.percentage = std::clamp(static_cast<int>(*p), 0, 100);
  }
  s.elapsed = number(*r, kElapsed);
  // Remaining: seconds, or pgmoneta's {string_value, value}.
  if (auto rem = r->find(kRemaining); rem != r->end() && rem->is_object()) {
    s.remaining = number(*rem, "value");
  } else {
    s.remaining = number(*r, kRemaining);
  }
  if (s.remaining && *s.remaining < 0) {
    s.remaining.reset();
  }
  s.server = text(*r, key::kServer);
  s.operation = text(*r, kOperation);
  if (auto tracking = r->find("Tracking"); tracking != r->end() && tracking->is_boolean()) {
    s.tracking = tracking->get<bool>();
  }
  return s;
}

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes) || bytes < 0) {
    bytes = 0;
  }
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  size_t unit = 0;
  while (bytes >= 1024 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  if (unit == 0) {
    return fmt::format("{:.0f} B", bytes);
  }
  return fmt::format("{:.1f} {}", bytes, kUnits[unit]);
}

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) {
    return "--:--";
  }
  auto total = static_cast<uint64_t>(std::llround(seconds));
  uint64_t h = total / 3600;
  uint64_t m = total / 60 % 60;
  uint64_t s = total % 60;
  if (h > 0) {
    return fmt::format("{}:{:02}:{:02}", h, m, s);
  }
  return fmt::format("{}:{:02}", m, s);
}

std::string render_bar(int width, uint64_t done, uint64_t total, std::optional<double> rate,
                       std::optional<double> eta) {
  if (width <= 0) {
    width = 80;
  }
  std::string tail;
  if (total > 0) {
    tail = fmt::format("{:>3}%  {} / {}", percent_of(done, total),
                       format_bytes(static_cast<double>(done)),
                       format_bytes(static_cast<double>(total)));
  } else {
    tail = format_bytes(static_cast<double>(done));
  }
  if (rate) {
    tail += fmt::format("  {}/s", format_bytes(*rate));
  }
  if (total > 0 && eta) {
    tail += fmt::format("  ETA {}", format_duration(*eta));
  }
  int room = width - 1;
  std::string line = tail;
  if (total > 0) {
    // "[" cells "] " tail. The bar is sized for the widest usual tail so that it keeps its
    // length from one poll to the next; on a narrow terminal it takes whatever is left.
    int tail_size = static_cast<int>(tail.size());
    int cells = std::min(kMaxBarCells, room - 3 - std::max(tail_size, kTailReserve));
    if (cells < kMinBarCells) {
      cells = std::min(kMaxBarCells, room - 3 - tail_size);
    }
    if (cells >= kMinBarCells) {
      line = bar_cells(done, total, cells) + " " + tail;
    }
  }
  if (static_cast<int>(line.size()) > room) {
    line.resize(static_cast<size_t>(std::max(room, 0)));
  }
  return line;
}

std::optional<double> estimate_eta(const ProgressSample& sample, std::optional<double> rate) {
  if (sample.remaining) {
    return sample.remaining;
  }
  if (sample.total > 0 && rate && *rate > 0) {
    uint64_t left = sample.total > sample.done ? sample.total - sample.done : 0;
    return static_cast<double>(left) / *rate;
  }
  return std::nullopt;
}

void RateSmoother::add(std::chrono::steady_clock::duration at, uint64_t done) {
  if (!last_at_ || done < last_done_) {
    if (last_at_) {
      rate_.reset();  // a new operation: start over
    }
    last_at_ = at;
    last_done_ = done;
    return;
  }
  double dt = std::chrono::duration<double>(at - *last_at_).count();
  if (dt <= 0) {
    return;
  }
  double instant = static_cast<double>(done - last_done_) / dt;
  rate_ = rate_ ? alpha_ * instant + (1 - alpha_) * *rate_ : instant;
  last_at_ = at;
  last_done_ = done;
}

std::string render_progress_text(const ProgressSample& s) {
  std::string out;
  if (!s.server.empty()) {
    out += fmt::format("Server: {}\n", s.server);
  }
  if (!s.operation.empty()) {
    out += fmt::format("Operation: {}\n", s.operation);
  }
  if (!s.tracking) {
    return out + "State: off (progress tracking is off: set progress = on)\n";
  }
  out += fmt::format("State: {}\n", s.state);
  if (s.state == activity::phase_name(activity::Phase::kIdle)) {
    return out;
  }
  if (s.total > 0) {
    int pct = s.percentage.value_or(percent_of(s.done, s.total));
    out += fmt::format("Progress: {} {}%\n", bar_cells(s.done, s.total, 30), pct);
  }
  out += fmt::format("Done: {}\n", format_bytes(static_cast<double>(s.done)));
  out += fmt::format("Total: {}\n",
                     s.total > 0 ? format_bytes(static_cast<double>(s.total)) : "unknown");
  if (s.elapsed) {
    out += fmt::format("Elapsed: {}\n", format_duration(*s.elapsed));
  }
  out += fmt::format("Remaining: {}\n", s.remaining ? format_duration(*s.remaining) : "unknown");
  return out;
}

int terminal_columns(int fd) {
  winsize ws{};
  if (::ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
    return ws.ws_col;
  }
  return 80;
}

ProgressPoller::ProgressPoller(Hooks hooks) : hooks_(std::move(hooks)) {
  thread_ = std::thread([this] { loop(); });
}

ProgressPoller::~ProgressPoller() { stop(); }

void ProgressPoller::stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    if (active_fd_ >= 0) {
      ::shutdown(active_fd_, SHUT_RDWR);  // the exchange in flight returns at once
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (drawn_) {
    hooks_.write(kEraseLine);
    drawn_ = false;
  }
}

int ProgressPoller::polls() const {
  std::lock_guard<std::mutex> lock(mu_);
  return polls_;
}

void ProgressPoller::loop() {
  auto start = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (cv_.wait_for(lock, hooks_.interval, [this] { return stopping_; })) {
      return;
    }
    lock.unlock();
    bool go_on = poll_once(start);
    lock.lock();
    if (!go_on) {
      return;
    }
  }
}

bool ProgressPoller::poll_once(std::chrono::steady_clock::time_point start) {
  auto fd = hooks_.connect();
  if (!fd) {
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      return false;
    }
    active_fd_ = fd->get();
    ++polls_;
  }
  auto response = hooks_.exchange(fd->get());
  {
    std::lock_guard<std::mutex> lock(mu_);
    active_fd_ = -1;  // before fd closes, so stop() never shuts down a reused descriptor
  }
  if (!response) {
    return false;
  }
  auto sample = parse_progress(*response);
  if (!sample || !sample->tracking) {
    return false;
  }
  smoother_.add(std::chrono::steady_clock::now() - start, sample->done);
  if (sample->state == activity::phase_name(activity::Phase::kIdle)) {
    if (drawn_) {
      hooks_.write(kEraseLine);
      drawn_ = false;
    }
    return true;
  }
  std::optional<double> rate = smoother_.rate();
  std::string line = render_bar(hooks_.width ? hooks_.width() : 80, sample->done, sample->total,
                                rate, estimate_eta(*sample, rate));
  hooks_.write("\r" + line + "\x1b[K");
  drawn_ = true;
  return true;
}

}  // namespace pgm::cli
