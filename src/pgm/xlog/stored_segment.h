// StoredSegmentFeeder: feeds a stored WAL file (plain, .partial, compressed .gz/.zstd/.zst/.lz4/
// .bz2, encrypted .aes with the master key, in the layers wal::classify_wal_file() names) to a
// Decoder, undoing encryption then compression on the fly: the file is never held whole. Not
// thread-safe; one object per file. decode_stored_file() reads a file through io::FileSystem.
//
// Decryption: AES-GCM authenticates only at the end of the file, so records are decoded from
// bytes not yet authenticated; finish() then fails on a wrong key or a modified file (and a
// decoder error met before it on such a file names the decoder's finding, not the key). Act on
// the records of an encrypted file only after finish() succeeded.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pgm/compress/names.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/xlog/decoder.h"

namespace pgm::io {
class FileSystem;
}

namespace pgm::xlog {

class StoredSegmentFeeder {
 public:
  // The base name of `file_name` chooses the layers; it must name a segment or a partial one
  // (kInvalidArgument otherwise). `file_name` names the file in errors, and the decoder's
  // (set_file_name) from the first bytes on, with " (as decoded)" when layered (offsets are
  // then offsets in the segment). An .aes file needs `key` (kInvalidArgument without) and the
  // AES mode it was written with; `key` is borrowed and must outlive the feeder.
  static Result<StoredSegmentFeeder> create(std::string_view file_name, crypto::AesMode mode,
                                            const crypto::MasterKey* key);
  ~StoredSegmentFeeder();
  StoredSegmentFeeder(StoredSegmentFeeder&& other) noexcept;
  StoredSegmentFeeder& operator=(StoredSegmentFeeder&& other) noexcept;
  StoredSegmentFeeder(const StoredSegmentFeeder&) = delete;
  StoredSegmentFeeder& operator=(const StoredSegmentFeeder&) = delete;

  // The next bytes of the file as stored. Errors of each layer name the file.
  Result<void> update(std::span<const uint8_t> stored, Decoder& decoder, const RecordSink& sink);
  // End of the file: flushes the layers and checks the AES tag. Does not call
  // decoder.finish() (the next segment may continue the stream).
  Result<void> finish(Decoder& decoder, const RecordSink& sink);

 private:
  struct Impl;
  explicit StoredSegmentFeeder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Opens `path` through `fs` and feeds it, 64 kB at a time, through a StoredSegmentFeeder named
// by its base name. I/O errors name the path.
Result<void> decode_stored_file(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                                const crypto::MasterKey* key, Decoder& decoder,
                                const RecordSink& sink);

// The layers of a tar archive, read from its name: <name>.tar, then optionally a compression
// suffix (.gz, .zstd/.zst, .lz4, .bz2; .tgz too), then optionally .aes. nullopt when the name is
// not a tar archive's.
struct TarLayers {
  compress::Algorithm compression = compress::Algorithm::kNone;
  bool encrypted = false;
};
std::optional<TarLayers> wal_tar_layers(std::string_view path);

// Reads a tar archive through `fs`, undoing the layers its name shows (wal_tar_layers(); an
// .aes archive needs `key`), and feeds each member that is a WAL segment file (its base name
// as decode_stored_file() accepts, under any directory, e.g. pg_wal/) to `decoder` in archive
// order; other members are skipped. Errors name the archive and the member. As for a segment,
// an encrypted archive is authenticated only at its end.
Result<void> decode_wal_in_tar(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                               const crypto::MasterKey* key, Decoder& decoder,
                               const RecordSink& sink);

}  // namespace pgm::xlog
