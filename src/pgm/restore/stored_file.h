// Reading a stored repository file back to its plaintext: file -> [AES-GCM decrypt] ->
// [decompress] -> sink, streamed with bounded memory. Shared by restore, verify and archive.
// A StoredFileReader is used by one thread at a time and reuses its buffers and codec
// contexts from file to file (one per worker).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pgm/compress/codec.h"
#include "pgm/compress/stream.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::restore {

// How a stored file is encoded.
struct StoredFormat {
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  crypto::AesMode encryption = crypto::AesMode::kNone;
};

// The format a backup.info's COMPRESSION and ENCRYPTION bytes describe. An unknown
// compression byte -> kCorruption; an unknown encryption byte -> kCorruption.
Result<StoredFormat> backup_format(uint8_t compression, uint8_t encryption);

class StoredFileReader {
 public:
  // `key` may be null when no encrypted file is read; it must outlive the reader.
  explicit StoredFileReader(const crypto::MasterKey* key);
  ~StoredFileReader();
  StoredFileReader(StoredFileReader&&) noexcept;
  StoredFileReader& operator=(StoredFileReader&&) noexcept;
  StoredFileReader(const StoredFileReader&) = delete;
  StoredFileReader& operator=(const StoredFileReader&) = delete;

  // Streams the plaintext of `path` to `sink` and returns its length. Bytes reach the sink
  // before an encrypted file's tag is checked: a sink must treat everything as provisional
  // until read() returns success. Errors name the file: kNotFound when absent, kCorruption
  // for a damaged or truncated file or a failed tag ("wrong key or damaged file"), kIo.
  // An error from the sink is returned unchanged.
  // `stored`, when given, sees the stored bytes as they are read (to hash them).
  Result<uint64_t> read(const std::string& path, const StoredFormat& format,
                        const compress::Sink& sink,
                        const std::function<void(std::span<const uint8_t>)>& stored = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgm::restore
