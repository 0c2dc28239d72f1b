// PostgreSQL's INCREMENTAL.<relfile> format (PostgreSQL 17+, written by its BASE_BACKUP with
// INCREMENTAL and read by pg_combinebackup), which we also write for block-delta backups of
// PostgreSQL 13-16, so one reconstruction path serves every version.
//
// A file holds, in native (little-endian here) byte order:
//   uint32 magic 0xd3ae1f0d, uint32 block count n, uint32 truncation block length,
//   uint32 block numbers[n] (ascending, relative to the segment file),
//   zero padding up to a multiple of 8192 bytes, only when n > 0,
//   then the n blocks of 8192 bytes in the order of their numbers.
// So a file without blocks is exactly 12 bytes, and a valid file is exactly
// header_size(n) + n * 8192 bytes long (pgmoneta's 14-16 writer breaks this: such files are
// refused, never restored shifted).
//
// Also here: which files may be stored incrementally (relation segments under base/, global/
// and pg_tblspc/, as PostgreSQL decides) and the INCREMENTAL. naming.
// Pure functions and value types; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::incremental {

inline constexpr uint32_t kBlockSize = 8192;        // BLCKSZ of every supported build
inline constexpr uint32_t kSegmentBlocks = 131072;  // RELSEG_SIZE: 1 GB segment files
inline constexpr uint32_t kMagic = 0xd3ae1f0d;
inline constexpr std::string_view kPrefix = "INCREMENTAL.";
inline constexpr size_t kFixedHeaderSize = 12;  // magic, count, truncation length

struct Header {
  // The file's length in blocks at backup time; blocks below it that the file does not
  // hold are unchanged since the parent.
  uint32_t truncation_block_length = 0;
  std::vector<uint32_t> blocks;  // ascending, unique, each < kSegmentBlocks

  // Bytes before the first block: 12 + 4n, rounded up to 8192 when n > 0.
  size_t size() const;
  // The whole file's length: size() + n * 8192.
  uint64_t file_size() const { return size() + uint64_t{kBlockSize} * blocks.size(); }
  // The reconstructed file's length in blocks: the truncation length, raised to hold the
  // highest block present (what pg_combinebackup writes).
  uint32_t reconstructed_length() const;

  bool operator==(const Header&) const = default;
};

size_t header_size(size_t block_count);

// The header bytes, padding included. kInvalidArgument when the blocks are not ascending and
// unique, a block or the truncation length is >= / > kSegmentBlocks.
Result<std::vector<uint8_t>> encode_header(const Header& header);

// Reads a header from the start of a byte stream, a piece at a time (stored files are
// decompressed and decrypted as a stream). Errors name `file`.
class HeaderReader {
 public:
  explicit HeaderReader(std::string file) : file_(std::move(file)) {}

  // Consumes bytes up to the end of the header (its padding included) and returns how many
  // of `bytes` it took; the rest are block data. kCorruption for a bad magic, a block count
  // or truncation length over a segment, block numbers not ascending, or non-zero padding.
  Result<size_t> feed(std::span<const uint8_t> bytes);
  bool done() const { return done_; }
  // Valid once done().
  const Header& header() const { return header_; }

 private:
  Result<void> parse_fixed();
  Result<void> parse_blocks();

  std::string file_;
  std::vector<uint8_t> buffer_;
  size_t wanted_ = kFixedHeaderSize;
  uint32_t count_ = 0;
  bool have_fixed_ = false;
  bool have_blocks_ = false;
  bool done_ = false;
  Header header_;
};

// Parses a header held whole in `bytes` (it may be followed by block data). kCorruption as
// HeaderReader::feed, also when `bytes` ends inside the header.
Result<Header> parse_header(std::span<const uint8_t> bytes, const std::string& file);

// Checks that a whole file of `file_size` bytes with this header has exactly its blocks.
Result<void> check_file_size(const Header& header, uint64_t file_size, const std::string& file);

// A relation segment file, by its path relative to the data directory.
struct RelationFile {
  uint32_t segment = 0;   // ".N" suffix, 0 without one
  std::string_view fork;  // "" (main), "fsm", "vm" or "init"
};

// PostgreSQL's candidates for incremental backup: a non-temporary relation file directly in
// global/, base/<dboid>/ or pg_tblspc/<spcoid>/<version dir>/<dboid>/ (e.g. "base/5/16384",
// "base/5/16384.2", "base/5/16384_vm"). nullopt for anything else (pg_filenode.map,
// PG_VERSION, temporary "t3_16384", "base/5/pgsql_tmp/...", "INCREMENTAL." names).
std::optional<RelationFile> parse_relation_path(std::string_view path);

// Whether a file of `size` bytes at `path` may be stored incrementally: a relation file,
// not the free space map (PostgreSQL sends it whole: it is not WAL-logged), a whole number of
// blocks, at most one segment.
bool incremental_candidate(std::string_view path, uint64_t size);

// "base/5/16384" -> "base/5/INCREMENTAL.16384".
std::string incremental_path(std::string_view path);
// "base/5/INCREMENTAL.16384" -> "base/5/16384"; nullopt when the name has no prefix.
std::optional<std::string> strip_incremental(std::string_view path);

}  // namespace pgm::incremental
