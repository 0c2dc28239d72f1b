// WalSupervisor: the policy that keeps one WAL receiver per server running, as a pure state
// machine the main process drives (server.cc forks and signals; this decides). Time comes in
// as an argument, so tests drive it with any clock. Single-threaded.
//
// Policy:
// - A receiver runs while its server is not set offline by the administrator and the daemon
//   is not shutting down. A `follow` server's receiver runs only while the server it follows
//   has not streamed for kFollowGrace.
// - A receiver whose settings (wal_settings()) differ from the running configuration's is
//   stopped; it starts again at once with the new ones.
// - A receiver that dies on its own is restarted after a delay: 1 s, doubling while it keeps
//   dying, at most 60 s; back to 1 s after a run of at least kHealthyRun. Exit code 2 means
//   settings that cannot work: it waits the longest delay.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

namespace pgm::daemon {

class WalSupervisor {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds kRestartMin{1};
  static constexpr std::chrono::seconds kRestartMax{60};
  static constexpr std::chrono::seconds kHealthyRun{60};
  static constexpr std::chrono::seconds kFollowGrace{15};
  // Exit code of a receiver whose settings cannot work.
  static constexpr int kExitUnworkable = 2;

  // What the supervisor sees of one server at a reconcile step.
  struct View {
    bool streaming = false;      // its receiver streams now (shared state)
    bool admin_offline = false;  // `mode <server> offline`
    int follow = -1;             // index of the server it follows, -1 for none
  };

  struct Action {
    enum class Kind { kStart, kStop };
    Kind kind;
    size_t index;
    std::string why;  // for kStop: "the server was set offline", ...
  };

  explicit WalSupervisor(size_t servers) : slots_(servers) {}

  // The settings the running configuration wants for server `index` (after start-up, a
  // reload or conf set).
  void set_wanted(size_t index, std::string settings);

  // One step: what to start and what to stop now. A stop is recorded at once (it is not
  // asked for twice); a start must be confirmed with started() or start_failed().
  std::vector<Action> reconcile(Clock::time_point now, const std::vector<View>& servers);

  void started(size_t index, pid_t pid, Clock::time_point now);
  void start_failed(size_t index, Clock::time_point now);

  // Every receiver is to stop and none to start (shutdown).
  void shut_down();

  // A receiver ended (exit_code -1 when a signal ended it). Returns the delay before it may
  // start again; nullopt when we had asked it to stop (it may start again at once).
  std::optional<std::chrono::seconds> exited(size_t index, Clock::time_point now, int exit_code);

  // The receiver's pid (0 when none runs); the server index of a pid, -1 for none.
  pid_t pid(size_t index) const { return slots_[index].pid; }
  int index_of(pid_t pid) const;
  size_t size() const { return slots_.size(); }

 private:
  struct Slot {
    pid_t pid = 0;
    bool stopping = false;           // a stop was asked for
    bool shut_down = false;          // never start again
    Clock::time_point next_start{};  // not before this
    Clock::time_point started{};
    std::chrono::seconds delay = kRestartMin;
    std::optional<Clock::time_point> quiet_since;  // not streaming since; empty while streaming
    std::string settings;                          // what it was started with
    std::string wanted;                            // what the configuration wants
  };
  std::vector<Slot> slots_;
};

}  // namespace pgm::daemon
