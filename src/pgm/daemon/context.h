// DaemonContext: what command handlers and jobs may see of the running daemon.
// Owned by the main process; a forked child gets a copy-on-write snapshot. Single-threaded.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pgm/config/config.h"
#include "pgm/crypto/aes.h"
#include "pgm/crypto/vault.h"
#include "pgm/daemon/shared_state.h"

namespace pgm::daemon {

struct DaemonContext {
  config::ConfigPaths paths;
  std::shared_ptr<const config::Config> config;
  SharedState* shared = nullptr;
  // Master key when ~/.pgmoneta/master.key exists; needed for vaults and encrypted frames.
  std::shared_ptr<const crypto::MasterKey> master_key;
  // Plaintext PostgreSQL passwords from the users vault, by user name.
  std::vector<crypto::VaultEntry> users;
  // Plaintext admin passwords from the admins vault (remote management), by user name.
  std::vector<crypto::VaultEntry> admins;

  // Index of the named server in config->servers, or -1.
  int server_index(std::string_view name) const;
  // Password for a PostgreSQL user from the users vault; empty when absent (libpq then uses
  // .pgpass, trust or whatever the server's pg_hba.conf asks for).
  std::string password_for(std::string_view user) const;
  // Password of a remote-management admin; nullopt when the admins vault has no such user.
  std::optional<std::string> admin_password(std::string_view user) const;
};

}  // namespace pgm::daemon
