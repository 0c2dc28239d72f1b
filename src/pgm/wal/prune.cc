#include "pgm/wal/prune.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/io/file.h"

namespace pgm::wal {
namespace {

Result<std::optional<std::vector<std::string>>> list_directory_if_present(const std::string& dir) {
  auto names = io::list_directory(dir);
  if (!names) {
    if (names.error().code() == ErrorCode::kNotFound) {
      return std::optional<std::vector<std::string>>();
    }
    return tl::unexpected(names.error());
  }
  return std::optional<std::vector<std::string>>(std::move(*names));
}

// Whether the WAL file `name` belongs to a segment before oldest_needed. kInvalidArgument when
// its segment name does not fit seg_size.
Result<bool> is_prunable(const std::string& name, SegmentNo oldest_needed, uint64_t seg_size) {
  WalFileInfo info = classify_wal_file(name);
  if (info.kind != WalFileKind::kSegment && info.kind != WalFileKind::kPartial) {
    return false;
  }
  PGM_ASSIGN_OR_RETURN(SegmentId id, parse_segment_name(info.base, seg_size));
  return id.segno < oldest_needed;
}

}  // namespace

Result<PruneResult> prune_wal(const std::string& dir, SegmentNo oldest_needed, uint64_t seg_size) {
  PGM_TRY(check_segment_size(seg_size));
  PGM_ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> entries,
                       list_directory_if_present(dir));
  PruneResult result;
  if (!entries) {
    return result;
  }

  // Decide for every entry first, so a name that contradicts seg_size removes nothing.
  std::vector<std::string> doomed;
  for (std::string& entry : *entries) {
    auto prunable = is_prunable(entry, oldest_needed, seg_size);
    if (!prunable) {
      return tl::unexpected(prunable.error().with_context(fmt::format("prune {}/{}", dir, entry)));
    }
    if (*prunable) {
      doomed.push_back(std::move(entry));
    }
  }

  // An error after some removals: make those durable (best effort, the error at hand is the
  // one to report) and say how many went.
  auto fail = [&](const Error& error) {
    if (result.removed > 0) {
      io::fsync_directory(dir).ignore_error();  // dropped: reporting `error` instead
    }
    return tl::unexpected<Error>(
        error.with_context(fmt::format("prune {} ({} files removed before)", dir, result.removed)));
  };
  for (std::string& name : doomed) {
    std::string path = fmt::format("{}/{}", dir, name);
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) {
        continue;  // removed meanwhile by a concurrent prune
      }
      return fail(errno_error(fmt::format("stat {}", path), errno));
    }
    if (::unlink(path.c_str()) != 0) {
      if (errno == ENOENT) {
        continue;
      }
      return fail(errno_error(fmt::format("remove {}", path), errno));
    }
    ++result.removed;
    result.bytes += static_cast<uint64_t>(st.st_size);
    result.names.push_back(std::move(name));
  }

  if (result.removed > 0) {
    PGM_TRY(io::fsync_directory(dir));
  }
  return result;
}

Result<PruneResult> prune_wal_before(const std::string& dir, std::string_view oldest_segment_name,
                                     uint64_t seg_size) {
  PGM_TRY(check_segment_size(seg_size));
  auto id = parse_segment_name(oldest_segment_name, seg_size);
  if (!id) {
    return tl::unexpected(id.error().with_context(fmt::format("prune {}", dir)));
  }
  return prune_wal(dir, id->segno, seg_size);
}

}  // namespace pgm::wal
