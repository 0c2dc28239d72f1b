// Swapping a finished directory into place and clearing what an interrupted swap left.

#include <fcntl.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/repository.h"
#include "pgm/core/result.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/restore/hot_standby.h"

namespace pgm::restore {
namespace {

// Never follows links: pg_tblspc/<oid> of a copy points elsewhere.
using backup::remove_tree;

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<void> rename_path(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    return make_errno_error(fmt::format("rename {} to {}", from, to), errno);
  }
  return {};
}

}  // namespace

Result<void> replace_directory(const std::string& staged, const std::string& target) {
  const std::string parent = io::parent_directory(target);
  const std::string old = target + kOldSuffix;
  if (!exists(target)) {
    PGM_TRY(rename_path(staged, target));
    return io::fsync_directory(parent);
  }
  // One step: both names always hold a whole directory; `staged` then holds the old one.
  if (::renameat2(AT_FDCWD, staged.c_str(), AT_FDCWD, target.c_str(), RENAME_EXCHANGE) == 0) {
    PGM_TRY(io::fsync_directory(parent));
    PGM_TRY(rename_path(staged, old));
  } else if (errno == EINVAL || errno == ENOSYS || errno == ENOTSUP) {
    // No exchange on this file system: two renames; between them only <target>.pgmoneta-old
    // exists, which clear_replace_leftovers puts back.
    PGM_TRY(rename_path(target, old));
    PGM_TRY(rename_path(staged, target));
  } else {
    return make_errno_error(fmt::format("exchange {} with {}", staged, target), errno);
  }
  PGM_TRY(io::fsync_directory(parent));
  PGM_TRY(remove_tree(old));
  return io::fsync_directory(parent);
}

bool clear_replace_leftovers(const std::string& target) {
  bool cleared = false;
  const std::string staged = target + kNewSuffix;
  const std::string old = target + kOldSuffix;
  if (exists(staged)) {
    if (auto r = remove_tree(staged); !r) {
      log::warn("hot standby: {}", r.error().message());
    }
    cleared = true;
  }
  if (exists(old)) {
    if (!exists(target)) {
      if (auto r = rename_path(old, target); !r) {
        log::warn("hot standby: {}", r.error().message());
      }
    } else if (auto r = remove_tree(old); !r) {
      log::warn("hot standby: {}", r.error().message());
    }
    cleared = true;
  }
  if (cleared) {
    io::fsync_directory(io::parent_directory(target)).ignore_error();  // best effort
  }
  return cleared;
}

}  // namespace pgm::restore
