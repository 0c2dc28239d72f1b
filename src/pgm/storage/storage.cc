#include "pgm/storage/storage.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "pgm/core/scope_exit.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::storage {

ErrorKind kind(const Error& error) {
  switch (error.code()) {
    case ErrorCode::kPermission:
      return ErrorKind::kAuth;
    case ErrorCode::kNotFound:
      return ErrorKind::kNotFound;
    case ErrorCode::kUnavailable:
    case ErrorCode::kTimeout:
      return ErrorKind::kRetryable;
    default:
      return ErrorKind::kPermanent;
  }
}

Result<void> download_verified(Storage& storage, std::string_view key,
                               const std::string& dest_path) {
  PGM_ASSIGN_OR_RETURN(ObjectInfo info, storage.head(key));
  if (info.sha512.empty()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: {}: stored without a SHA-512: it cannot be verified",
                                  storage.name(), key));
  }
  std::string temp = fmt::format("{}.download.{}", dest_path, ::getpid());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", temp), errno);
  }
  // After success dest_path is a second link to the same file; the temp name always goes.
  ScopeExit cleanup([&] { ::unlink(temp.c_str()); });
  PGM_ASSIGN_OR_RETURN(crypto::Sha512 sha, crypto::Sha512::create());
  uint64_t received = 0;
  auto sink = [&](std::span<const uint8_t> data) -> Result<void> {
    sha.update(data);
    received += data.size();
    return io::write_all(fd.get(), data, "write", temp);
  };
  PGM_TRY(storage.get(key, 0, std::nullopt, sink));
  std::string got = crypto::Sha512::hex(sha.final());
  if (got != info.sha512) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: {}: SHA-512 mismatch: stored {}, downloaded {} ({} bytes)",
                                  storage.name(), key, info.sha512, got, received));
  }
  if (::fsync(fd.get()) != 0) {
    return make_errno_error(fmt::format("fsync {}", temp), errno);
  }
  fd.reset();
  // link() + unlink() rather than rename(): an existing dest_path is never replaced.
  if (::link(temp.c_str(), dest_path.c_str()) != 0) {
    return make_errno_error(fmt::format("link {} to {}", temp, dest_path), errno);
  }
  PGM_TRY(io::fsync_directory(io::parent_directory(dest_path)));
  return {};
}

}  // namespace pgm::storage
