#include "pgm/restore/block_map_backfill.h"

#include <fmt/format.h>

#include "pgm/incremental/format.h"
#include "pgm/log/log.h"
#include "pgm/restore/backup_files.h"
#include "pgm/restore/stored_file.h"

namespace pgm::restore {

Result<incremental::BlockMap> load_or_build_block_map(const std::string& backup_dir,
                                                      const backup::BackupInfo& info,
                                                      const crypto::MasterKey* key) {
  const std::string path = backup_dir + "/" + incremental::kBlockMapFile;
  auto existing = incremental::BlockMap::read(path);
  if (existing || existing.error().code() != ErrorCode::kNotFound) {
    return existing;
  }
  if (info.type != backup::BackupType::kFull) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("incremental backup {} has no {}; take a full backup", info.label,
                                  incremental::kBlockMapFile));
  }
  PGM_ASSIGN_OR_RETURN(BackupFiles files, enumerate_backup(backup_dir, info));
  if (!files.missing.empty()) {
    return make_error(ErrorCode::kCorruption, fmt::format("backup {}: stored file {} is missing",
                                                          info.label, files.missing.front()));
  }
  StoredFileReader reader(key);
  incremental::BlockMap map;
  for (const BackupFile& f : files.files) {
    if (!incremental::parse_relation_path(f.manifest_path)) {
      continue;
    }
    incremental::BlockHasher hasher;
    PGM_ASSIGN_OR_RETURN(uint64_t size,
                         reader.read(f.stored_path, f.plain ? StoredFormat{} : files.format,
                                     [&](std::span<const uint8_t> bytes) -> Result<void> {
                                       hasher.update(bytes);
                                       return {};
                                     }));
    if (incremental::incremental_candidate(f.manifest_path, size)) {
      map.add(f.manifest_path, size, hasher.finish());
    }
  }
  PGM_TRY(map.seal());
  PGM_TRY(map.write(path));
  log::info("backup {}: built {} ({} files, {} blocks)", info.label, incremental::kBlockMapFile,
            map.entries().size(), map.block_count());
  return map;
}

}  // namespace pgm::restore
