// libFuzzer target: the text files of a backup directory.
//
// Input: the text of a file, given to each parser of pgm/backup/info.h: backup.info,
// backup.sha512, backup.manifest, the COMMENTS value, a label, and PostgreSQL's backup_manifest
// JSON (compared with an empty list of ours). Round trips must hold:
//   backup.info: parse -> format -> parse -> format gives the same text both times (the first
//                format may normalise: timings keep 4 decimals), and the same record;
//   backup.sha512 and backup.manifest: parse -> format -> parse gives the same entries.
//
// Corpus: tests/fuzz/corpus/backup_info (backup.info of pgmoneta 0.22 and ours, a backup.sha512,
// a backup.manifest, a backup_manifest).
// Run longer: build/fuzz/backup_info_fuzz -dict=tests/fuzz/backup_info.dict
//             build/fuzz/scratch/backup_info tests/fuzz/corpus/backup_info
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "pgm/backup/info.h"

namespace {

namespace backup = pgm::backup;

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check_backup_info(std::string_view text) {
  auto info = backup::parse_backup_info(text);
  if (!info) {
    return;
  }
  std::string once = backup::format_backup_info(*info);
  auto again = backup::parse_backup_info(once);
  require(again.has_value());
  std::string twice = backup::format_backup_info(*again);
  require(once == twice);
  auto third = backup::parse_backup_info(twice);
  require(third.has_value() && *third == *again);

  backup::parse_comments(info->comments).ignore_error();  // either verdict is fine
  backup::remote_copies(*info);
}

void check_sha512(std::string_view text) {
  auto entries = backup::parse_sha512_file(text);
  if (!entries) {
    return;
  }
  std::string formatted;
  for (const backup::Sha512Entry& entry : *entries) {
    formatted += backup::format_sha512_line(entry);
  }
  auto again = backup::parse_sha512_file(formatted);
  require(again.has_value() && *again == *entries);
}

void check_manifest(std::string_view text) {
  auto entries = backup::parse_manifest(text);
  if (!entries) {
    return;
  }
  auto formatted = backup::format_manifest(*entries);
  require(formatted.has_value());
  auto again = backup::parse_manifest(*formatted);
  require(again.has_value() && *again == *entries);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_backup_info(text);
  check_sha512(text);
  check_manifest(text);
  backup::parse_comments(text).ignore_error();  // either verdict is fine
  // A calendar date need not be a time the clock holds (years past 2262): either verdict.
  backup::label_time(text).ignore_error();
  backup::compare_with_postgres_manifest(std::span<const backup::ManifestEntryRef>(), text)
      .ignore_error();  // either verdict is fine
  return 0;
}
