// Compact per-file records of a backup, for clusters of a million files: paths live in a
// PathArena (chunks that never move, so views into them stay valid), digests are binary, and
// lookups are binary searches over a sorted array of fixed-size rows instead of a map of
// strings. ManifestIndex is backup.manifest in that form (~90 bytes per file), read as a
// stream. Not thread-safe while being filled; const member functions are once sealed.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/digest.h"

namespace pgm::backup {

// Append-only storage of strings. Views returned by add() stay valid for the arena's life
// (also across moves of the arena); no per-string allocation.
class PathArena {
 public:
  std::string_view add(std::string_view text);
  // Bytes allocated (capacity of every chunk).
  size_t allocated() const { return allocated_; }

 private:
  static constexpr size_t kChunkBytes = size_t{64} << 10;
  std::vector<std::unique_ptr<char[]>> chunks_;
  size_t used_ = 0;  // of the last chunk
  size_t room_ = 0;  // of the last chunk
  size_t allocated_ = 0;
};

// One line of backup.manifest: "<path>,<sha512 hex>", split at the last ','. `number` (1-based)
// names the line in the kCorruption error. The path views `line`.
struct ManifestLine {
  std::string_view path;
  crypto::Sha512Digest sha512;
};
Result<ManifestLine> parse_manifest_line(std::string_view line, size_t number);

// One line of backup.sha512: "<128 hex> *<path>" or sha512sum's "<hex>  <path>", "./" dropped
// from the path. kCorruption naming the line as parse_sha512_file() does. The path views `line`.
struct Sha512Line {
  std::string_view path;
  crypto::Sha512Digest sha512;
};
Result<Sha512Line> parse_sha512_line(std::string_view line, size_t number);

// manifest path -> SHA-512 of the plaintext.
class ManifestIndex {
 public:
  // Reads a backup.manifest ("<path>,<sha512 hex>" lines, split at the last ','). kNotFound
  // when absent; kCorruption naming the line, as parse_manifest() does, when malformed.
  static Result<ManifestIndex> load(const std::string& manifest_path);

  // Adds a file, in any order; seal() sorts (of a repeated path one row is kept).
  void add(std::string_view path, const crypto::Sha512Digest& sha512);
  void seal();
  // After seal(): the first path (in path order) that was added more than once; "" for none.
  std::string_view repeated() const { return repeated_; }

  // After seal(); nullptr when absent.
  const crypto::Sha512Digest* find(std::string_view path) const;
  // The row of `path`; size() when absent.
  size_t lookup(std::string_view path) const;
  size_t size() const { return rows_.size(); }
  // The i-th file in path order (after seal()).
  std::string_view path(size_t i) const { return rows_[i].path; }
  const crypto::Sha512Digest& sha512(size_t i) const { return rows_[i].sha512; }

 private:
  struct Row {
    std::string_view path;  // into arena_
    crypto::Sha512Digest sha512;
  };
  PathArena arena_;
  std::vector<Row> rows_;
  std::string_view repeated_;
};

}  // namespace pgm::backup
