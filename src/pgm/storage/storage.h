// Storage: one interface over the places a repository's files can live besides base_dir:
// an SFTP server (libssh), S3 (libcurl, AWS Signature V4) and Azure Blob (libcurl, SharedKey).
//
// Keys are '/'-separated relative paths ("primary/backup/20261126104500/data/base/1/1259.zstd");
// each engine prefixes its own base directory / key prefix. Objects are written whole and
// atomically as far as the service allows (SFTP: temp name + rename; S3: single PUT or a
// completed multipart upload; Azure: a committed block list), so a reader never sees half an
// object under its final key.
//
// Integrity: every object carries the SHA-512 (lowercase hex) of its bytes, given by the
// caller at upload and stored with it (S3 x-amz-meta-sha512, Azure x-ms-meta-sha512; SFTP and
// local a "<key>.pgm-sha512" side file written after the object: not ".sha512", which backups
// themselves use for backup.sha512); download_verified() compares it with what arrives.
//
// Errors are pgm::Error; kind() classifies them:
//   kPermission  -> kAuth        wrong credentials, signature refused, host key changed
//   kNotFound    -> kNotFound    no such object/bucket/container/directory
//   kUnavailable, kTimeout -> kRetryable   connection refused/reset, 429/500/503, throttling
//   anything else -> kPermanent
// Messages name the engine and the cause ("s3: PUT primary/x: 403 SignatureDoesNotMatch").
//
// Engines are not thread-safe: use one object per thread. Memory is bounded: put streams
// from the file in parts (engine part size, default 8 MiB), get streams into the sink.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/digest.h"

namespace pgm::storage {

// Suffix of the side file holding an object's SHA-512 on engines without object metadata.
inline constexpr std::string_view kSideFileSuffix = ".pgm-sha512";

enum class ErrorKind { kAuth, kNotFound, kRetryable, kPermanent };
ErrorKind kind(const Error& error);

struct ObjectInfo {
  std::string key;     // relative to the engine's base, as given to put
  uint64_t size = 0;   // bytes
  std::string sha512;  // lowercase hex as stored at upload; empty when a listing cannot tell
};

// Receives downloaded bytes in order; an error stops the download.
using Sink = std::function<Result<void>(std::span<const uint8_t>)>;

class Storage {
 public:
  virtual ~Storage() = default;

  // "local", "ssh", "s3" or "azure" (storage_engine's words).
  virtual std::string name() const = 0;

  // Uploads the file at `path` as `key` with its SHA-512 (of the file's bytes, hex). Replaces an
  // existing object. Large files go up in parts with bounded memory.
  virtual Result<void> put_file(std::string_view key, const std::string& path,
                                std::string_view sha512_hex) = 0;

  // Size and stored SHA-512 of one object; kNotFound when absent.
  virtual Result<ObjectInfo> head(std::string_view key) = 0;

  // Streams bytes [offset, offset + length) of the object (to its end without length).
  virtual Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                           const Sink& sink) = 0;

  // Every object whose key starts with `prefix` ("" = all), sorted by key; pages are followed
  // internally. Integrity side files ("<key>.pgm-sha512") are not listed.
  virtual Result<std::vector<ObjectInfo>> list(std::string_view prefix) = 0;

  // Deletes the objects (batched where the service allows); keys that do not exist are not an
  // error.
  virtual Result<void> remove(std::span<const std::string> keys) = 0;
};

// SHA-512 (lowercase hex) of a file's bytes, read in 1 MiB chunks (see crypto/digest.h).
using crypto::sha512_of_file;

// Downloads `key` into `dest_path` and proves it: the bytes' SHA-512 must equal the one stored
// with the object (head()). The data goes to a temp name beside dest_path, is fsynced and
// renamed only when it matches (then the directory is fsynced); on any failure nothing is
// left at dest_path or the temp name, and an existing dest_path is not replaced. A mismatch is
// kCorruption naming the engine, the key and both digests; an object stored without a
// SHA-512 is kCorruption too (it cannot be proven).
Result<void> download_verified(Storage& storage, std::string_view key,
                               const std::string& dest_path);

}  // namespace pgm::storage
