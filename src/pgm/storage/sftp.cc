#include "pgm/storage/sftp.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <functional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/core/scope_exit.h"
#include "pgm/core/unique_fd.h"
#include "pgm/io/fd.h"
#include "pgm/storage/sftp_internal.h"

namespace pgm::storage {
namespace {

using internal::AttributesPtr;
using internal::Connection;
using internal::SftpDirPtr;
using internal::SftpFilePtr;

// One SFTP request carries at most this many bytes: OpenSSH's server caps messages at 256 KiB,
// so 64 KiB requests are safe everywhere while keeping memory bounded.
constexpr size_t kChunkSize = size_t{64} * 1024;
// Local reads are batched into this many bytes, then sent as kChunkSize requests.
constexpr size_t kFileBufferSize = size_t{256} * 1024;
constexpr std::string_view kDigestSuffix = kSideFileSuffix;  // storage.h
constexpr std::string_view kTempMarker = ".tmp.";

std::string home_directory() {
  std::array<char, 4096> buffer{};
  passwd pw{};
  passwd* found = nullptr;
  if (getpwuid_r(geteuid(), &pw, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_dir != nullptr) {
    return found->pw_dir;
  }
  return "/";
}

bool ends_with(std::string_view text, std::string_view suffix) {
  return text.size() >= suffix.size() && text.substr(text.size() - suffix.size()) == suffix;
}

// "<name>.tmp.<digits>": an upload in progress or left behind by a crash.
bool is_temp_name(std::string_view name) {
  size_t at = name.rfind(kTempMarker);
  if (at == std::string_view::npos || at + kTempMarker.size() == name.size()) {
    return false;
  }
  std::string_view digits = name.substr(at + kTempMarker.size());
  return std::all_of(digits.begin(), digits.end(),
                     [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; });
}

// Keys are relative '/'-separated paths without empty, "." or ".." components.
Result<void> check_key(std::string_view key) {
  if (key.empty() || key.front() == '/' || key.back() == '/') {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("ssh: invalid key '{}'", key));
  }
  size_t start = 0;
  while (start <= key.size()) {
    size_t end = key.find('/', start);
    if (end == std::string_view::npos) {
      end = key.size();
    }
    std::string_view part = key.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("ssh: invalid key '{}'", key));
    }
    start = end + 1;
  }
  return {};
}

class SftpStorage final : public Storage {
 public:
  SftpStorage(SftpOptions options, std::string ciphers, std::unique_ptr<Connection> connection)
      : options_(std::move(options)),
        ciphers_(std::move(ciphers)),
        connection_(std::move(connection)),
        rng_(std::random_device{}()) {}

