// LoginGuard: the brake on remote-management logins, as a pure policy the main process drives
// (services.cc accepts, forks and signals; this decides). Time comes in as an argument, so
// tests drive it with any clock. Single-threaded.
//
// A source is the client's IP address (no port). Policy:
// - Failure delay (like PostgreSQL's auth_delay, but growing): a session whose login fails
//   waits before it sends the refusal: kFirstFailureDelay, doubled for each recent failure of
//   its source, at most kMaxFailureDelay. A source's failures are forgotten after
//   kFailureMemory without one, or at once when a login from it succeeds.
// - Unauthenticated sessions: at most kMaxPendingPerSource per source (logging in, or waiting
//   out a failure delay) and kMaxSessions in all. When a new connection would pass a limit, the
//   oldest session of that scope that has been logging in for kEvictAfter is evicted to make
//   room: an idle connection cannot lock a real admin out, and a client that logs in at once
//   (milliseconds) is never evicted. Sessions waiting out a failure delay are never evicted
//   either (that would tell the client early that its guess was wrong). With nothing to evict
//   the connection is refused (FATAL 53300; pgmoneta-cli retries for a while).
// - Logging: each failed login is one WARN line (written by the session itself); summary()
//   returns one line per kSummaryInterval with failures and refused connections by source.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace pgm::daemon {

class LoginGuard {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kMaxSessions = 64;
  static constexpr size_t kMaxPendingPerSource = 16;
  static constexpr std::chrono::seconds kEvictAfter{1};
  static constexpr std::chrono::milliseconds kFirstFailureDelay{250};
  static constexpr std::chrono::milliseconds kMaxFailureDelay{8000};
  static constexpr std::chrono::minutes kFailureMemory{10};
  static constexpr std::chrono::seconds kSummaryInterval{60};

  enum class Stage { kLoggingIn, kFailing, kAuthenticated };

  struct Admission {
    bool accept = false;
    std::vector<pid_t> evict;                    // sessions to stop before the new one starts
    std::chrono::milliseconds failure_delay{0};  // for the new session, should its login fail
    std::string refusal;                         // when !accept: why, for the client and the log
  };

  // A connection from `source` arrived: may it get a session?
  Admission admit(const std::string& source, Clock::time_point now);

  // The session forked for an admitted connection.
  void started(pid_t pid, const std::string& source, Clock::time_point now);
  // What the session reports of its login (read from shared memory by the caller).
  void stage(pid_t pid, Stage stage);
  // The session ended; `stage` is its last report. A failed login counts for its source here.
  // False for a pid that is not a session.
  bool ended(pid_t pid, Stage stage, Clock::time_point now);

  // One line about failures and refusals since the last summary, at most once per
  // kSummaryInterval; nullopt when there is nothing to say or it is too early.
  std::optional<std::string> summary(Clock::time_point now);

  // Sessions that count against the limits (not those asked to stop).
  size_t sessions() const;
  // The source of a session ("" for a stranger).
  std::string source_of(pid_t pid) const;

 private:
  struct Session {
    std::string source;
    Clock::time_point started;
    Stage stage = Stage::kLoggingIn;
    bool evicted = false;  // asked to stop; no longer counts, never chosen again
  };
  struct Failures {
    int count = 0;
    Clock::time_point last{};
  };
  struct Tally {
    size_t failures = 0;
    size_t refused = 0;
    size_t evicted = 0;
  };

  // The oldest session logging in since kEvictAfter before now (of `source`, or of any when
  // null); nullopt for none.
  std::optional<pid_t> evictable(const std::string* source, Clock::time_point now) const;

  std::map<pid_t, Session> sessions_;
  std::map<std::string, Failures> failures_;
  std::map<std::string, Tally> tally_;  // since the last summary
  Clock::time_point last_summary_{};
};

}  // namespace pgm::daemon
