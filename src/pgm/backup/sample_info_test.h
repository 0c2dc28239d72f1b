// Test-only: a BackupInfo with typical values (a PostgreSQL 15 backup, client-side zstd),
// shared by the catalog tests and the daemon's JSON tests.
#pragma once

#include <string>

#include "pgm/backup/info.h"

namespace pgm::backup {

inline BackupInfo sample_info(const std::string& label, bool valid = true) {
  BackupInfo info;
  info.label = label;
  info.valid = valid;
  info.wal = "000000010000000000000002";
  info.backup_size = 1000;
  info.restore_size = 5000;
  info.biggest_file_size = 400;
  info.compression = 0x12;
  info.major_version = 15;
  info.start_lsn = 0x100000028ULL;
  info.end_lsn = 0x200000100ULL;
  info.checkpoint_lsn = 0x100000060ULL;
  info.start_timeline = 1;
  info.end_timeline = 1;
  return info;
}

}  // namespace pgm::backup
