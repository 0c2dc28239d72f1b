#include "pgm/daemon/login_guard.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>

namespace pgm::daemon {

namespace {

// Sources named in a summary line; the rest are counted.
constexpr size_t kSummarySources = 5;

}  // namespace

size_t LoginGuard::sessions() const {
  return static_cast<size_t>(std::count_if(sessions_.begin(), sessions_.end(),
                                           [](const auto& s) { return !s.second.evicted; }));
}

std::string LoginGuard::source_of(pid_t pid) const {
  auto it = sessions_.find(pid);
  return it == sessions_.end() ? std::string() : it->second.source;
}

std::optional<pid_t> LoginGuard::evictable(const std::string* source, Clock::time_point now) const {
  std::optional<pid_t> oldest;
  Clock::time_point when = Clock::time_point::max();
  for (const auto& [pid, s] : sessions_) {
    if (s.evicted || s.stage != Stage::kLoggingIn || now - s.started < kEvictAfter ||
        (source != nullptr && s.source != *source)) {
      continue;
    }
    if (s.started < when) {
      when = s.started;
      oldest = pid;
    }
  }
  return oldest;
}

LoginGuard::Admission LoginGuard::admit(const std::string& source, Clock::time_point now) {
  Admission a;
  size_t pending =
      static_cast<size_t>(std::count_if(sessions_.begin(), sessions_.end(), [&](const auto& s) {
        return !s.second.evicted && s.second.source == source &&
               s.second.stage != Stage::kAuthenticated;
      }));
  // Evicting one of the source's own sessions also makes room under the global limit.
  std::optional<pid_t> victim;
  if (pending >= kMaxPendingPerSource) {
    victim = evictable(&source, now);
    if (!victim) {
      a.refusal = fmt::format(
          "too many connections from {} still logging in or refused (at most {} at once)", source,
          kMaxPendingPerSource);
      ++tally_[source].refused;
      return a;
    }
  } else if (sessions() >= kMaxSessions) {
    victim = evictable(nullptr, now);
    if (!victim) {
      a.refusal = fmt::format("too many remote management sessions (at most {})", kMaxSessions);
      ++tally_[source].refused;
      return a;
    }
  }
  if (victim) {
    Session& s = sessions_[*victim];
    s.evicted = true;
    ++tally_[s.source].evicted;
    a.evict.push_back(*victim);
  }
  a.accept = true;
  auto f = failures_.find(source);
  if (f != failures_.end() && now - f->second.last < kFailureMemory) {
    int doublings = std::min(f->second.count, 16);
    auto delay = kFirstFailureDelay * (int64_t{1} << doublings);
    a.failure_delay = std::min<std::chrono::milliseconds>(delay, kMaxFailureDelay);
  } else {
    a.failure_delay = kFirstFailureDelay;
  }
  return a;
}

void LoginGuard::started(pid_t pid, const std::string& source, Clock::time_point now) {
  sessions_[pid] = Session{source, now, Stage::kLoggingIn};
}

void LoginGuard::stage(pid_t pid, Stage stage) {
  if (auto it = sessions_.find(pid); it != sessions_.end()) {
    it->second.stage = stage;
  }
}

bool LoginGuard::ended(pid_t pid, Stage stage, Clock::time_point now) {
  auto it = sessions_.find(pid);
  if (it == sessions_.end()) {
    return false;
  }
  std::string source = std::move(it->second.source);
  sessions_.erase(it);
  if (stage == Stage::kFailing) {
    Failures& f = failures_[source];
    if (now - f.last >= kFailureMemory) {
      f.count = 0;
    }
    ++f.count;
    f.last = now;
    ++tally_[source].failures;
  } else if (stage == Stage::kAuthenticated) {
    failures_.erase(source);
  }
  // Forget sources whose failures are old, so the map stays as small as the recent attackers.
  std::erase_if(failures_, [&](const auto& e) { return now - e.second.last >= kFailureMemory; });
  return true;
}

std::optional<std::string> LoginGuard::summary(Clock::time_point now) {
  if (tally_.empty() || now - last_summary_ < kSummaryInterval) {
    return std::nullopt;
  }
  std::vector<std::pair<std::string, Tally>> rows(tally_.begin(), tally_.end());
  tally_.clear();
  last_summary_ = now;
  Tally total;
  for (const auto& [source, t] : rows) {
    total.failures += t.failures;
    total.refused += t.refused;
    total.evicted += t.evicted;
  }
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second.failures + a.second.refused > b.second.failures + b.second.refused;
  });
  std::string by_source;
  for (size_t i = 0; i < rows.size() && i < kSummarySources; ++i) {
    const Tally& t = rows[i].second;
    by_source += fmt::format("{}{} ({} failed, {} refused, {} evicted)", i == 0 ? "" : ", ",
                             rows[i].first, t.failures, t.refused, t.evicted);
  }
  if (rows.size() > kSummarySources) {
    by_source += fmt::format(" and {} more", rows.size() - kSummarySources);
  }
  return fmt::format(
      "remote management: {} failed login{}, {} connection{} refused and {} evicted by the "
      "login limits since the last summary; by source: {}",
      total.failures, total.failures == 1 ? "" : "s", total.refused, total.refused == 1 ? "" : "s",
      total.evicted, by_source);
}

}  // namespace pgm::daemon
