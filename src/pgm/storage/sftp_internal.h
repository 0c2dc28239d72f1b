// Module-private: the SSH session of the SFTP engine (sftp.cc). One authenticated session with
// its SFTP channel, owners for libssh handles, and the classification of libssh errors.
// Not thread-safe: a Connection is used by one thread at a time.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <libssh/libssh.h>
#include <libssh/sftp.h>

#include "pgm/core/result.h"
#include "pgm/storage/sftp.h"

namespace pgm::storage::internal {

struct SessionDeleter {
  void operator()(ssh_session session) const {
    if (ssh_is_connected(session) != 0) {
      ssh_disconnect(session);
    }
    ssh_free(session);
  }
};
struct SftpDeleter {
  void operator()(sftp_session sftp) const { sftp_free(sftp); }
};
struct SftpFileDeleter {
  void operator()(sftp_file file) const { sftp_close(file); }
};
struct SftpDirDeleter {
  void operator()(sftp_dir dir) const { sftp_closedir(dir); }
};
struct AttributesDeleter {
  void operator()(sftp_attributes attributes) const { sftp_attributes_free(attributes); }
};
struct KeyDeleter {
  void operator()(ssh_key key) const { ssh_key_free(key); }
};
using SessionPtr = std::unique_ptr<ssh_session_struct, SessionDeleter>;
using SftpPtr = std::unique_ptr<sftp_session_struct, SftpDeleter>;
using SftpFilePtr = std::unique_ptr<sftp_file_struct, SftpFileDeleter>;
using SftpDirPtr = std::unique_ptr<sftp_dir_struct, SftpDirDeleter>;
using AttributesPtr = std::unique_ptr<sftp_attributes_struct, AttributesDeleter>;
using KeyPtr = std::unique_ptr<ssh_key_struct, KeyDeleter>;

// One authenticated SSH session with its SFTP channel.
class Connection {
 public:
  static Result<std::unique_ptr<Connection>> open(const SftpOptions& options,
                                                  const std::string& ciphers);

  sftp_session sftp() const { return sftp_.get(); }
  bool fsync_supported() const { return fsync_supported_; }

  // The error of the last failed libssh/SFTP call, as "<what>: <cause>", classified:
  // kUnavailable/kTimeout when the session is gone, kNotFound, kPermission, else kIo.
  Error error(std::string_view what) const;

  int status() const { return sftp_get_error(sftp_.get()); }

 private:
  SessionPtr session_;  // declared first: destroyed after sftp_
  SftpPtr sftp_;
  bool fsync_supported_ = false;
};

}  // namespace pgm::storage::internal
