// master.key and the users/admins vault files (reference §3). Functions are thread-safe.
//
// master.key: line 1 base64(master password), line 2 base64(16-byte salt). It lives in
// "$HOME/.pgmoneta/master.key"; the directory must be 0700 and the file 0600, owned by us.
// Vault line: "name:base64(salt16 || iv12 || AES-256-GCM(password) || tag16)"; '#' and ';'
// start comments.
#pragma once

#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::crypto {

struct MasterKeyFile {
  std::string password;       // the master password itself
  std::vector<uint8_t> salt;  // 16 bytes
};

// "$HOME/.pgmoneta" (HOME from the environment, else the passwd entry).
Result<std::string> pgmoneta_home_dir();
// Reads and checks permissions; kPermission names the path and the mode found.
Result<MasterKeyFile> load_master_key_file(const std::string& path);
// Loads $HOME/.pgmoneta/master.key and derives the MasterKey.
Result<MasterKey> load_master_key();

struct VaultEntry {
  std::string name;
  std::string password;  // plaintext after decryption
};

// Parses and decrypts a vault file. Errors name the file and line.
Result<std::vector<VaultEntry>> load_vault(const std::string& path, const MasterKey& key);
// Writes the vault atomically with mode 0600.
Result<void> save_vault(const std::string& path, const MasterKey& key,
                        const std::vector<VaultEntry>& entries);

inline constexpr size_t kMaxUsers = 64;
inline constexpr size_t kMaxAdmins = 8;
inline constexpr size_t kMaxPasswordLength = 8191;

}  // namespace pgm::crypto
