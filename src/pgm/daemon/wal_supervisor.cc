#include "pgm/daemon/wal_supervisor.h"

#include <algorithm>

namespace pgm::daemon {

void WalSupervisor::set_wanted(size_t index, std::string settings) {
  if (index < slots_.size()) {
    slots_[index].wanted = std::move(settings);
  }
}

std::vector<WalSupervisor::Action> WalSupervisor::reconcile(Clock::time_point now,
                                                            const std::vector<View>& servers) {
  size_t n = std::min(servers.size(), slots_.size());
  for (size_t i = 0; i < n; ++i) {
    if (servers[i].streaming) {
      slots_[i].quiet_since.reset();
    } else if (!slots_[i].quiet_since) {
      slots_[i].quiet_since = now;
    }
  }
  std::vector<Action> actions;
  for (size_t i = 0; i < n; ++i) {
    Slot& s = slots_[i];
    bool wanted = !s.shut_down && !servers[i].admin_offline;
    const char* why = s.shut_down ? "shutting down" : "the server was set offline";
    int f = servers[i].follow;
    if (wanted && f >= 0 && static_cast<size_t>(f) != i && static_cast<size_t>(f) < n) {
      const Slot& followed = slots_[static_cast<size_t>(f)];
      bool followed_quiet = followed.quiet_since && now - *followed.quiet_since >= kFollowGrace;
      if (!followed_quiet) {
        wanted = false;
        why = "the followed server streams again";
      }
    }
    if (s.pid != 0) {
      if (s.stopping) {
        continue;
      }
      if (!wanted) {
        s.stopping = true;
        actions.push_back({Action::Kind::kStop, i, why});
      } else if (s.settings != s.wanted) {
        s.stopping = true;
        actions.push_back({Action::Kind::kStop, i, "its settings changed"});
      }
    } else if (wanted && now >= s.next_start) {
      actions.push_back({Action::Kind::kStart, i, ""});
    }
  }
  return actions;
}

void WalSupervisor::started(size_t index, pid_t pid, Clock::time_point now) {
  Slot& s = slots_[index];
  s.pid = pid;
  s.stopping = false;
  s.started = now;
  s.settings = s.wanted;
}

void WalSupervisor::start_failed(size_t index, Clock::time_point now) {
  slots_[index].next_start = now + slots_[index].delay;
}

void WalSupervisor::shut_down() {
  for (Slot& s : slots_) {
    s.shut_down = true;
    s.stopping = s.pid != 0;
  }
}

std::optional<std::chrono::seconds> WalSupervisor::exited(size_t index, Clock::time_point now,
                                                          int exit_code) {
  Slot& s = slots_[index];
  bool requested = s.stopping;
  s.pid = 0;
  s.stopping = false;
  if (requested) {
    s.next_start = now;  // starts again at once if it should still run (settings changed)
    s.delay = kRestartMin;
    return std::nullopt;
  }
  if (now - s.started >= kHealthyRun) {
    s.delay = kRestartMin;
  }
  if (exit_code == kExitUnworkable) {
    s.delay = kRestartMax;  // retry rarely (or after a reload)
  }
  std::chrono::seconds waited = s.delay;
  s.next_start = now + waited;
  s.delay = std::min(s.delay * 2, kRestartMax);
  return waited;
}

int WalSupervisor::index_of(pid_t pid) const {
  if (pid <= 0) {
    return -1;
  }
  for (size_t i = 0; i < slots_.size(); ++i) {
    if (slots_[i].pid == pid) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

}  // namespace pgm::daemon
