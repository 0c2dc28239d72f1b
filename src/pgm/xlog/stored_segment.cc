#include "pgm/xlog/stored_segment.h"

#include <fcntl.h>

#include <optional>
#include <vector>

#include <fmt/format.h>

#include "pgm/compress/stream.h"
#include "pgm/core/scope_exit.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/io/fd.h"
#include "pgm/io/file_system.h"
#include "pgm/wal/segment.h"

namespace pgm::xlog {

struct StoredSegmentFeeder::Impl {
  std::string name;
  std::optional<crypto::AesGcmDecryptor> decryptor;
  std::optional<compress::Decompressor> decompressor;
  std::vector<uint8_t> plain;  // decrypted, still compressed (reused)

  Result<void> decompress(std::span<const uint8_t> bytes, Decoder& decoder,
                          const RecordSink& sink) {
    if (!decompressor) {
      return decoder.feed(bytes, sink);
    }
    return decompressor->update(
        bytes, [&](std::span<const uint8_t> out) { return decoder.feed(out, sink); });
  }
};

StoredSegmentFeeder::StoredSegmentFeeder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoredSegmentFeeder::~StoredSegmentFeeder() = default;
StoredSegmentFeeder::StoredSegmentFeeder(StoredSegmentFeeder&& other) noexcept = default;
StoredSegmentFeeder& StoredSegmentFeeder::operator=(StoredSegmentFeeder&& other) noexcept = default;

Result<StoredSegmentFeeder> StoredSegmentFeeder::create(std::string_view file_name,
                                                        crypto::AesMode mode,
                                                        const crypto::MasterKey* key) {
  const wal::WalFileInfo info = wal::classify_wal_file(file_name);
  if (info.kind != wal::WalFileKind::kSegment && info.kind != wal::WalFileKind::kPartial) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: not a WAL segment file name", file_name));
  }
  auto impl = std::make_unique<Impl>();
  impl->name = std::string(file_name);
  if (info.encrypted) {
    if (key == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: encrypted, and no master key given", file_name));
    }
    auto decryptor = crypto::AesGcmDecryptor::create(*key, mode);
    if (!decryptor) {
      return tl::unexpected<Error>(decryptor.error().with_context(impl->name));
    }
    impl->decryptor.emplace(std::move(*decryptor));
  }
  if (info.compression != compress::Algorithm::kNone) {
    auto decompressor = compress::Decompressor::create(info.compression);
    if (!decompressor) {
      return tl::unexpected<Error>(decompressor.error().with_context(impl->name));
    }
    impl->decompressor.emplace(std::move(*decompressor));
  }
  return StoredSegmentFeeder(std::move(impl));
}

Result<void> StoredSegmentFeeder::update(std::span<const uint8_t> stored, Decoder& decoder,
                                         const RecordSink& sink) {
  Impl& s = *impl_;
  auto context = [&](const Error& e) {
    // Decoder errors already name the file; the layers' errors get its name here.
    return e.code() == ErrorCode::kCorruption && e.message().rfind(s.name, 0) == 0
               ? e
               : e.with_context(s.name);
  };
  if (!s.decryptor) {
    return s.decompress(stored, decoder, sink).map_error(context);
  }
  s.plain.clear();
  PGM_TRY(s.decryptor->update(stored, s.plain).map_error(context));
  return s.decompress(s.plain, decoder, sink).map_error(context);
}

Result<void> StoredSegmentFeeder::finish(Decoder& decoder, const RecordSink& sink) {
  Impl& s = *impl_;
  auto context = [&](const Error& e) { return e.with_context(s.name); };
  if (s.decryptor) {
    s.plain.clear();
    PGM_TRY(s.decryptor->finish(s.plain).map_error(context));
    PGM_TRY(s.decompress(s.plain, decoder, sink));
  }
  if (s.decompressor) {
    PGM_TRY(s.decompressor
                ->finish([&](std::span<const uint8_t> out) { return decoder.feed(out, sink); })
                .map_error(context));
  }
  return {};
}

Result<void> decode_stored_file(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                                const crypto::MasterKey* key, Decoder& decoder,
                                const RecordSink& sink) {
  const size_t slash = path.rfind('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  PGM_ASSIGN_OR_RETURN(StoredSegmentFeeder feeder, StoredSegmentFeeder::create(name, mode, key));
  const int fd = fs.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  ScopeExit close_fd([&] { fs.close(fd); });
  // Offsets in the decoder's errors are offsets in the segment, not in a compressed file.
  const wal::WalFileInfo info = wal::classify_wal_file(name);
  const bool layered = info.encrypted || info.compression != compress::Algorithm::kNone;
  decoder.set_file_name(layered ? name + " (as decoded)" : name);
  std::vector<uint8_t> buffer(size_t{1} << 16);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t got, io::read_some(fs, fd, buffer, "read", path));
    if (got == 0) {
      break;
    }
    PGM_TRY(feeder.update(std::span<const uint8_t>(buffer).first(got), decoder, sink));
  }
  return feeder.finish(decoder, sink);
}

}  // namespace pgm::xlog
