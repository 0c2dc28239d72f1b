// The remote engines of a configuration: which of ssh, s3 and azure `storage_engine` names, and
// each one's Storage built from the pgmoneta.conf keys (ssh_*, s3_* with per-server overrides,
// azure_*). Local is not a remote engine: base_dir is always the primary copy.
#pragma once

#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "pgm/config/model.h"
#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage {

enum class Engine { kSsh, kS3, kAzure };

// "ssh", "s3", "azure".
std::string_view engine_name(Engine engine);
// The reverse of engine_name; nullopt for any other word.
std::optional<Engine> parse_engine(std::string_view name);

// The remote engines `storage_engine` enables, in the order ssh, s3, azure.
std::vector<Engine> remote_engines(const config::Config& config);

// Whether this binary was built with the engine (PGM_STORAGE_ENGINES).
bool engine_built(Engine engine);

// Builds the engine for `server` from the configuration. No network traffic for S3 and Azure;
// SFTP connects (and checks the host key, authenticates) here. Errors name the engine and the
// key or the cause ("s3: s3_bucket is empty", "ssh: authentication of user x failed ...").
Result<std::unique_ptr<Storage>> open_engine(Engine engine, const config::Config& config,
                                             const config::ServerConfig& server);

}  // namespace pgm::storage
