#include "pgm/backup/catalog_files.h"

#include <algorithm>

#include <fmt/format.h>

#include "pgm/backup/manifest_index.h"

namespace pgm::backup {

// backup.manifest: "<manifest path>,<sha512>" per file, in the order of `files` (sorted by
// manifest path). Returns its SHA-512 hex. Paths and checksums are checked as
// format_manifest() checks them.
Result<std::string> write_backup_manifest(const std::string& path,
                                          const std::vector<StoredFile>& files) {
  PGM_ASSIGN_OR_RETURN(HashedFile out, HashedFile::create(path));
  for (const StoredFile& f : files) {
    if (f.manifest_path.empty() || f.manifest_path.find('\n') != std::string::npos ||
        !crypto::is_sha512_hex(f.sha512)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("backup.manifest: entry '{}' has an empty path, a newline or "
                                    "no SHA-512",
                                    f.manifest_path));
    }
    PGM_TRY(out.append(f.manifest_path));
    PGM_TRY(out.append(","));
    PGM_TRY(out.append(f.sha512));
    PGM_TRY(out.append("\n"));
  }
  return out.commit();
}

// The previous backup's backup.sha512 lines of `paths` (sorted), read as a stream; empty when
// it cannot be read whole (the new backup's own hashes are then kept, as they always may be).
std::map<std::string, std::string> previous_stored_hashes(const std::string& previous_dir,
                                                          const std::vector<std::string>& paths) {
  std::map<std::string, std::string> found;
  auto read = io::for_each_line(
      previous_dir + "/backup.sha512", [&](std::string_view line, size_t number) -> Result<void> {
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(Sha512Line l, parse_sha512_line(line, number));
        if (std::binary_search(paths.begin(), paths.end(), l.path)) {
          found[std::string(l.path)] = crypto::Sha512::hex(l.sha512);
        }
        return {};
      });
  if (!read) {
    found.clear();
  }
  return found;
}

}  // namespace pgm::backup
