#include "pgm/crypto/vault.h"

#include <pwd.h>
#include <unistd.h>

#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <sys/stat.h>

#include "pgm/core/scope_exit.h"
#include "pgm/crypto/base64.h"
#include "pgm/io/file.h"

namespace pgm::crypto {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string mode_string(mode_t m) { return fmt::format("{:04o}", m & 07777); }

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::span<const uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

std::optional<size_t> utf8_length(std::string_view s) {
  size_t count = 0;
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    size_t n = 0;
    uint32_t cp = 0;
    if (c < 0x80) {
      n = 1;
      cp = c;
    } else if ((c & 0xe0) == 0xc0) {
      n = 2;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      n = 3;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return std::nullopt;
    }
    if (i + n > s.size()) {
      return std::nullopt;
    }
    for (size_t k = 1; k < n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) {
        return std::nullopt;
      }
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid.
    static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
      return std::nullopt;
    }
    i += n;
    ++count;
  }
  return count;
}

Result<std::string> pgmoneta_home_dir() {
  const char* home = std::getenv("HOME");  // NOLINT(concurrency-mt-unsafe): read-only use
  if (home != nullptr && home[0] != '\0') {
    return std::string(home) + "/.pgmoneta";
  }
  struct passwd pw {};
  struct passwd* result = nullptr;
  std::vector<char> buf(16384);
  if (getpwuid_r(geteuid(), &pw, buf.data(), buf.size(), &result) != 0 || result == nullptr ||
      result->pw_dir == nullptr) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no home directory for uid {} (HOME is not set)", geteuid()));
  }
  return std::string(result->pw_dir) + "/.pgmoneta";
}

Result<void> check_private_directory(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    return make_errno_error(fmt::format("stat {}", dir), errno);
  }
  if (!S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kPermission, fmt::format("{} is not a directory", dir));
  }
  if (st.st_uid != geteuid()) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("{} is owned by uid {}, not by the current user (uid {})", dir,
                                  st.st_uid, geteuid()));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || (st.st_mode & S_IRWXU) == 0) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("{} has mode {}; it must be 0700 (chmod 0700 {})", dir,
                                  mode_string(st.st_mode), dir));
  }
  return {};
}

Result<MasterKeyFile> load_master_key_file(const std::string& path) {
  PGM_TRY(check_private_directory(io::parent_directory(path)));
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    int err = errno;
    if (err == ENOENT) {
      return make_error(ErrorCode::kNotFound,
                        fmt::format("master key {} does not exist (create it with "
                                    "'pgmoneta-admin master-key')",
                                    path));
    }
    return make_errno_error(fmt::format("stat {}", path), err);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kPermission, fmt::format("{} is not a regular file", path));
  }
  if (st.st_uid != geteuid()) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("{} is owned by uid {}, not by the current user (uid {})", path,
                                  st.st_uid, geteuid()));
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0 || (st.st_mode & (S_IRUSR | S_IWUSR)) == 0) {
    return make_error(ErrorCode::kPermission,
                      fmt::format("{} has mode {}; it must be 0600 (chmod 0600 {})", path,
                                  mode_string(st.st_mode), path));
  }
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  ScopeExit wipe([&text] { OPENSSL_cleanse(text.data(), text.size()); });

  std::vector<std::string_view> lines;
  for (std::string_view line : split_lines(text)) {
    line = trim(line);
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  if (lines.empty()) {
    return make_error(ErrorCode::kConfig, fmt::format("master key {} is empty", path));
  }
  MasterKeyFile out;
  auto password = base64_decode(lines[0]);
  if (!password) {
    return tl::unexpected(password.error().with_context(fmt::format("master key {} line 1", path)));
  }
  out.password.assign(password->begin(), password->end());
  OPENSSL_cleanse(password->data(), password->size());
  auto chars = utf8_length(out.password);
  if (!chars || *chars < kMinMasterKeyCharacters) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("master key {}: the key must be at least {} UTF-8 characters",
                                  path, kMinMasterKeyCharacters));
  }
  if (lines.size() < 2) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("master key {} has no salt line (written by an older "
                                  "pgmoneta); regenerate your master key with "
                                  "'pgmoneta-admin master-key' and re-add the users",
                                  path));
  }
  auto salt = base64_decode(lines[1]);
  if (!salt) {
    return tl::unexpected(salt.error().with_context(fmt::format("master key {} line 2", path)));
  }
  if (salt->size() != kSaltLength) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("master key {}: salt is {} bytes, expected {}; regenerate your "
                                  "master key",
                                  path, salt->size(), kSaltLength));
  }
  out.salt = std::move(*salt);
  return out;
}

