#include <memory>
#include <string>

#include <fmt/format.h>

#include "pgm/storage/sftp_internal.h"

namespace pgm::storage::internal {
namespace {

const char* sftp_status_text(int status) {
  switch (status) {
    case SSH_FX_OK:
      return "ok";
    case SSH_FX_EOF:
      return "end of file";
    case SSH_FX_NO_SUCH_FILE:
      return "no such file";
    case SSH_FX_PERMISSION_DENIED:
      return "permission denied";
    case SSH_FX_FAILURE:
      return "failure";
    case SSH_FX_BAD_MESSAGE:
      return "bad message";
    case SSH_FX_NO_CONNECTION:
      return "no connection";
    case SSH_FX_CONNECTION_LOST:
      return "connection lost";
    case SSH_FX_OP_UNSUPPORTED:
      return "operation unsupported";
    case SSH_FX_INVALID_HANDLE:
      return "invalid handle";
    case SSH_FX_NO_SUCH_PATH:
      return "no such path";
    case SSH_FX_FILE_ALREADY_EXISTS:
      return "file already exists";
    case SSH_FX_WRITE_PROTECT:
      return "write protected";
    case SSH_FX_NO_MEDIA:
      return "no media";
    default:
      return "unknown status";
  }
}

// "imeout"/"timed out" in a libssh message: the deadline passed.
bool mentions_timeout(std::string_view text) {
  return text.find("imeout") != std::string_view::npos ||
         text.find("timed out") != std::string_view::npos;
}

}  // namespace

Error Connection::error(std::string_view what) const {
  const char* ssh_text = ssh_get_error(session_.get());
  std::string cause = ssh_text != nullptr ? ssh_text : "";
  bool lost =
      ssh_is_connected(session_.get()) == 0 || ssh_get_error_code(session_.get()) == SSH_FATAL ||
      (sftp_ != nullptr && sftp_->channel != nullptr && ssh_channel_is_closed(sftp_->channel) != 0);
  if (lost) {
    if (cause.empty()) {
      cause = "connection closed";
    }
    return {mentions_timeout(cause) ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
            fmt::format("{}: connection lost: {}", what, cause)};
  }
  int status = sftp_ != nullptr ? sftp_get_error(sftp_.get()) : SSH_FX_OK;
  ErrorCode code = ErrorCode::kIo;
  switch (status) {
    case SSH_FX_NO_SUCH_FILE:
    case SSH_FX_NO_SUCH_PATH:
      code = ErrorCode::kNotFound;
      break;
    case SSH_FX_PERMISSION_DENIED:
    case SSH_FX_WRITE_PROTECT:
      code = ErrorCode::kPermission;
      break;
    case SSH_FX_NO_CONNECTION:
    case SSH_FX_CONNECTION_LOST:
      code = ErrorCode::kUnavailable;
      break;
    case SSH_FX_OK:
      if (mentions_timeout(cause)) {
        code = ErrorCode::kTimeout;
      }
      break;
    default:
      break;
  }
  if (status == SSH_FX_OK) {
    return {code, fmt::format("{}: {}", what, cause.empty() ? "ssh error" : cause)};
  }
  return {code, fmt::format("{}: {} (SFTP status {})", what, sftp_status_text(status), status)};
}

Result<std::unique_ptr<Connection>> Connection::open(const SftpOptions& options,
                                                     const std::string& ciphers) {
  auto connection = std::make_unique<Connection>();
  std::string where = fmt::format("{}:{}", options.hostname, options.port);
  connection->session_.reset(ssh_new());
  ssh_session session = connection->session_.get();
  if (session == nullptr) {
    return make_error(ErrorCode::kIo, "ssh: ssh_new failed");
  }
  int port = options.port;
  long timeout = static_cast<long>(options.timeout.count());
  bool process_config = false;  // ~/.ssh/config must not change what the options say
  int verbosity = SSH_LOG_NOLOG;
  int nodelay = 1;  // one SFTP request per round trip: Nagle + delayed ACK would stall each
  bool ok =
      ssh_options_set(session, SSH_OPTIONS_HOST, options.hostname.c_str()) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_PORT, &port) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_USER, options.username.c_str()) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_LOG_VERBOSITY, &verbosity) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_NODELAY, &nodelay) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_PROCESS_CONFIG, &process_config) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_KNOWNHOSTS, options.known_hosts_file.c_str()) == 0 &&
      ssh_options_set(session, SSH_OPTIONS_GLOBAL_KNOWNHOSTS, "/dev/null") == 0;
  if (ok && !ciphers.empty()) {
    ok = ssh_options_set(session, SSH_OPTIONS_CIPHERS_C_S, ciphers.c_str()) == 0 &&
         ssh_options_set(session, SSH_OPTIONS_CIPHERS_S_C, ciphers.c_str()) == 0;
  }
  if (!ok) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("ssh: options for {}: {}", where, ssh_get_error(session)));
  }

  if (ssh_connect(session) != SSH_OK) {
    std::string cause = ssh_get_error(session);
    return make_error(mentions_timeout(cause) ? ErrorCode::kTimeout : ErrorCode::kUnavailable,
                      fmt::format("ssh: connect {}: {}", where, cause));
  }

  switch (ssh_session_is_known_server(session)) {
    case SSH_KNOWN_HOSTS_OK:
      break;
    case SSH_KNOWN_HOSTS_CHANGED:
      return make_error(ErrorCode::kPermission,
                        fmt::format("ssh: the host key of {} has changed (known_hosts {}): "
                                    "possible man-in-the-middle; remove the old key if the "
                                    "change is expected",
                                    where, options.known_hosts_file));
    case SSH_KNOWN_HOSTS_OTHER:
      // A key of another type is on record: as suspicious as a changed key, never trusted anew.
      return make_error(ErrorCode::kPermission,
                        fmt::format("ssh: the host key of {} is of another type than the one in "
                                    "known_hosts {}: possible man-in-the-middle; remove the old "
                                    "key if the change is expected",
                                    where, options.known_hosts_file));
    case SSH_KNOWN_HOSTS_UNKNOWN:
    case SSH_KNOWN_HOSTS_NOT_FOUND:
      if (!options.accept_new_host) {
        return make_error(ErrorCode::kPermission,
                          fmt::format("ssh: the host key of {} is not in known_hosts {}; add it "
                                      "(ssh-keyscan) or enable trust on first use",
                                      where, options.known_hosts_file));
      }
      if (ssh_session_update_known_hosts(session) != SSH_OK) {
        return make_error(ErrorCode::kIo,
                          fmt::format("ssh: add {} to known_hosts {}: {}", where,
                                      options.known_hosts_file, ssh_get_error(session)));
      }
      break;
    case SSH_KNOWN_HOSTS_ERROR:
    default:
      return make_error(ErrorCode::kIo,
                        fmt::format("ssh: check the host key of {} against known_hosts {}: {}",
                                    where, options.known_hosts_file, ssh_get_error(session)));
  }

  ssh_key raw_key = nullptr;
  if (ssh_pki_import_privkey_file(options.private_key_file.c_str(), nullptr, nullptr, nullptr,
                                  &raw_key) != SSH_OK) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("ssh: cannot read private key {} (missing, unreadable or "
                                  "protected by a passphrase)",
                                  options.private_key_file));
  }
  KeyPtr key(raw_key);
  int auth = ssh_userauth_publickey(session, nullptr, key.get());
  if (auth != SSH_AUTH_SUCCESS) {
    if (auth == SSH_AUTH_ERROR && ssh_is_connected(session) == 0) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("ssh: authenticate at {}: {}", where, ssh_get_error(session)));
    }
    return make_error(ErrorCode::kPermission,
                      fmt::format("ssh: authentication of user {} at {} with key {} refused",
                                  options.username, where, options.private_key_file));
  }

  connection->sftp_.reset(sftp_new(session));
  if (connection->sftp_ == nullptr) {
    return make_error(ErrorCode::kUnavailable, fmt::format("ssh: open SFTP channel at {}: {}",
                                                           where, ssh_get_error(session)));
  }
  if (sftp_init(connection->sftp_.get()) != SSH_OK) {
    return tl::unexpected<Error>(connection->error(fmt::format("ssh: start SFTP at {}", where)));
  }
  connection->fsync_supported_ =
      sftp_extension_supported(connection->sftp_.get(), "fsync@openssh.com", "1") != 0;
  return connection;
}

}  // namespace pgm::storage::internal
