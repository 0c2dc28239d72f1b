#include "pgm/metrics/snapshot.h"

#include <cctype>
#include <cstdlib>

#include "pgm/backup/info.h"
#include "pgm/compress/names.h"
#include "pgm/crypto/aes.h"

namespace pgm::metrics {

std::string compression_name(uint8_t type_byte) { return compress::type_byte_name(type_byte); }

std::string encryption_name(uint8_t mode) {
  auto m = crypto::aes_mode_from_byte(mode);
  return std::string(m ? crypto::aes_mode_name(*m) : "unknown");
}

BackupSnapshot backup_from_info(const backup::BackupInfo& info) {
  BackupSnapshot b;
  b.info_readable = true;
  b.valid = info.valid;
  b.keep = info.keep;
  b.incremental = info.type == backup::BackupType::kIncremental;
  b.parent = info.parent;
  b.backup_size = info.backup_size;
  b.restore_size = info.restore_size;
  b.start_timeline = info.start_timeline;
  b.end_timeline = info.end_timeline;
  b.start_lsn = info.start_lsn;
  b.end_lsn = info.end_lsn;
  b.checkpoint_lsn = info.checkpoint_lsn;
  b.elapsed_seconds = info.elapsed.count();
  b.major_version = info.major_version;
  b.minor_version = info.minor_version;
  b.compression = compression_name(info.compression);
  b.encryption = encryption_name(info.encryption);
  b.remote = backup::remote_copies(info);
  // Proven restores (ours, restore/proven.h) are extra keys of backup.info.
  for (const auto& [key, value] : info.extra_keys) {
    if (key == "PROVEN_RESTORE") {
      b.proven_restore = value == "1";
    } else if (key == "PROVEN_RESTORE_TIME") {
      b.proven_restore_time = value;
    } else if (key == "PROVEN_RESTORE_ELAPSED") {
      char* end = nullptr;
      double seconds = std::strtod(value.c_str(), &end);
      if (end != value.c_str()) {
        b.proven_restore_elapsed_seconds = seconds;
      }
    }
  }
  return b;
}

}  // namespace pgm::metrics