  std::string name() const override { return "ssh"; }

  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha512_hex) override {
    PGM_TRY(check_key(key));
    std::string context = fmt::format("ssh: put {}", key);
    std::string_view last = key.substr(key.rfind('/') + 1);
    if (ends_with(last, kDigestSuffix) || is_temp_name(last)) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("{}: names ending in .pgm-sha512 or .tmp.<pid> are reserved", context));
    }
    std::string digest(sha512_hex);
    std::transform(digest.begin(), digest.end(), digest.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    if (digest.empty() || !std::all_of(digest.begin(), digest.end(), [](char c) {
          return std::isxdigit(static_cast<unsigned char>(c)) != 0;
        })) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: SHA-512 is not a hex string", context));
    }
    digest.push_back('\n');
    std::string remote = remote_path(key);
    auto result = with_retry<void>([&](Connection& connection) -> Result<void> {
      PGM_TRY(make_parents(connection, remote));
      PGM_TRY(write_atomically(connection, remote, [&](sftp_file file) -> Result<void> {
        return upload_file(connection, file, path);
      }));
      return write_atomically(connection, remote + std::string(kDigestSuffix),
                              [&](sftp_file file) -> Result<void> {
                                return write_all(connection, file, digest.data(), digest.size());
                              });
    });
    if (!result) {
      return tl::unexpected<Error>(result.error().with_context(context));
    }
    return {};
  }

  Result<ObjectInfo> head(std::string_view key) override {
    PGM_TRY(check_key(key));
    std::string remote = remote_path(key);
    auto result = with_retry<ObjectInfo>([&](Connection& connection) -> Result<ObjectInfo> {
      AttributesPtr attributes(sftp_stat(connection.sftp(), remote.c_str()));
      if (attributes == nullptr) {
        return tl::unexpected<Error>(connection.error(fmt::format("stat {}", remote)));
      }
      if (attributes->type != SSH_FILEXFER_TYPE_REGULAR) {
        return make_error(ErrorCode::kNotFound, fmt::format("{} is not a file", remote));
      }
      ObjectInfo info;
      info.key = std::string(key);
      info.size = attributes->size;
      PGM_ASSIGN_OR_RETURN(info.sha512, read_digest(connection, remote));
      return info;
    });
    if (!result) {
      return tl::unexpected<Error>(result.error().with_context(fmt::format("ssh: head {}", key)));
    }
    return result;
  }

  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override {
    PGM_TRY(check_key(key));
    std::string remote = remote_path(key);
    uint64_t delivered = 0;  // a retry resumes after what the sink already has
    bool sink_failed = false;
    std::vector<uint8_t> buffer(kChunkSize);
    auto result = with_retry<void>(
        [&](Connection& connection) -> Result<void> {
          SftpFilePtr file(sftp_open(connection.sftp(), remote.c_str(), O_RDONLY, 0));
          if (file == nullptr) {
            return tl::unexpected<Error>(connection.error(fmt::format("open {}", remote)));
          }
          if (sftp_seek64(file.get(), offset + delivered) < 0) {
            return tl::unexpected<Error>(connection.error(fmt::format("seek {}", remote)));
          }
          while (!length || delivered < *length) {
            size_t want = kChunkSize;
            if (length) {
              want = static_cast<size_t>(std::min<uint64_t>(want, *length - delivered));
            }
            ssize_t got = sftp_read(file.get(), buffer.data(), want);
            if (got < 0) {
              return tl::unexpected<Error>(connection.error(fmt::format("read {}", remote)));
            }
            if (got == 0) {
              break;  // end of the object
            }
            auto sunk = sink(std::span<const uint8_t>(buffer.data(), static_cast<size_t>(got)));
            if (!sunk) {
              sink_failed = true;
              return sunk;
            }
            delivered += static_cast<uint64_t>(got);
          }
          return {};
        },
        &sink_failed);
    if (!result) {
      return tl::unexpected<Error>(result.error().with_context(fmt::format("ssh: get {}", key)));
    }
    return {};
  }

  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override {
    std::string start(
        prefix.substr(0, prefix.rfind('/') == std::string_view::npos ? 0 : prefix.rfind('/') + 1));
    auto result = with_retry<std::vector<ObjectInfo>>(
        [&](Connection& connection) -> Result<std::vector<ObjectInfo>> {
          std::vector<ObjectInfo> objects;
          PGM_TRY(walk(connection, start, prefix, true, objects));
          std::sort(objects.begin(), objects.end(),
                    [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
          return objects;
        });
    if (!result) {
      return tl::unexpected<Error>(
          result.error().with_context(fmt::format("ssh: list '{}'", prefix)));
    }
    return result;
  }

  Result<void> remove(std::span<const std::string> keys) override {
    for (const std::string& key : keys) {
      PGM_TRY(check_key(key));
    }
    for (const std::string& key : keys) {
      std::string remote = remote_path(key);
      auto result = with_retry<void>([&](Connection& connection) -> Result<void> {
        for (const std::string& target : {remote, remote + std::string(kDigestSuffix)}) {
          if (sftp_unlink(connection.sftp(), target.c_str()) < 0) {
            Error error = connection.error(fmt::format("unlink {}", target));
            if (error.code() != ErrorCode::kNotFound) {
              return tl::unexpected<Error>(error);
            }
          }
        }
        remove_empty_parents(connection, key);
        return {};
      });
      if (!result) {
        return tl::unexpected<Error>(
            result.error().with_context(fmt::format("ssh: remove {}", key)));
      }
    }
    return {};
  }

 private:
  std::string remote_path(std::string_view key) const {
    return fmt::format("{}/{}", options_.base_dir, key);
  }

  // Runs op on a live connection; on a retryable error drops the session, waits (exponential
  // backoff with jitter), reconnects and tries again, options_.attempts times in all. A set
  // *give_up (the operation's own verdict, e.g. the sink failed) stops retrying.
  template <typename T, typename Op>
  Result<T> with_retry(Op&& op, const bool* give_up = nullptr) {
    std::chrono::milliseconds delay = options_.retry_delay;
    std::string first_failure;
    for (int attempt = 1;; ++attempt) {
      Result<T> result = [&]() -> Result<T> {
        if (connection_ == nullptr) {
          PGM_ASSIGN_OR_RETURN(connection_, Connection::open(options_, ciphers_));
        }
        return op(*connection_);
      }();
      if (result || kind(result.error()) != ErrorKind::kRetryable ||
          (give_up != nullptr && *give_up)) {
        return result;
      }
      connection_.reset();  // the session is broken; the next attempt opens a new one
      const Error& error = result.error();
      if (attempt >= options_.attempts) {
        std::string message =
            fmt::format("giving up after {} attempts: {}", attempt, error.message());
        if (!first_failure.empty() && first_failure != error.message()) {
          message += fmt::format(" (first failure: {})", first_failure);
        }
        return tl::unexpected<Error>(Error(error.code(), std::move(message)));
      }
      if (first_failure.empty()) {
        first_failure = error.message();
      }
      std::uniform_int_distribution<int64_t> jitter(0, delay.count());
      std::this_thread::sleep_for(delay + std::chrono::milliseconds(jitter(rng_)));
      delay *= 2;
    }
  }

  // Creates the directories above `remote` (mode 0700) that do not exist yet.
  static Result<void> make_parents(Connection& connection, const std::string& remote) {
    std::string parent = remote.substr(0, remote.rfind('/'));
    if (parent.empty()) {
      return {};
    }
    AttributesPtr existing(sftp_stat(connection.sftp(), parent.c_str()));
    if (existing != nullptr && existing->type == SSH_FILEXFER_TYPE_DIRECTORY) {
      return {};
    }
    size_t at = parent.front() == '/' ? 1 : 0;
    while (at <= parent.size()) {
      size_t end = parent.find('/', at);
      if (end == std::string::npos) {
        end = parent.size();
      }
      std::string directory = parent.substr(0, end);
      if (sftp_mkdir(connection.sftp(), directory.c_str(), 0700) < 0) {
        Error error = connection.error(fmt::format("mkdir {}", directory));
        if (kind(error) == ErrorKind::kRetryable) {
          return tl::unexpected<Error>(error);
        }
        // Usually "already exists" (an earlier upload, or another worker just made it).
        AttributesPtr attributes(sftp_stat(connection.sftp(), directory.c_str()));
        if (attributes == nullptr) {
          // The session may have died between the two calls: then the stat's error says so
          // (and is retried), where the mkdir's stale status would not.
          Error lost = connection.error(fmt::format("stat {}", directory));
          return tl::unexpected<Error>(kind(lost) == ErrorKind::kRetryable ? lost : error);
        }
        if (attributes->type != SSH_FILEXFER_TYPE_DIRECTORY) {
          return tl::unexpected<Error>(error);
        }
      }
      at = end + 1;
    }
    return {};
  }

  // Writes `final_path` through "<final_path>.tmp.<pid>": fill, fsync (when the server offers
  // fsync@openssh.com), close, rename. libssh 0.10 has no posix-rename@openssh.com call: its
  // sftp_rename sends the plain SFTP rename, which OpenSSH implements as link + unlink and which
  // refuses an existing target. Replacing an object therefore removes the old one first: a
  // reader can briefly see no object (never a partial one) under the key.
  static Result<void> write_atomically(Connection& connection, const std::string& final_path,
                                       const std::function<Result<void>(sftp_file)>& fill) {
    std::string temp = fmt::format("{}{}{}", final_path, kTempMarker, getpid());
    SftpFilePtr file(sftp_open(connection.sftp(), temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                               S_IRUSR | S_IWUSR));
    if (file == nullptr) {
      return tl::unexpected<Error>(connection.error(fmt::format("create {}", temp)));
    }
    ScopeExit discard([&] {
      file.reset();
      sftp_unlink(connection.sftp(), temp.c_str());  // best effort; list() hides leftovers
    });
    PGM_TRY(fill(file.get()));
    if (connection.fsync_supported() && sftp_fsync(file.get()) < 0) {
      return tl::unexpected<Error>(connection.error(fmt::format("fsync {}", temp)));
    }
    if (sftp_close(file.release()) < 0) {
      return tl::unexpected<Error>(connection.error(fmt::format("close {}", temp)));
    }
    if (sftp_rename(connection.sftp(), temp.c_str(), final_path.c_str()) < 0) {
      Error error = connection.error(fmt::format("rename {} to {}", temp, final_path));
      if (kind(error) == ErrorKind::kRetryable) {
        return tl::unexpected<Error>(error);
      }
      AttributesPtr target(sftp_stat(connection.sftp(), final_path.c_str()));
      if (target == nullptr || sftp_unlink(connection.sftp(), final_path.c_str()) < 0 ||
          sftp_rename(connection.sftp(), temp.c_str(), final_path.c_str()) < 0) {
        return tl::unexpected<Error>(error);
      }
    }
    discard.dismiss();
    return {};
  }

  static Result<void> write_all(Connection& connection, sftp_file file, const char* data,
                                size_t size) {
    while (size > 0) {
      size_t piece = std::min(size, kChunkSize);
      ssize_t written = sftp_write(file, data, piece);
      if (written <= 0) {
        return tl::unexpected<Error>(connection.error("write"));
      }
      data += written;
      size -= static_cast<size_t>(written);
    }
    return {};
  }

  static Result<void> upload_file(Connection& connection, sftp_file file, const std::string& path) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      return make_errno_error(fmt::format("open {}", path), errno);
    }
    std::vector<char> buffer(kFileBufferSize);
    for (;;) {
      PGM_ASSIGN_OR_RETURN(size_t got, io::read_some(fd.get(), buffer, "read", path));
      if (got == 0) {
        return {};
      }
      PGM_TRY(write_all(connection, file, buffer.data(), got));
    }
  }

  // The stored digest of `remote`, empty when it has no side file.
  static Result<std::string> read_digest(Connection& connection, const std::string& remote) {
    std::string path = remote + std::string(kDigestSuffix);
    SftpFilePtr file(sftp_open(connection.sftp(), path.c_str(), O_RDONLY, 0));
    if (file == nullptr) {
      Error error = connection.error(fmt::format("open {}", path));
      if (error.code() == ErrorCode::kNotFound) {
        return std::string();
      }
      return tl::unexpected<Error>(error);
    }
    std::string digest;
    std::array<char, 1024> buffer{};
    while (digest.size() < 4096) {
      ssize_t got = sftp_read(file.get(), buffer.data(), buffer.size());
      if (got < 0) {
        return tl::unexpected<Error>(connection.error(fmt::format("read {}", path)));
      }
      if (got == 0) {
        break;
      }
      digest.append(buffer.data(), static_cast<size_t>(got));
    }
    while (!digest.empty() && std::isspace(static_cast<unsigned char>(digest.back())) != 0) {
      digest.pop_back();
    }
    return digest;
  }

  // Adds the objects under directory `relative` ("" or ending in '/') whose key starts with
  // `prefix`. A missing start directory is an empty listing.
  Result<void> walk(Connection& connection, const std::string& relative, std::string_view prefix,
                    bool is_start, std::vector<ObjectInfo>& objects) const {
    std::string directory =
        relative.empty() ? options_.base_dir
                         : fmt::format("{}/{}", options_.base_dir,
                                       std::string_view(relative).substr(0, relative.size() - 1));
    SftpDirPtr dir(sftp_opendir(connection.sftp(), directory.c_str()));
    if (dir == nullptr) {
      Error error = connection.error(fmt::format("opendir {}", directory));
      if (is_start && error.code() == ErrorCode::kNotFound) {
        return {};
      }
      return tl::unexpected<Error>(error);
    }
    std::vector<std::string> subdirectories;
    for (;;) {
      AttributesPtr entry(sftp_readdir(connection.sftp(), dir.get()));
      if (entry == nullptr) {
        if (sftp_dir_eof(dir.get()) == 0) {
          return tl::unexpected<Error>(connection.error(fmt::format("readdir {}", directory)));
        }
        break;
      }
      std::string_view name = entry->name != nullptr ? entry->name : "";
      if (name.empty() || name == "." || name == "..") {
        continue;
      }
      std::string key = relative + std::string(name);
      if (entry->type == SSH_FILEXFER_TYPE_DIRECTORY) {
        std::string sub = key + "/";
        // Descend only where keys can still match the prefix.
        if (sub.compare(0, std::min(sub.size(), prefix.size()), prefix, 0,
                        std::min(sub.size(), prefix.size())) == 0) {
          subdirectories.push_back(std::move(sub));
        }
      } else if (entry->type == SSH_FILEXFER_TYPE_REGULAR) {
        if (ends_with(name, kDigestSuffix) || is_temp_name(name) ||
            std::string_view(key).substr(0, prefix.size()) != prefix) {
          continue;
        }
        objects.push_back(ObjectInfo{std::move(key), entry->size, ""});
      }
    }
    dir.reset();
    for (const std::string& sub : subdirectories) {
      PGM_TRY(walk(connection, sub, prefix, false, objects));
    }
    return {};
  }

  // Removes now-empty directories between the key and base_dir; stops at the first that is not
  // empty (or cannot be removed).
  void remove_empty_parents(Connection& connection, std::string_view key) const {
    std::string relative(key);
    for (size_t slash = relative.rfind('/'); slash != std::string::npos;
         slash = relative.rfind('/')) {
      relative.resize(slash);
      std::string directory = remote_path(relative);
      if (sftp_rmdir(connection.sftp(), directory.c_str()) < 0) {
        return;
      }
    }
  }

  SftpOptions options_;
  std::string ciphers_;
  std::unique_ptr<Connection> connection_;  // null after a failure until the next operation
  std::minstd_rand rng_;                    // backoff jitter
};

}  // namespace

