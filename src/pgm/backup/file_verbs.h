// The file verbs of pgmoneta-cli (encrypt, decrypt, compress, decompress): transform one file
// in place, streaming with bounded memory (files may be gigabytes). Thread-safe for different
// files; blocks on the disk.
//
// Contract shared by every verb:
// - The output goes to "<destination>.tmp.<pid>" (io::AtomicFile) and is committed (fsync,
//   rename, fsync of the directory) only when complete and, for decrypt, authenticated. The
//   original is unlinked only after the commit, then the directory is fsynced again. Any
//   failure (corrupt input, wrong key, disk full) leaves the original untouched and no
//   destination or temp file; a kill may leave the temp file, never a partial destination.
// - An existing destination is never overwritten (kInvalidArgument "... already exists").
// - The output gets the permission bits of the original.
// - Errors name the file: "encrypt /d/f: ...". Each verb returns the destination path.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"

namespace pgm::backup {

inline constexpr std::string_view kAesSuffix = ".aes";

// "<path>.aes" in the repository's AES-GCM format (crypto/aes.h). A path already ending in
// ".aes" -> kInvalidArgument. kNone or an empty key -> kInvalidArgument.
Result<std::string> encrypt_file(const std::string& path, const crypto::MasterKey& key,
                                 crypto::AesMode mode);

// `path` must end in ".aes"; writes it without the suffix. The format does not record the
// mode, so the caller names it. A wrong key, wrong mode or damaged file -> kCorruption
// "... (wrong key or damaged file)".
Result<std::string> decrypt_file(const std::string& path, const crypto::MasterKey& key,
                                 crypto::AesMode mode);

// "<path><file_suffix(a)>" at clamp_level(a, level). kNone, or a path that already has a
// compression suffix (.gz .zstd .zst .lz4 .bz2) -> kInvalidArgument.
Result<std::string> compress_file(const std::string& path, compress::Algorithm a, int level);

// The algorithm comes from the suffix (.gz .zstd .zst .lz4 .bz2); any other suffix ->
// kInvalidArgument. Writes the path without the suffix. Corrupt input -> kCorruption.
Result<std::string> decompress_file(const std::string& path);

// The algorithm of a compression suffix of `path`; nullopt when it has none.
std::optional<compress::Algorithm> compression_of_suffix(std::string_view path);

}  // namespace pgm::backup
