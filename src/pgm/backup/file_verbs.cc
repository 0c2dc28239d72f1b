#include "pgm/backup/file_verbs.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/compress/stream.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::backup {

namespace {

constexpr size_t kReadChunk = size_t{1} << 20;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() > suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view as_chars(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// Feeds the plain bytes of the source to the transformation; `finish` ends it. Both write
// their output to the AtomicFile themselves.
using Update = std::function<Result<void>(std::span<const uint8_t>)>;
using Finish = std::function<Result<void>()>;
using Writer = std::function<std::pair<Update, Finish>(io::AtomicFile&)>;

Result<void> no_destination(const std::string& dest) {
  struct stat st {};
  if (::lstat(dest.c_str(), &st) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} already exists; it is never overwritten", dest));
  }
  if (errno != ENOENT) {
    return make_errno_error(fmt::format("stat {}", dest), errno);
  }
  return {};
}

// The common skeleton of every verb (see the header's contract). Errors carry no verb yet.
Result<void> transform(const std::string& path, const std::string& dest, const Writer& writer) {
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) {
    return make_errno_error(fmt::format("stat {}", path), errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("{} is not a regular file", path));
  }
  PGM_TRY(no_destination(dest));
  PGM_ASSIGN_OR_RETURN(io::AtomicFile out, io::AtomicFile::create(dest, st.st_mode & 07777));
  auto [update, finish] = writer(out);
  std::vector<uint8_t> buf(kReadChunk);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(in.get(), buf, "read", path));
    if (n == 0) {
      break;
    }
    PGM_TRY(update(std::span<const uint8_t>(buf.data(), n)));
  }
  PGM_TRY(finish());
  // Checked again just before the rename: the window for a concurrent creator is small.
  PGM_TRY(no_destination(dest));
  PGM_TRY(out.commit());
  in.reset();
  if (::unlink(path.c_str()) != 0) {
    return make_errno_error(fmt::format("{} was written, but remove {}", dest, path), errno);
  }
  return io::fsync_directory(io::parent_directory(path));
}

Result<std::string> with_verb(std::string_view verb, const std::string& path,
                              const std::string& dest, const Writer& writer) {
  auto done = transform(path, dest, writer);
  if (!done) {
    return tl::unexpected(done.error().with_context(fmt::format("{} {}", verb, path)));
  }
  return dest;
}

Writer compressor_writer(compress::StreamCompressor& c) {
  return [&c](io::AtomicFile& out) {
    compress::Sink sink = [&out](std::span<const uint8_t> bytes) {
      return out.write(as_chars(bytes));
    };
    Update update = [&c, sink](std::span<const uint8_t> in) { return c.update(in, sink); };
    Finish finish = [&c, sink] { return c.finish(sink); };
    return std::make_pair(update, finish);
  };
}

Writer decompressor_writer(compress::Decompressor& d) {
  return [&d](io::AtomicFile& out) {
    compress::Sink sink = [&out](std::span<const uint8_t> bytes) {
      return out.write(as_chars(bytes));
    };
    Update update = [&d, sink](std::span<const uint8_t> in) { return d.update(in, sink); };
    Finish finish = [&d, sink] { return d.finish(sink); };
    return std::make_pair(update, finish);
  };
}

// AES streams append to a vector: written out and cleared after every call.
template <typename Cipher>
Writer cipher_writer(Cipher& c, std::vector<uint8_t>& scratch) {
  return [&c, &scratch](io::AtomicFile& out) {
    auto flush = [&out, &scratch]() -> Result<void> {
      auto w = out.write(as_chars(scratch));
      scratch.clear();
      return w;
    };
    Update update = [&c, &scratch, flush](std::span<const uint8_t> in) -> Result<void> {
      PGM_TRY(c.update(in, scratch));
      return flush();
    };
    Finish finish = [&c, &scratch, flush]() -> Result<void> {
      PGM_TRY(c.finish(scratch));
      return flush();
    };
    return std::make_pair(update, finish);
  };
}

}  // namespace

std::optional<compress::Algorithm> compression_of_suffix(std::string_view path) {
  if (auto m = compress::match_suffix(path)) {
    return m->algorithm;
  }
  return std::nullopt;
}

Result<std::string> encrypt_file(const std::string& path, const crypto::MasterKey& key,
                                 crypto::AesMode mode) {
  if (ends_with(path, kAesSuffix)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("encrypt {}: the file is already encrypted (.aes)", path));
  }
  auto enc = crypto::AesGcmEncryptor::create(key, mode);
  if (!enc) {
    return tl::unexpected(enc.error().with_context(fmt::format("encrypt {}", path)));
  }
  std::vector<uint8_t> scratch;
  scratch.reserve(kReadChunk + 64);
  return with_verb("encrypt", path, path + std::string(kAesSuffix), cipher_writer(*enc, scratch));
}

Result<std::string> decrypt_file(const std::string& path, const crypto::MasterKey& key,
                                 crypto::AesMode mode) {
  if (!ends_with(path, kAesSuffix)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("decrypt {}: the file name does not end in .aes", path));
  }
  auto dec = crypto::AesGcmDecryptor::create(key, mode);
  if (!dec) {
    return tl::unexpected(dec.error().with_context(fmt::format("decrypt {}", path)));
  }
  std::vector<uint8_t> scratch;
  scratch.reserve(kReadChunk + 64);
  // The plaintext is unauthenticated until finish(): it stays in the uncommitted temp file.
  return with_verb("decrypt", path, path.substr(0, path.size() - kAesSuffix.size()),
                   cipher_writer(*dec, scratch));
}

Result<std::string> compress_file(const std::string& path, compress::Algorithm a, int level) {
  if (a == compress::Algorithm::kNone) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("compress {}: no compression algorithm", path));
  }
  if (compression_of_suffix(path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("compress {}: the file is already compressed", path));
  }
  auto c = compress::StreamCompressor::create(a, level);
  if (!c) {
    return tl::unexpected(c.error().with_context(fmt::format("compress {}", path)));
  }
  return with_verb("compress", path, path + std::string(compress::file_suffix(a)),
                   compressor_writer(*c));
}

Result<std::string> decompress_file(const std::string& path) {
  std::optional<compress::Algorithm> a;
  std::string dest;
  if (auto m = compress::match_suffix(path)) {
    a = m->algorithm;
    dest = path.substr(0, path.size() - m->length);
  }
  if (!a) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("decompress {}: unknown compression suffix (expected .gz, .zstd, .zst, .lz4 "
                    "or .bz2)",
                    path));
  }
  auto d = compress::Decompressor::create(*a);
  if (!d) {
    return tl::unexpected(d.error().with_context(fmt::format("decompress {}", path)));
  }
  return with_verb("decompress", path, dest, decompressor_writer(*d));
}

}  // namespace pgm::backup