Result<std::string> openssh_cipher_list(std::string_view ciphers) {
  static constexpr std::array<std::string_view, 10> kSupported = {
      "aes256-ctr",
      "aes192-ctr",
      "aes128-ctr",
      "aes256-cbc",
      "aes192-cbc",
      "aes128-cbc",
      "3des-cbc",
      "aes256-gcm@openssh.com",
      "aes128-gcm@openssh.com",
      "chacha20-poly1305@openssh.com",
  };
  std::string out;
  size_t start = 0;
  while (start <= ciphers.size()) {
    size_t end = ciphers.find(',', start);
    if (end == std::string_view::npos) {
      end = ciphers.size();
    }
    std::string name(ciphers.substr(start, end - start));
    start = end + 1;
    name.erase(std::remove_if(name.begin(), name.end(),
                              [](char c) { return std::isspace(static_cast<unsigned char>(c)); }),
               name.end());
    std::transform(name.begin(), name.end(), name.begin(),
                   [](char c) { return static_cast<char>(std::tolower(c)); });
    // pgmoneta's words: "aes-256-ctr" -> "aes256-ctr"; the GCM modes carry OpenSSH's suffix.
    if (name.rfind("aes-", 0) == 0) {
      name.erase(3, 1);
      if (ends_with(name, "-gcm")) {
        name += "@openssh.com";
      }
    }
    if (std::find(kSupported.begin(), kSupported.end(), name) == kSupported.end()) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("ssh_ciphers: unsupported cipher '{}' in '{}'", name, ciphers));
    }
    if (!out.empty()) {
      out += ',';
    }
    out += name;
  }
  return out;
}

