#include "pgm/restore/stored_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <vector>

#include <fmt/format.h>

#include "pgm/backup/link.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/io/fd.h"

namespace pgm::restore {

namespace {

constexpr size_t kReadSize = size_t{1} << 20;

}  // namespace

Result<StoredFormat> backup_format(uint8_t compression, uint8_t encryption) {
  StoredFormat f;
  auto a = backup::compression_algorithm(compression);
  if (!a) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup.info: unknown COMPRESSION {}", compression));
  }
  f.algorithm = *a;
  if (encryption > static_cast<uint8_t>(crypto::AesMode::kAes128Gcm)) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup.info: unknown ENCRYPTION {}", encryption));
  }
  f.encryption = static_cast<crypto::AesMode>(encryption);
  return f;
}

struct StoredFileReader::Impl {
  const crypto::MasterKey* key = nullptr;
  std::vector<uint8_t> input = std::vector<uint8_t>(kReadSize);
  std::vector<uint8_t> plain;  // decrypted bytes waiting for the decompressor
  // One decompressor per algorithm met, reused (reset) from file to file.
  std::array<std::optional<compress::Decompressor>, 5> decompressors;

  Result<compress::Decompressor*> decompressor(compress::Algorithm a) {
    auto& slot = decompressors[static_cast<size_t>(a)];
    if (!slot) {
      PGM_ASSIGN_OR_RETURN(compress::Decompressor d, compress::Decompressor::create(a));
      slot.emplace(std::move(d));
    } else {
      slot->reset();
    }
    return &*slot;
  }
};

StoredFileReader::StoredFileReader(const crypto::MasterKey* key) : impl_(std::make_unique<Impl>()) {
  impl_->key = key;
}
StoredFileReader::~StoredFileReader() = default;
StoredFileReader::StoredFileReader(StoredFileReader&&) noexcept = default;
StoredFileReader& StoredFileReader::operator=(StoredFileReader&&) noexcept = default;

Result<uint64_t> StoredFileReader::read(
    const std::string& path, const StoredFormat& format, const compress::Sink& sink,
    const std::function<void(std::span<const uint8_t>)>& stored) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    int err = errno;
    if (err == ENOENT) {
      return make_error(ErrorCode::kNotFound, fmt::format("{}: missing", path));
    }
    return make_errno_error(fmt::format("open {}", path), err);
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  std::optional<crypto::AesGcmDecryptor> decryptor;
  if (format.encryption != crypto::AesMode::kNone) {
    if (impl_->key == nullptr) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}: encrypted, but there is no master key", path));
    }
    PGM_ASSIGN_OR_RETURN(crypto::AesGcmDecryptor d,
                         crypto::AesGcmDecryptor::create(*impl_->key, format.encryption));
    decryptor.emplace(std::move(d));
  }
  compress::Decompressor* decompressor = nullptr;
  if (format.algorithm != compress::Algorithm::kNone) {
    PGM_ASSIGN_OR_RETURN(decompressor, impl_->decompressor(format.algorithm));
  }
  uint64_t total = 0;
  bool sink_failed = false;
  // Every sink call is counted, whichever stage delivers it.
  compress::Sink counting = [&](std::span<const uint8_t> bytes) -> Result<void> {
    total += bytes.size();
    auto r = sink(bytes);
    sink_failed = !r;
    return r;
  };
  // Errors of the stored file name it; the sink's own errors pass unchanged.
  auto with_path = [&](const Error& e) {
    return tl::unexpected(sink_failed ? e : e.with_context(path));
  };
  // Plaintext stage (after decryption): decompress or hand on.
  auto plaintext = [&](std::span<const uint8_t> bytes) -> Result<void> {
    if (decompressor != nullptr) {
      return decompressor->update(bytes, counting);
    }
    return counting(bytes);
  };
  std::optional<Error> decode_error;
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(fd.get(), impl_->input, "read", path));
    if (n == 0) {
      break;
    }
    std::span<const uint8_t> chunk(impl_->input.data(), n);
    if (stored) {
      stored(chunk);
    }
    if (decryptor) {
      impl_->plain.clear();
      if (auto r = decryptor->update(chunk, impl_->plain); !r) {
        return with_path(r.error());
      }
      chunk = impl_->plain;
    }
    if (decode_error) {
      continue;  // only authenticating the rest
    }
    if (auto r = plaintext(chunk); !r) {
      // Garbage from a wrong key fails decompression before the tag could say why: read to
      // the end to let the tag decide which error is the real one.
      if (!decryptor || sink_failed) {
        return with_path(r.error());
      }
      decode_error = r.error();
    }
  }
  if (decryptor) {
    impl_->plain.clear();
    if (auto r = decryptor->finish(impl_->plain); !r) {
      return with_path(r.error());
    }
    if (decode_error) {
      return with_path(*decode_error);
    }
  }
  if (decompressor != nullptr) {
    if (auto r = decompressor->finish(counting); !r) {
      return with_path(r.error());
    }
  }
  return total;
}

}  // namespace pgm::restore
