// libFuzzer target: the restore position grammar (`pgmoneta-cli restore <server> <id>
// [position] <dir>`) and the backup choice it drives.
//
// Input: the position text, optionally followed by '\n' and a backup.info (a position holds no
// newline). The text goes to parse_position() and, on its own, to parse_timestamp(). A position
// that parses selects a backup with select_backup() from a repository of three backups (a valid
// one on timeline 1, an invalid one, a valid one on timeline 2; the backup.info, when it parses,
// replaces the third, its LABEL naming the entry) for each of the ids newest, oldest and a label;
// a backup it picks must be one of those entries.
//
// Corpus: tests/fuzz/corpus/position (one word per kind, and combinations).
// Run longer: build/fuzz/position_fuzz -dict=tests/fuzz/position.dict
//             build/fuzz/scratch/position tests/fuzz/corpus/position
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "pgm/restore/position.h"

namespace {

namespace backup = pgm::backup;

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

backup::BackupEntry entry(const char* label, bool valid, uint64_t start, uint64_t end,
                          uint32_t timeline) {
  backup::BackupInfo info;
  info.label = label;
  info.valid = valid;
  info.start_lsn = start;
  info.end_lsn = end;
  info.start_timeline = timeline;
  info.end_timeline = timeline;
  info.elapsed = backup::Seconds(12.5);
  return {label, std::string("/repo/") + label, info, "", false};
}

std::vector<backup::BackupEntry> repository(std::string_view info_text) {
  std::vector<backup::BackupEntry> entries = {
      entry("20260101120000", true, 0x2000028, 0x2000100, 1),
      entry("20260102120000", false, 0x4000028, 0x4000100, 1),
      entry("20260103120000", true, 0x100000028, 0x100000100, 2),
  };
  if (auto info = backup::parse_backup_info(info_text)) {
    entries.back().label = info->label;
    entries.back().info = std::move(*info);
  }
  return entries;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t newline = input.find('\n');
  std::string_view text = input.substr(0, newline);
  pgm::restore::parse_timestamp(text).ignore_error();  // either verdict is fine

  auto position = pgm::restore::parse_position(text);
  if (!position) {
    return 0;
  }
  const std::vector<backup::BackupEntry> entries = repository(
      newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1));
  for (std::string_view id : {"newest", "oldest", "20260102120000"}) {
    auto picked = pgm::restore::select_backup(entries, id, *position, "primary");
    if (picked) {
      require(*picked >= entries.data() && *picked < entries.data() + entries.size());
    }
  }
  return 0;
}
