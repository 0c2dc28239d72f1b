// The daemon side of WAL streaming: runs wal::run_receiver for one server inside a forked
// child (process title "wal/<server>"), mirroring its progress into shared memory, and tells
// the main process when a receiver must restart because its settings changed.
#pragma once

#include <cstddef>
#include <string>

#include "pgm/config/config.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// Runs server `index`'s receiver in the calling (freshly forked) process until SIGTERM or
// SIGINT. Returns the exit code for _exit: 0 after a requested stop, 2 for settings that
// cannot work (logged).
int run_wal_receiver(const DaemonContext& ctx, size_t index);

// Everything the receiver of server `index` depends on, as one comparable string: when it
// differs after a reload or conf set, the receiver restarts.
std::string wal_settings(const config::Config& c, size_t index);

// <base_dir>/<server>/wal and, when wal_shipping is set, <wal_shipping>/<server>/wal.
using config::wal_directory;
using config::wal_shipping_directory;

}  // namespace pgm::daemon
