#include "pgm/xlog/stored_segment.h"

#include <fcntl.h>

#include <functional>
#include <optional>
#include <vector>

#include <fmt/format.h>

#include "pgm/backup/tar.h"
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

  std::string decoder_name;
  bool named_decoder = false;
  bool decoder_failed = false;  // the last error came from the decoder (it names the file)

  Result<void> to_decoder(std::span<const uint8_t> bytes, Decoder& decoder,
                          const RecordSink& sink) {
    if (!named_decoder) {
      decoder.set_file_name(decoder_name);
      named_decoder = true;
    }
    auto fed = decoder.feed(bytes, sink);
    decoder_failed = !fed;
    return fed;
  }
  Result<void> decompress(std::span<const uint8_t> bytes, Decoder& decoder,
                          const RecordSink& sink) {
    if (!decompressor) {
      return to_decoder(bytes, decoder, sink);
    }
    return decompressor->update(
        bytes, [&](std::span<const uint8_t> out) { return to_decoder(out, decoder, sink); });
  }
  // Layer errors get the file's name; the decoder's already carry it.
  Error named(const Error& e) const { return decoder_failed ? e : e.with_context(name); }
};

StoredSegmentFeeder::StoredSegmentFeeder(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
StoredSegmentFeeder::~StoredSegmentFeeder() = default;
StoredSegmentFeeder::StoredSegmentFeeder(StoredSegmentFeeder&& other) noexcept = default;
StoredSegmentFeeder& StoredSegmentFeeder::operator=(StoredSegmentFeeder&& other) noexcept = default;

Result<StoredSegmentFeeder> StoredSegmentFeeder::create(std::string_view file_name,
                                                        crypto::AesMode mode,
                                                        const crypto::MasterKey* key) {
  const size_t slash = file_name.rfind('/');
  const wal::WalFileInfo info = wal::classify_wal_file(
      slash == std::string_view::npos ? file_name : file_name.substr(slash + 1));
  if (info.kind != wal::WalFileKind::kSegment && info.kind != wal::WalFileKind::kPartial) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{}: not a WAL segment file name", file_name));
  }
  auto impl = std::make_unique<Impl>();
  impl->name = std::string(file_name);
  const bool layered = info.encrypted || info.compression != compress::Algorithm::kNone;
  // Offsets in the decoder's errors are offsets in the segment, not in a compressed file.
  impl->decoder_name = layered ? impl->name + " (as decoded)" : impl->name;
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
  auto named = [&](const Error& e) { return s.named(e); };
  if (!s.decryptor) {
    return s.decompress(stored, decoder, sink).map_error(named);
  }
  s.plain.clear();
  PGM_TRY(s.decryptor->update(stored, s.plain).map_error(named));
  return s.decompress(s.plain, decoder, sink).map_error(named);
}

Result<void> StoredSegmentFeeder::finish(Decoder& decoder, const RecordSink& sink) {
  Impl& s = *impl_;
  auto named = [&](const Error& e) { return s.named(e); };
  if (s.decryptor) {
    s.plain.clear();
    PGM_TRY(s.decryptor->finish(s.plain).map_error(named));
    PGM_TRY(s.decompress(s.plain, decoder, sink).map_error(named));
  }
  if (s.decompressor) {
    PGM_TRY(
        s.decompressor
            ->finish([&](std::span<const uint8_t> out) { return s.to_decoder(out, decoder, sink); })
            .map_error(named));
  }
  return {};
}

namespace {

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Feeds the WAL members of a tar archive to the decoder, one StoredSegmentFeeder per member.
class WalTarSink : public backup::TarSink {
 public:
  WalTarSink(crypto::AesMode mode, const crypto::MasterKey* key, Decoder& decoder,
             const RecordSink& sink)
      : mode_(mode), key_(key), decoder_(decoder), sink_(sink) {}

  Result<void> begin(const backup::TarEntry& entry) override {
    feeder_.reset();
    const std::string name = base_name(entry.path);
    const wal::WalFileInfo info = wal::classify_wal_file(name);
    if (entry.type != backup::TarType::kFile ||
        (info.kind != wal::WalFileKind::kSegment && info.kind != wal::WalFileKind::kPartial)) {
      return {};
    }
    PGM_ASSIGN_OR_RETURN(StoredSegmentFeeder feeder,
                         StoredSegmentFeeder::create(entry.path, mode_, key_));
    feeder_.emplace(std::move(feeder));
    return {};
  }
  Result<void> data(std::span<const uint8_t> bytes) override {
    return feeder_ ? feeder_->update(bytes, decoder_, sink_) : Result<void>();
  }
  Result<void> end() override {
    if (!feeder_) {
      return {};
    }
    auto done = feeder_->finish(decoder_, sink_);
    feeder_.reset();
    return done;
  }