Result<MasterKey> load_master_key() {
  PGM_ASSIGN_OR_RETURN(std::string dir, pgmoneta_home_dir());
  PGM_ASSIGN_OR_RETURN(MasterKeyFile file, load_master_key_file(dir + "/master.key"));
  ScopeExit wipe([&file] { OPENSSL_cleanse(file.password.data(), file.password.size()); });
  return derive_master_key(file.password, file.salt);
}

Result<std::optional<VaultLine>> parse_vault_line(std::string_view line) {
  line = trim(line);
  if (line.empty() || line.front() == '#' || line.front() == ';') {
    return std::nullopt;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos) {
    return make_error(ErrorCode::kConfig, "expected 'name:encrypted-password'");
  }
  std::string_view name = trim(line.substr(0, colon));
  std::string_view encoded = trim(line.substr(colon + 1));
  if (name.empty()) {
    return make_error(ErrorCode::kConfig, "empty user name");
  }
  if (name.size() > kMaxUsernameLength) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("user name longer than {} bytes", kMaxUsernameLength));
  }
  if (encoded.empty()) {
    return make_error(ErrorCode::kConfig, fmt::format("no password for user '{}'", name));
  }
  return VaultLine{std::string(name), std::string(encoded)};
}

Result<std::string> encrypt_vault_password(const MasterKey& key, std::string_view password) {
  if (password.size() > kMaxPasswordLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("password longer than {} bytes", kMaxPasswordLength));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> buffer,
                       aes_encrypt(key, AesMode::kAes256Gcm, as_bytes(password)));
  return base64_encode(buffer);
}

Result<std::string> decrypt_vault_password(const MasterKey& key, std::string_view encoded) {
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> buffer, base64_decode(encoded));
  auto plain = aes_decrypt(key, AesMode::kAes256Gcm, buffer);
  if (!plain) {
    return make_error(ErrorCode::kCorruption,
                      "cannot decrypt the password (wrong master key or damaged entry)");
  }
  std::string out(plain->begin(), plain->end());
  OPENSSL_cleanse(plain->data(), plain->size());
  if (out.size() > kMaxPasswordLength) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("password longer than {} bytes", kMaxPasswordLength));
  }
  return out;
}

Result<std::vector<VaultEntry>> load_vault(const std::string& path, const MasterKey& key,
                                           size_t max_entries) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  std::vector<VaultEntry> entries;
  std::set<std::string> seen;
  size_t line_no = 0;
  for (std::string_view line : split_lines(text)) {
    ++line_no;
    auto where = [&] { return fmt::format("{}:{}", path, line_no); };
    auto parsed = parse_vault_line(line);
    if (!parsed) {
      return tl::unexpected(parsed.error().with_context(where()));
    }
    if (!parsed->has_value()) {
      continue;
    }
    VaultLine& v = **parsed;
    if (!seen.insert(v.name).second) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}: duplicate user '{}'", where(), v.name));
    }
    if (entries.size() >= max_entries) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}: more than {} users", where(), max_entries));
    }
    auto password = decrypt_vault_password(key, v.encoded);
    if (!password) {
      return tl::unexpected(
          password.error().with_context(fmt::format("{}: user '{}'", where(), v.name)));
    }
    entries.push_back(VaultEntry{v.name, std::move(*password)});
  }
  return entries;
}

Result<void> save_vault(const std::string& path, const MasterKey& key,
                        const std::vector<VaultEntry>& entries) {
  std::string text;
  for (const VaultEntry& e : entries) {
    if (e.name.empty() || e.name.find_first_of(":\n\r#;") == 0 ||
        e.name.find_first_of(":\n\r") != std::string::npos) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("invalid user name '{}' for {}", e.name, path));
    }
    PGM_ASSIGN_OR_RETURN(std::string encoded, encrypt_vault_password(key, e.password));
    text += e.name;
    text += ':';
    text += encoded;
    text += '\n';
  }
  return io::write_file_atomic(path, text, 0600);
}

}  // namespace pgm::crypto
