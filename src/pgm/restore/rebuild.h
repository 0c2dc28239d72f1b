// Rebuilding files of incremental backups from stored versions (compressed, encrypted
// streams): a whole relation file from a chain, as restore needs it, and the merge of a
// parent's INCREMENTAL file into its child's, as the rollup of a deleted parent needs it.
// Each stored version is read once, front to back, with its digest checked (backup.sha512's
// stored digest when known, else backup.manifest's plaintext one).
// Functions take a reader and a SHA-512 context of the calling worker; thread-compatible.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "pgm/compress/stream.h"
#include "pgm/core/result.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/format.h"
#include "pgm/restore/stored_file.h"

namespace pgm::restore {

// One stored version of a file of an incremental backup's chain.
struct ChainSource {
  std::string path;  // the stored file
  StoredFormat format;
  std::string label;          // "<backup label>/<manifest path>", for messages
  std::string sha512;         // plaintext digest from that backup's backup.manifest
  std::string stored_sha512;  // from that backup's backup.sha512 ("" when absent)
  bool full = false;          // a whole file (ends the chain), else an INCREMENTAL file
};

// Streams a stored version's plaintext to `sink` and checks its digest (kCorruption naming
// source.label on a mismatch). Returns the plaintext length.
Result<uint64_t> read_checked(StoredFileReader& reader, crypto::Sha512& sha,
                              const ChainSource& source, const compress::Sink& sink);

// The header of a stored INCREMENTAL file; only its first bytes are decoded.
Result<incremental::Header> read_incremental_header(StoredFileReader& reader,
                                                    const ChainSource& source);

// Writes the whole file that `chain` (newest first: an INCREMENTAL file, ..., ending with a
// full one) reconstructs to `destination` (created, must not exist). `advance` sees the bytes
// written.
Result<void> rebuild_whole_file(StoredFileReader& reader, crypto::Sha512& sha,
                                const std::vector<ChainSource>& chain,
                                const std::string& destination,
                                const std::function<void(uint64_t)>& advance = {});

// Writes to `destination` (created, must not exist) the INCREMENTAL file that stands for
// `child` once `parent` (both INCREMENTAL files) is gone: incremental/reconstruct.h's
// plan_merge. Returns its header.
Result<incremental::Header> merge_incremental_files(StoredFileReader& reader, crypto::Sha512& sha,
                                                    const ChainSource& child,
                                                    const ChainSource& parent,
                                                    const std::string& destination);

}  // namespace pgm::restore
