#include "pgm/backup/catalog_files.h"

#include <algorithm>
#include <optional>

#include <fmt/format.h>

#include "pgm/backup/manifest_index.h"

namespace pgm::backup {

Result<std::string> write_backup_manifest(const std::string& path, const StoredFileList& files) {
  PGM_ASSIGN_OR_RETURN(HashedFile out, HashedFile::create(path));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string_view name = files.manifest_path(i);
    if (name.empty() || name.find('\n') != std::string_view::npos) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("backup.manifest: entry '{}' has an empty path or a newline", name));
    }
    PGM_TRY(out.append(name));
    PGM_TRY(out.append(","));
    PGM_TRY(out.append(crypto::Sha512::hex(files.sha512(i))));
    PGM_TRY(out.append("\n"));
  }
  return out.commit();
}

Result<std::string> write_block_map(const std::string& path, const StoredFileList& files,
                                    std::span<const DeltaOutcome> outcomes) {
  std::vector<const DeltaOutcome*> whole;
  for (const DeltaOutcome& d : outcomes) {
    if (d.incremental) {
      whole.push_back(&d);
    }
  }
  std::sort(whole.begin(), whole.end(), [](const DeltaOutcome* a, const DeltaOutcome* b) {
    return a->manifest_path < b->manifest_path;
  });
  uint64_t count = whole.size();
  for (size_t i = 0; i < files.size(); ++i) {
    count += files.has_block_hashes(i) ? 1 : 0;
  }
  PGM_ASSIGN_OR_RETURN(HashedFile out, HashedFile::create(path));
  incremental::BlockMapWriter writer(count,
                                     [&out](std::string_view bytes) { return out.append(bytes); });
  size_t next = 0;  // of `whole`
  auto add_whole_before = [&](std::optional<std::string_view> limit) -> Result<void> {
    for (; next < whole.size() && (!limit || whole[next]->manifest_path < *limit); ++next) {
      const DeltaOutcome& d = *whole[next];
      PGM_TRY(writer.add(d.manifest_path, d.size, d.block_hashes));
    }
    return {};
  };
  for (size_t i = 0; i < files.size(); ++i) {
    if (files.has_block_hashes(i)) {
      PGM_TRY(add_whole_before(files.manifest_path(i)));
      PGM_TRY(writer.add(files.manifest_path(i), files.file_size(i), files.block_hashes(i)));
    }
  }
  PGM_TRY(add_whole_before(std::nullopt));
  PGM_TRY(writer.finish());
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
