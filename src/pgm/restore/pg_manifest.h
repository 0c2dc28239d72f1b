// PostgreSQL's backup_manifest for a directory a restore rebuilt from an incremental chain.
//
// The manifest of a PostgreSQL 17+ incremental backup lists its INCREMENTAL.<relfile> files; the
// restored directory holds whole relation files instead, so pg_verifybackup would fail on it.
// pg_combinebackup writes a new manifest; so do we, keeping PostgreSQL's text line for line and
// replacing only each INCREMENTAL entry (its path, size and checksum become the rebuilt file's)
// and the Manifest-Checksum: the SHA-256 of every byte up to and including the newline that
// precedes the last line, which is how pg_verifybackup checks it. Pure text in, text out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "pgm/core/result.h"

namespace pgm::restore {

// A file the restore rebuilt, by its data-relative path ("base/5/16384").
struct RebuiltManifestFile {
  uint64_t size = 0;
  std::string sha512;  // lower-case hex
  std::string crc32c;  // as backup_manifest writes CRC32C checksums
};

// Whether `manifest` lists any INCREMENTAL.* file (a block-delta backup's manifest does not).
bool lists_incremental_files(std::string_view manifest);

// The manifest rewritten for the rebuilt directory. An entry whose checksum algorithm is
// SHA512 or CRC32C gets the rebuilt file's; any other algorithm's checksum is dropped (the
// format makes it optional) rather than computed anew. kCorruption when the text is not a
// manifest in PostgreSQL's line layout, or an INCREMENTAL entry has no rebuilt file.
Result<std::string> manifest_for_rebuilt(std::string_view manifest,
                                         const std::map<std::string, RebuiltManifestFile>& rebuilt);

}  // namespace pgm::restore
