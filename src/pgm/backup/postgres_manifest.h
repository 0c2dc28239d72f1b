// PostgreSQL's backup_manifest (JSON) against our checksums: the check every backup, verify and
// restore makes. The manifest is read as a stream (a SAX pass over its "Files" array): memory is
// that of our side and of the mismatches found, never a tree of the manifest, so a cluster of a
// million files costs no more here than our own list of them. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/digest.h"

namespace pgm::backup {

struct ManifestMismatch {
  enum class Kind : uint8_t { kMissingInOurs, kMissingInPostgres, kChecksumDiffers };
  Kind kind;
  std::string path;
  std::string ours;      // our checksum, empty when missing in ours
  std::string postgres;  // PostgreSQL's checksum, empty when missing there
  friend bool operator==(const ManifestMismatch&, const ManifestMismatch&) = default;
};

// One file of ours, borrowed (the views must outlive the comparison): its path relative to the
// data directory, its SHA-512 as hex and, for manifests taken with MANIFEST_CHECKSUMS
// 'CRC32C', its CRC-32C as crc32c_manifest_hex writes it ("" when not computed). Hex digits
// of either case.
struct ManifestEntryRef {
  std::string_view path;
  std::string_view sha512;
  std::string_view crc32c;
};

// The same with binary checksums (a backup's own list): `sha512` borrowed, `crc32c` the final
// CRC-32C as crc32c_final() returns it, when computed. 32 bytes an entry.
struct ManifestDigestRef {
  std::string_view path;
  const crypto::Sha512Digest* sha512 = nullptr;
  std::optional<uint32_t> crc32c;
};

// Compares `ours` (any order; a repeated path counts once, the last one) with PostgreSQL's
// backup_manifest ("Files": Path or hex Encoded-Path, Checksum-Algorithm "SHA512" or "CRC32C",
// Checksum). Returns the mismatches sorted by path (empty = all match), checksums in lower
// case, PostgreSQL's CRC-32C ones prefixed "crc32c:". kCorruption for invalid JSON or a
// malformed Files entry (naming its index); kInvalidArgument for any other checksum algorithm,
// or CRC32C for a file of ours without one.
Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestEntryRef> ours, std::string_view postgres_manifest_json);

// Ours sorted by path with unique paths is used in place; any other order is copied first.
Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestDigestRef> ours, std::string_view postgres_manifest_json);

// The same for the manifest stored in the file `manifest_path`, read in pieces. kIo (naming
// the file) when it cannot be opened or read.
Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest_file(
    std::span<const ManifestEntryRef> ours, const std::string& manifest_path);
Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest_file(
    std::span<const ManifestDigestRef> ours, const std::string& manifest_path);

}  // namespace pgm::backup
