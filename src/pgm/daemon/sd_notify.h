// SystemdNotifier: systemd's readiness protocol (sd_notify(3)), the daemon's side. Under a
// unit with Type=notify, systemd passes the address of a datagram socket in NOTIFY_SOCKET and
// waits for "READY=1" before it calls the service started; "RELOADING=1", "STOPPING=1" and
// "STATUS=<one line>" report the rest of the life cycle. Without NOTIFY_SOCKET every call is a
// no-op, so nothing changes outside systemd.
//
// Not libsystemd: the protocol is one sendto(2) of newline-separated assignments on an
// AF_UNIX SOCK_DGRAM socket, and a library (with its own dependencies) for one datagram is not
// worth a new package dependency.
//
// Main process only: a copy inherited by a forked child stays silent (systemd would ignore a
// child anyway under NotifyAccess=main, but logs a complaint). Not thread-safe; the daemon
// uses it from its loop.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <sys/types.h>

#include "pgm/core/result.h"

namespace pgm::daemon {

class SystemdNotifier {
 public:
  // Disabled: every send() is a no-op.
  SystemdNotifier() = default;
  // Sends to `address`: an absolute socket path, or "@name" for the abstract socket "\0name".
  // An empty address disables the notifier. The calling process becomes its only sender.
  explicit SystemdNotifier(std::string address);

  // Reads NOTIFY_SOCKET and removes it from the environment, so that children, and programs
  // they start, do not speak for the daemon (PostgreSQL built with systemd support, started
  // by a proven restore, would send its own READY=1). Call before any thread or fork.
  static SystemdNotifier from_environment();

  bool enabled() const { return !address_.empty(); }
  const std::string& address() const { return address_; }

  // Sends `message` (assignments separated by '\n', e.g. "READY=1\nSTATUS=ready") as one
  // datagram, without blocking. A no-op when disabled or called in another process than the
  // one that created the notifier. Errors name the address.
  Result<void> send(std::string_view message) const;

 private:
  std::string address_;
  pid_t owner_ = 0;
};

// CLOCK_MONOTONIC in microseconds: the MONOTONIC_USEC that systemd (Type=notify-reload,
// version 253 and later) wants next to RELOADING=1.
uint64_t monotonic_usec();

// "RELOADING=1\nMONOTONIC_USEC=<now>".
std::string reloading_message();

}  // namespace pgm::daemon