Result<std::unique_ptr<Storage>> make_sftp_storage(SftpOptions options) {
  if (options.hostname.empty() || options.username.empty() || options.base_dir.empty()) {
    return make_error(ErrorCode::kConfig,
                      "ssh: ssh_hostname, ssh_username and ssh_base_dir are required");
  }
  if (options.port <= 0 || options.port > 65535) {
    return make_error(ErrorCode::kConfig, fmt::format("ssh: invalid ssh_port {}", options.port));
  }
  if (options.attempts < 1) {
    options.attempts = 1;
  }
  while (options.base_dir.size() > 1 && options.base_dir.back() == '/') {
    options.base_dir.pop_back();
  }
  std::string home = home_directory();
  if (options.private_key_file.empty()) {
    options.private_key_file = home + "/.ssh/id_rsa";
  }
  if (options.public_key_file.empty()) {
    options.public_key_file = options.private_key_file + ".pub";
  }
  if (options.known_hosts_file.empty()) {
    options.known_hosts_file = home + "/.ssh/known_hosts";
  }
  std::string ciphers;
  if (!options.ciphers.empty()) {
    PGM_ASSIGN_OR_RETURN(ciphers, openssh_cipher_list(options.ciphers));
  }
  PGM_ASSIGN_OR_RETURN(auto connection, Connection::open(options, ciphers));
  return std::unique_ptr<Storage>(
      std::make_unique<SftpStorage>(std::move(options), std::move(ciphers), std::move(connection)));
}

}  // namespace pgm::storage