 private:
  crypto::AesMode mode_;
  const crypto::MasterKey* key_;
  Decoder& decoder_;
  const RecordSink& sink_;
  std::optional<StoredSegmentFeeder> feeder_;
};

// Reads `path` through `fs` in 64 kB chunks, handing each to `consume`.
Result<void> read_in_chunks(io::FileSystem& fs, const std::string& path,
                            const std::function<Result<void>(std::span<const uint8_t>)>& consume) {
  const int fd = fs.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  ScopeExit close_fd([&] { fs.close(fd); });
  std::vector<uint8_t> buffer(size_t{1} << 16);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t got, io::read_some(fs, fd, buffer, "read", path));
    if (got == 0) {
      return {};
    }
    PGM_TRY(consume(std::span<const uint8_t>(buffer).first(got)));
  }
}

}  // namespace

std::optional<TarLayers> wal_tar_layers(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  TarLayers layers;
  constexpr std::string_view kAes = ".aes";
  if (name.size() > kAes.size() && name.substr(name.size() - kAes.size()) == kAes) {
    layers.encrypted = true;
    name.remove_suffix(kAes.size());
  }
  constexpr std::string_view kTgz = ".tgz";
  if (name.size() > kTgz.size() && name.substr(name.size() - kTgz.size()) == kTgz) {
    layers.compression = compress::Algorithm::kGzip;
    return layers;
  }
  if (auto suffix = compress::match_suffix(name)) {
    layers.compression = suffix->algorithm;
    name.remove_suffix(suffix->length);
  }
  constexpr std::string_view kTar = ".tar";
  if (name.size() > kTar.size() && name.substr(name.size() - kTar.size()) == kTar) {
    return layers;
  }
  return std::nullopt;
}

Result<void> decode_wal_in_tar(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                               const crypto::MasterKey* key, Decoder& decoder,
                               const RecordSink& sink) {
  const TarLayers layers = wal_tar_layers(path).value_or(TarLayers{});
  auto context = [&](const Error& e) { return e.with_context(path); };
  // The archive's own layers (an archive made with `tar -z`/`--zstd`/..., or encrypted as the
  // daemon encrypts files) are undone on the fly, as for a segment: the archive is never held
  // whole. Its members then carry their own layers (a .zstd segment inside a .tar.gz).
  std::optional<crypto::AesGcmDecryptor> decryptor;
  if (layers.encrypted) {
    if (key == nullptr) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{}: encrypted, and no master key given", path));
    }
    auto created = crypto::AesGcmDecryptor::create(*key, mode);
    if (!created) {
      return tl::unexpected<Error>(context(created.error()));
    }
    decryptor.emplace(std::move(*created));
  }
  std::optional<compress::Decompressor> decompressor;
  if (layers.compression != compress::Algorithm::kNone) {
    auto created = compress::Decompressor::create(layers.compression);
    if (!created) {
      return tl::unexpected<Error>(context(created.error()));
    }
    decompressor.emplace(std::move(*created));
  }
  WalTarSink members(mode, key, decoder, sink);
  backup::TarReader reader(members, /*accept_missing_trailer=*/true);
  auto to_tar = [&](std::span<const uint8_t> bytes) -> Result<void> {
    if (!decompressor) {
      return reader.feed(bytes);
    }
    return decompressor->update(bytes,
                                [&](std::span<const uint8_t> out) { return reader.feed(out); });
  };
  std::vector<uint8_t> plain;  // decrypted, still compressed (reused)
  auto read = read_in_chunks(fs, path, [&](std::span<const uint8_t> bytes) -> Result<void> {
    if (!decryptor) {
      return to_tar(bytes);
    }
    plain.clear();
    PGM_TRY(decryptor->update(bytes, plain));
    return to_tar(plain);
  });
  PGM_TRY(read.map_error(context));
  if (decryptor) {
    plain.clear();
    PGM_TRY(decryptor->finish(plain).map_error(context));
    PGM_TRY(to_tar(plain).map_error(context));
  }
  if (decompressor) {
    PGM_TRY(decompressor->finish([&](std::span<const uint8_t> out) { return reader.feed(out); })
                .map_error(context));
  }
  return reader.finish().map_error(context);
}

Result<void> decode_stored_file(io::FileSystem& fs, const std::string& path, crypto::AesMode mode,
                                const crypto::MasterKey* key, Decoder& decoder,
                                const RecordSink& sink) {
  PGM_ASSIGN_OR_RETURN(StoredSegmentFeeder feeder,
                       StoredSegmentFeeder::create(base_name(path), mode, key));
  PGM_TRY(read_in_chunks(fs, path, [&](std::span<const uint8_t> bytes) {
    return feeder.update(bytes, decoder, sink);
  }));
  return feeder.finish(decoder, sink);
}

}  // namespace pgm::xlog
