// The daemon's side of the off-site copies (offsite/offsite.h): the periodic pass's entry
// point, and the off-site management commands: "<engine> ls" and "<engine> restore" for s3
// (pgmoneta's codes 200/201), azure (202/203) and ssh (204/205; ours). One implementation,
// parametrised by the storage engine; both run in a forked child and block on the network.
//
// The engine is built from the pgmoneta.conf keys of the server (storage/configured.h) whether or
// not storage_engine enables it: a DBA restoring on a fresh machine only needs the keys.
// Failures are one line naming the engine and the cause; the error codes are the command's
// family (management/errors.h: base + kOffsiteLs* / kOffsiteRestore*).
#pragma once

#include <optional>

#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"
#include "pgm/management/protocol.h"
#include "pgm/offsite/offsite.h"
#include "pgm/storage/configured.h"

namespace pgm::daemon {

// The off-site workflows' view of the daemon: its configuration and every server's state.
offsite::OffsiteContext offsite_context(const DaemonContext& ctx);

// The periodic off-site pass (offsite::run_offsite), in a forked child.
void run_offsite(const DaemonContext& ctx);

// "<engine> ls <server> [prefix]": every object under "<server>/<prefix>" (keys relative to the
// engine's base). Response: Server, Engine, Prefix, Objects [{Key, Size}], NumberOfObjects,
// TotalSize, Backups (labels of the complete remote backups of the server).
CommandResult offsite_ls_command(const DaemonContext& ctx, storage::Engine engine,
                                 const nlohmann::json& request);

// "<engine> restore <server> <id> [position] <dir>": id is a label or oldest/newest/latest among
// the complete remote backups (with a position target, chosen as restore chooses: their
// backup.info files are fetched first). Holding the server's repository lock, the backup is
// staged under <base_dir>/<server>/staging-<pid>/backup/<label> (every file proven against its
// stored SHA-512), verified as `verify` does (backup.sha512, backup.manifest, every file), and
// restored into <dir>/<server>-<label> exactly as `restore` does. A position that needs WAL
// also stages the remote WAL from the backup's first segment on. The staging directory is
// removed on every path, and stale ones of dead processes at the start. Response: restore's,
// plus Engine and DownloadedBytes.
CommandResult offsite_restore_command(const DaemonContext& ctx, storage::Engine engine,
                                      const nlohmann::json& request);

}  // namespace pgm::daemon
