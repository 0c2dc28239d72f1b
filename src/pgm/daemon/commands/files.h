// Management commands on one file (encrypt, decrypt, compress, decompress): Request
// SourceFile (an absolute path), Response SourceFile and DestinationFile. They run in a
// forked child (they block on the disk) and transform the file in place as
// backup/file_verbs.h describes. Error codes (management/errors.h): 14xx decrypt, 15xx
// encrypt, 16xx-19xx the algorithm's family for compress/decompress (+0 no file, +3 error),
// 2001 unknown suffix for decompress, 2101 unknown algorithm for compress.
#pragma once

#include <nlohmann/json.hpp>

#include "pgm/daemon/commands.h"
#include "pgm/daemon/context.h"

namespace pgm::daemon {

// With the configured `encryption` (AES-256-GCM when none); needs the master key.
CommandResult encrypt_command(const DaemonContext& ctx, const nlohmann::json& request);
// The .aes format does not record the mode: the configured `encryption` (AES-256 when none).
CommandResult decrypt_command(const DaemonContext& ctx, const nlohmann::json& request);
// With the configured `compression` algorithm (client-/server- alike; zstd when none) and
// `compression_level`.
CommandResult compress_command(const DaemonContext& ctx, const nlohmann::json& request);
// The algorithm comes from the file's suffix.
CommandResult decompress_command(const DaemonContext& ctx, const nlohmann::json& request);

}  // namespace pgm::daemon
