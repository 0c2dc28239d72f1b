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
#include <unordered_map>
#include <vector>

#include "pgm/backup/info.h"
#include "pgm/compress/stream.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"
#include "pgm/incremental/format.h"
#include "pgm/restore/backup_files.h"
#include "pgm/restore/chain.h"
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

// The stored files of an incremental backup's ancestors (resolve_chain), enumerated and
// indexed, so each file's versions are found before anything is written.
class ChainFiles {
 public:
  // kCorruption for a broken chain or a member missing a stored file; kConfig for an
  // encrypted member without `key`. An empty chain for a full backup.
  static Result<ChainFiles> load(const std::string& backup_dir, const backup::BackupInfo& info,
                                 const crypto::MasterKey* key);

  // The versions of `whole` (a relation file): `newest`, the backup's own INCREMENTAL file
  // (stored with `format`), then each ancestor's, until one holds the whole file.
  // kCorruption naming the file when an ancestor has no copy or none holds it whole.
  Result<std::vector<ChainSource>> sources(const BackupFile& newest, const StoredFormat& format,
                                           const std::string& whole) const;
  size_t size() const { return members_.size(); }

 private:
  std::string label_;
  std::vector<ChainMember> members_;
  std::vector<BackupFiles> files_;
  // By manifest path; the views point into files_' elements, which a move keeps in place.
  std::vector<std::unordered_map<std::string_view, const BackupFile*>> index_;
};

// A rebuilt file read back: its digests for PostgreSQL's manifest and its block hashes for
// the block map.
struct RebuiltDigest {
  backup::ManifestEntry entry;  // path, SHA-512, CRC32C
  std::vector<incremental::BlockHash> blocks;
  uint64_t size = 0;
};
Result<RebuiltDigest> digest_rebuilt(const std::string& file, const std::string& manifest_path,
                                     crypto::Sha512& sha);

// Whether `blocks` (of `manifest_path`) match `map`: false when the map has no such file;
// kCorruption naming `label` and the first differing block when they do not match.
Result<bool> check_against_map(const incremental::BlockMap& map, const std::string& manifest_path,
                               const std::vector<incremental::BlockHash>& blocks,
                               const std::string& label);

}  // namespace pgm::restore
