// master.key and the users/admins vault files (reference §3). Functions are thread-safe.
//
// master.key (written by pgmoneta-admin master-key; format as pgmoneta 0.22):
//   line 1: base64(master password bytes)  line 2: base64(16 random salt bytes)
// each line ends with '\n'. It lives in "$HOME/.pgmoneta/master.key"; the directory must be a
// directory owned by us with no group/other bits (0700), the file a regular file owned by us
// with no group/other bits (0600). The password needs at least 8 UTF-8 characters.
//
// Vault line: "name:base64(salt16 || iv12 || AES-256-GCM(password) || tag16)" (aes.h); blank
// lines and lines whose first non-blank character is '#' or ';' are comments.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::crypto {

inline constexpr size_t kMaxUsers = 64;
inline constexpr size_t kMaxAdmins = 8;
inline constexpr size_t kMaxPasswordLength = 8191;
inline constexpr size_t kMaxUsernameLength = 127;
inline constexpr size_t kMinMasterKeyCharacters = 8;

struct MasterKeyFile {
  std::string password;       // the master password itself
  std::vector<uint8_t> salt;  // 16 bytes
};

// "$HOME/.pgmoneta" (HOME from the environment, else the passwd entry).
Result<std::string> pgmoneta_home_dir();
// Checks that `dir` is a directory owned by us with mode 0700 and no group/other bits.
// kPermission names the path and the mode found.
Result<void> check_private_directory(const std::string& dir);
// Reads and checks permissions of the directory holding `path` and of `path` itself;
// kPermission names the path and the mode found. A file without the salt line -> kConfig
// asking to regenerate the master key.
Result<MasterKeyFile> load_master_key_file(const std::string& path);
// Loads $HOME/.pgmoneta/master.key and derives the MasterKey.
Result<MasterKey> load_master_key();

// Number of UTF-8 characters in `s`; nullopt when `s` is not valid UTF-8.
std::optional<size_t> utf8_length(std::string_view s);

struct VaultEntry {
  std::string name;
  std::string password;  // plaintext after decryption
};

// One parsed vault line: nullopt for blank and comment lines. Errors (no ':' , empty name,
// empty value) say what is wrong without location; callers add "file:line".
struct VaultLine {
  std::string name;
  std::string encoded;  // base64 of the encrypted buffer
};
Result<std::optional<VaultLine>> parse_vault_line(std::string_view line);

// base64(aes_encrypt(AES-256-GCM, password)) and back.
Result<std::string> encrypt_vault_password(const MasterKey& key, std::string_view password);
Result<std::string> decrypt_vault_password(const MasterKey& key, std::string_view encoded);

// Parses and decrypts a vault file. Errors name the file and line. More than `max_entries`
// entries, duplicate names or passwords over kMaxPasswordLength are errors.
Result<std::vector<VaultEntry>> load_vault(const std::string& path, const MasterKey& key,
                                           size_t max_entries = kMaxUsers);
// Writes the vault atomically with mode 0600.
Result<void> save_vault(const std::string& path, const MasterKey& key,
                        const std::vector<VaultEntry>& entries);

}  // namespace pgm::crypto
