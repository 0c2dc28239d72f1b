// Rebuilding a relation file from a chain of backups, as pg_combinebackup does, in a form
// that streams: every stored version is read once, front to back, and its blocks land at
// their place in the output (stored files are compressed and encrypted streams, so there is
// no seeking inside them; the output is a regular file written at offsets).
//
// The rules (pg_combinebackup's reconstruct.c): the newest version is an INCREMENTAL file;
// the output has header.reconstructed_length() blocks; a block present in the newest file
// comes from it; then older versions, newest first, fill the blocks still missing below the
// newest file's truncation length: an INCREMENTAL file with the blocks it holds, the first
// full file with every block it has, and it ends the walk; blocks no version holds are zero.
//
// Also the rollup of a parent into its child (deleting the parent): two INCREMENTAL files
// merge into one that reconstructs identically without the parent.
// Pure planning plus a small stream router; thread-safe value types.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/incremental/format.h"

namespace pgm::incremental {

// One backup's copy of a file.
struct Version {
  enum class Kind { kFull, kIncremental };
  Kind kind = Kind::kFull;
  uint64_t size = 0;  // kFull: the file's bytes
  Header header;      // kIncremental
  std::string name;   // for errors, e.g. "<label>/data/base/5/INCREMENTAL.16384"

  static Version full(uint64_t size, std::string name) {
    return Version{Kind::kFull, size, {}, std::move(name)};
  }
  static Version incremental(Header header, std::string name) {
    return Version{Kind::kIncremental, 0, std::move(header), std::move(name)};
  }
};

// One block to copy: from `offset` in a version's plaintext to position `target` of the
// output (a block number of a reconstructed file, or a block index in a merged INCREMENTAL).
struct Read {
  uint64_t offset = 0;
  uint32_t target = 0;
  bool operator==(const Read&) const = default;
};

struct Plan {
  uint32_t block_length = 0;             // output blocks
  std::vector<std::vector<Read>> reads;  // per version consulted, ascending offsets
  std::vector<uint32_t> zeros;           // output blocks no version holds, ascending
  uint64_t output_size() const { return uint64_t{block_length} * kBlockSize; }
};

// The plan for a whole file from `newest_first` (the newest an INCREMENTAL file). Versions
// after the first full one are never consulted (reads has one entry per version up to it).
// kInvalidArgument when the newest is not incremental; kCorruption naming the file when the
// chain ends without a full version while blocks are still missing.
Result<Plan> plan_reconstruction(std::span<const Version> newest_first);

// Rolling `parent` (an INCREMENTAL file) into `child` (an INCREMENTAL file of the next backup):
// the merged header holds the child's blocks plus the parent's below the child's truncation
// length; reads[0] are the child's blocks, reads[1] the parent's, targets being indexes into
// the merged file's blocks. A full parent is not merged but materialised: plan_reconstruction.
struct MergePlan {
  Header header;
  std::vector<std::vector<Read>> reads;  // [0] child, [1] parent
};
MergePlan plan_merge(const Header& child, const Header& parent);

// Routes one version's plaintext, arriving in pieces, to the output: each planned block is
// handed to `write` whole. finish() checks the version had exactly the bytes expected
// (an INCREMENTAL file header.file_size(), a full file its size) and held every planned block.
class BlockRouter {
 public:
  using Write = std::function<Result<void>(uint32_t target, std::span<const uint8_t> block)>;
  BlockRouter(std::span<const Read> reads, uint64_t expected_size, std::string name, Write write);

  Result<void> consume(std::span<const uint8_t> bytes);
  Result<void> finish();

  // For a full file whose length is not known beforehand (planned with a size covering every
  // block it might hold): a shorter stream is fine, and finish() leaves the blocks it did not
  // reach in unmet(); pg_combinebackup zero-fills them.
  void allow_short() { allow_short_ = true; }
  std::span<const Read> unmet() const { return reads_.subspan(next_); }

 private:
  std::span<const Read> reads_;
  uint64_t expected_size_;
  std::string name_;
  Write write_;
  uint64_t position_ = 0;  // plaintext bytes seen
  size_t next_ = 0;        // index in reads_
  bool allow_short_ = false;
  std::vector<uint8_t> block_;
};

// The size a version's plaintext must have for BlockRouter.
uint64_t expected_size(const Version& version);

}  // namespace pgm::incremental
