#include "pgm/daemon/children.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <sys/prctl.h>
#include <sys/wait.h>

#include "pgm/daemon/process_title.h"
#include "pgm/log/log.h"

namespace pgm::daemon {

void reset_signals_in_child() {
  sigset_t all;
  sigemptyset(&all);
  ::sigprocmask(SIG_SETMASK, &all, nullptr);
  for (int sig : {SIGHUP, SIGUSR1, SIGTERM, SIGINT, SIGALRM, SIGCHLD, SIGPIPE}) {
    ::signal(sig, SIG_DFL);
  }
  ::signal(SIGPIPE, SIG_IGN);
}

pid_t ChildTable::fork(const std::string& what, const std::string& detail, int keep,
                       const std::function<int()>& body) {
  const pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork for {}: {}", what, std::strerror(errno));  // NOLINT(concurrency-mt-unsafe)
    return -1;
  }
  if (pid == 0) {
    // A child dies with the main process: after a kill -9 of the daemon no receiver or service
    // lives on as an orphan holding the repository lock, a replication slot or a port. The
    // parent check covers a parent that died before the prctl.
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(1);
    }
    reset_signals_in_child();
    set_process_title(ctx_.config->update_process_title, what, detail);
    if (close_inherited_) {
      close_inherited_(keep);
    }
    ::_exit(body());
  }
  children_.emplace(pid, what);
  write_record();
  return pid;
}

void ChildTable::record_in(const std::string& base_dir) {
  record_ = std::make_unique<ChildRecordFile>(base_dir);
  write_record();
}

void ChildTable::write_record() {
  if (record_) {
    record_->write(children_);
  }
}

ChildTable::Exit ChildTable::reaped(pid_t pid) {
  Exit e;
  auto it = children_.find(pid);
  e.what = it != children_.end() ? it->second : "unknown";
  if (it != children_.end()) {
    children_.erase(it);
    write_record();
  }
  e.stopped_by_us = stopped_.erase(pid) > 0;
  return e;
}

void ChildTable::stop(pid_t pid) {
  if (pid > 0 && children_.count(pid) > 0) {
    ::kill(pid, SIGTERM);
    stopped_.insert(pid);
  }
}

void ChildTable::terminate_all(std::chrono::seconds grace) {
  for (auto& [pid, what] : children_) {
    ::kill(pid, SIGTERM);
  }
  auto deadline = std::chrono::steady_clock::now() + grace;
  while (!children_.empty()) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid > 0) {
      children_.erase(pid);
      continue;
    }
    if (pid < 0 && errno == ECHILD) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      for (auto& [cpid, what] : children_) {
        log::warn("child {} ({}) did not stop in time; killing it", cpid, what);
        ::kill(cpid, SIGKILL);
        ::waitpid(cpid, nullptr, 0);
      }
      break;
    }
    ::usleep(20000);
  }
  children_.clear();
  stopped_.clear();
  write_record();
}

}  // namespace pgm::daemon
