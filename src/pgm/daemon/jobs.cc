#include "pgm/daemon/jobs.h"

#include <chrono>

#include "pgm/daemon/commands/backup.h"
#include "pgm/daemon/commands/offsite.h"
#include "pgm/daemon/commands/verify.h"
#include "pgm/daemon/probe.h"
#include "pgm/storage/configured.h"

namespace pgm::daemon {

namespace {

constexpr double kDefaultRetentionInterval = 300.0;
// Seconds between off-site passes (WAL shipping, upload retries). Each engine backs off on
// its own after failures.
constexpr double kOffsiteInterval = 5.0;

}  // namespace

void PeriodicJobs::init(Job& job, const char* title, std::function<void()> body) {
  job.owner = this;
  job.title = title;
  job.body = std::move(body);
  ev_init(&job.timer, [](struct ev_loop* /*loop*/, ev_timer* w, int /*revents*/) {
    auto* j = static_cast<Job*>(w->data);
    j->owner->run(*j);
  });
  job.timer.data = &job;
}

// (Re)starts a job's timer when its interval changed; 0 stops it. The first run comes one
// interval later, never at once (pgmoneta's start-up verification pass held the repository
// lock even with verification = 0, reference §14.2).
void PeriodicJobs::arm(Job& job, double interval) {
  if (interval <= 0) {
    job.interval = 0;
    ev_timer_stop(loop_, &job.timer);
    return;
  }
  if (interval == job.interval && ev_is_active(&job.timer)) {
    return;
  }
  job.interval = interval;
  ev_timer_stop(loop_, &job.timer);
  ev_timer_set(&job.timer, interval, interval);
  ev_timer_start(loop_, &job.timer);
}

void PeriodicJobs::start() {
  init(probe_, "probe", [this] { probe_all_servers(ctx_); });
  init(retention_, "retention", [this] { run_retention(ctx_, std::chrono::system_clock::now()); });
  init(offsite_, "offsite", [this] { run_offsite(ctx_); });
  init(verification_, "verification", [this] { run_verification(ctx_); });
  arm(offsite_, kOffsiteInterval);
  configuration_changed();
}

void PeriodicJobs::configuration_changed() {
  if (probe_.owner == nullptr) {
    return;  // not started yet
  }
  auto probe = static_cast<double>(ctx_.config->probe_interval.count());
  arm(probe_, probe > 0 ? probe : 60.0);
  auto retention = static_cast<double>(ctx_.config->retention_interval.count());
  arm(retention_, retention > 0 ? retention : kDefaultRetentionInterval);
  arm(verification_, static_cast<double>(ctx_.config->verification.count()));
}

void PeriodicJobs::stop() {
  for (Job* job : {&probe_, &retention_, &offsite_, &verification_}) {
    if (job->owner != nullptr) {
      ev_timer_stop(loop_, &job->timer);
    }
  }
}

void PeriodicJobs::run_probe() { run(probe_); }

void PeriodicJobs::run(Job& job) {
  if (job.pid != 0 || ctx_.shared->shutting_down.load() || ctx_.config->servers.empty()) {
    return;
  }
  // The off-site pass runs only while a remote engine is enabled.
  if (&job == &offsite_ && storage::remote_engines(*ctx_.config).empty()) {
    return;
  }
  pid_t pid = children_.fork(job.title, "", -1, [&job]() {
    job.body();
    return 0;
  });
  if (pid > 0) {
    job.pid = pid;
  }
}

bool PeriodicJobs::child_exited(pid_t pid) {
  for (Job* job : {&probe_, &retention_, &offsite_, &verification_}) {
    if (job->pid == pid && pid != 0) {
      job->pid = 0;
      return true;
    }
  }
  return false;
}

}  // namespace pgm::daemon
