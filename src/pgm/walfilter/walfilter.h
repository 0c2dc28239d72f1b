// pgmoneta-walfilter: copies the WAL segments of a directory into another, with the commits of
// the chosen transactions turned into aborts of the same length (rewrite.h says why that is
// what "filtered" means here). The source is only read. Not thread-safe (one run at a time).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <set>
#include <string>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/walfilter/config.h"

namespace pgm::walfilter {

struct FilterReport {
  uint64_t segments = 0;         // files written to the target directory
  uint64_t records = 0;          // records decoded
  std::set<uint32_t> aborted;    // transactions whose COMMIT became an ABORT
  std::set<uint32_t> not_found;  // xids of the rules with no COMMIT in the source
};

// Reads every WAL segment file of config.source_dir (plain, .partial, compressed, .aes with the
// key `load_key` returns, called at most once and only for an .aes file), in name order (a
// .partial skipped when the complete segment is there; two complete forms of one segment ->
// kInvalidArgument),
// decoding each run of consecutive segments as one stream, and writes each, plain and under its
// segment name, to config.target_dir (created 0700; each file written durably: temp, fsync,
// rename, fsync of the directory). Errors name the file and, for WAL, the offset. A source and
// target that are the same directory -> kInvalidArgument.
Result<FilterReport> filter_directory(const FilterConfig& config, crypto::AesMode mode,
                                      const std::function<Result<crypto::MasterKey>()>& load_key);

// The program: `pgmoneta-walfilter [-h] [-V] <config.yaml>`. Returns the exit code (0 done,
// 1 failed, 2 usage); messages go to `out` and `err`.
int run(int argc, char** argv, std::ostream& out, std::ostream& err);

}  // namespace pgm::walfilter
