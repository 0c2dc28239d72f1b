// The block map of a full backup taken before backups carried one (or by pgmoneta): built
// from its stored files (decrypted, decompressed, hashed per 8 KB block) and written as
// <backup>/backup.blockmap, so it can be the parent of a block-delta incremental.
#pragma once

#include <string>

#include "pgm/backup/info.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/incremental/block_map.h"

namespace pgm::restore {

// The backup's map: read when present, else built and written (atomically). An incremental
// backup without a map -> kUnavailable (its logical content needs its chain; every
// incremental we write has one). Errors name the file.
Result<incremental::BlockMap> load_or_build_block_map(const std::string& backup_dir,
                                                      const backup::BackupInfo& info,
                                                      const crypto::MasterKey* key);

}  // namespace pgm::restore
