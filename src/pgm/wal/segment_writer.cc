#include "pgm/wal/segment_writer.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::wal {
namespace {

constexpr mode_t kFileMode = 0600;
constexpr size_t kZeroChunk = size_t{1} << 20;

Result<void> fsync_fd(io::FileSystem& fs, int fd, const std::string& path) {
  if (fs.fsync(fd) != 0) {
    return make_errno_error(fmt::format("fsync {}", path), errno);
  }
  return {};
}

Result<void> unlink_if_present(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return make_errno_error(fmt::format("remove {}", path), errno);
  }
  return {};
}

}  // namespace

SegmentWriter::SegmentWriter(std::string dir, uint64_t seg_size, TimelineId tli,
                             OnComplete on_complete, io::FileSystem& fs)
    : dir_(std::move(dir)),
      seg_size_(seg_size),
      tli_(tli),
      on_complete_(std::move(on_complete)),
      fs_(&fs) {}

Result<SegmentWriter> SegmentWriter::create(std::string dir, uint64_t seg_size, TimelineId tli,
                                            OnComplete on_complete, io::FileSystem& fs) {
  PGM_TRY(check_segment_size(seg_size));
  if (!tli.is_valid()) {
    return make_error(ErrorCode::kInvalidArgument, "invalid timeline 0");
  }
  return SegmentWriter(std::move(dir), seg_size, tli, std::move(on_complete), fs);
}

Result<void> SegmentWriter::open_segment(SegmentNo segno, uint64_t offset) {
  std::string path = fmt::format("{}/{}.partial", dir_, segment_name_for(tli_, segno, seg_size_));
  UniqueFd fd(fs_->open(path, O_RDWR | O_CREAT | O_CLOEXEC, kFileMode));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  struct stat st {};
  if (fs_->fstat(fd.get(), &st) != 0) {
    return make_errno_error(fmt::format("stat {}", path), errno);
  }
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > seg_size_) {
    return make_error(ErrorCode::kCorruption, fmt::format("{} has {} bytes, more than the segment "
                                                          "size {}",
                                                          path, size, seg_size_));
  }
  if (size == 0 && offset != 0) {
    return make_error(
        ErrorCode::kProtocol,
        fmt::format("wal data at offset {} of {} which does not exist yet", offset, path));
  }
  if (size < seg_size_) {
    // Extend to the full size with zeros (a crash during an earlier fill leaves a short
    // file). fallocate reserves the blocks without writing them (they read as zeros), which
    // halves the bytes written per segment; where the file system cannot, write zeros.
    int rc =
        fs_->fallocate(fd.get(), 0, static_cast<off_t>(size), static_cast<off_t>(seg_size_ - size));
    if (rc != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      return make_errno_error(fmt::format("allocate {}", path), errno);
    }
    if (rc != 0) {
      static const std::vector<uint8_t> zeros(kZeroChunk, 0);
      for (uint64_t at = size; at < seg_size_;) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(kZeroChunk, seg_size_ - at));
        PGM_TRY(io::pwrite_all(*fs_, fd.get(), std::span(zeros.data(), n), at, "write", path));
        at += n;
      }
    }
    PGM_TRY(fsync_fd(*fs_, fd.get(), path));
    PGM_TRY(io::fsync_directory(dir_, *fs_));
  }
  fd_ = std::move(fd);
  segno_ = segno;
  partial_path_ = std::move(path);
  return {};
}

Result<void> SegmentWriter::complete_segment() {
  PGM_TRY(fsync_fd(*fs_, fd_.get(), partial_path_));
  if (fs_->close(fd_.release()) != 0) {
    return make_errno_error(fmt::format("close {}", partial_path_), errno);
  }
  std::string name = segment_name_for(tli_, segno_, seg_size_);
  std::string final_path = fmt::format("{}/{}", dir_, name);
  if (fs_->rename(partial_path_, final_path) != 0) {
    return make_errno_error(fmt::format("rename {} to {}", partial_path_, final_path), errno);
  }
  partial_path_.clear();
  PGM_TRY(io::fsync_directory(dir_, *fs_));
  flushed_ = position_;
  if (on_complete_) {
    auto done = on_complete_(name);
    if (!done) {
      return tl::unexpected(done.error().with_context(fmt::format("segment {}", name)));
    }
  }
  return {};
}

Result<void> SegmentWriter::write(Lsn start, std::span<const uint8_t> data) {
  if (started_ && start != position_) {
    return make_error(ErrorCode::kProtocol, fmt::format("wal data at {}, expected {}",
                                                        start.to_string(), position_.to_string()));
  }
  if (!started_) {
    position_ = start;
    flushed_ = start;
    started_ = true;
  }
  while (!data.empty()) {
    SegmentNo segno = segment_number(position_, seg_size_);
    uint64_t offset = segment_offset(position_, seg_size_);
    if (fd_ && segno != segno_) {
      PGM_TRY(close());
    }
    if (!fd_) {
      PGM_TRY(open_segment(segno, offset));
    }
    size_t n = static_cast<size_t>(std::min<uint64_t>(data.size(), seg_size_ - offset));
    PGM_TRY(io::pwrite_all(*fs_, fd_.get(), data.first(n), offset, "write", partial_path_));
    position_ += n;
    data = data.subspan(n);
    if (segment_offset(position_, seg_size_) == 0) {
      PGM_TRY(complete_segment());
    }
  }
  return {};
}

Result<Lsn> SegmentWriter::flush() {
  if (fd_ && flushed_ < position_) {
    PGM_TRY(fsync_fd(*fs_, fd_.get(), partial_path_));
  }
  flushed_ = position_;
  return flushed_;
}

Result<void> SegmentWriter::close() {
  if (!fd_) {
    return {};
  }
  PGM_TRY(flush());
  if (fs_->close(fd_.release()) != 0) {
    return make_errno_error(fmt::format("close {}", partial_path_), errno);
  }
  partial_path_.clear();
  return {};
}

Result<void> SegmentWriter::switch_timeline(TimelineId tli) {
  if (!tli.is_valid()) {
    return make_error(ErrorCode::kInvalidArgument, "invalid timeline 0");
  }
  PGM_TRY(close());
  tli_ = tli;
  started_ = false;
  return {};
}

SegmentFinisher::SegmentFinisher(compress::Algorithm algorithm, int level, crypto::AesMode mode,
                                 const crypto::MasterKey* key, io::FileSystem& fs)
    : compressor_(algorithm, level), mode_(mode), key_(key), fs_(&fs) {}

Result<void> SegmentFinisher::read_plain(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return make_errno_error(fmt::format("stat {}", path), errno);
  }
  input_.resize(static_cast<size_t>(st.st_size));  // capacity reused across segments
  PGM_ASSIGN_OR_RETURN(size_t done, io::pread_full(fd.get(), input_, 0, "read", path));
  if (done < input_.size()) {
    return make_error(ErrorCode::kIo, fmt::format("read {}: file shrank while reading", path));
  }
  return {};
}

Result<std::string> SegmentFinisher::finish(const std::string& dir, const std::string& name) {
  bool encrypt = mode_ != crypto::AesMode::kNone;
  compress::Algorithm algorithm = compressor_.algorithm();
  if (algorithm == compress::Algorithm::kNone && !encrypt) {
    return name;
  }
  if (encrypt && key_ == nullptr) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("finish {}: encryption requested without a key", name));
  }
  std::string out_name =
      fmt::format("{}{}{}", name, compress::file_suffix(algorithm), encrypt ? ".aes" : "");
  std::string plain_path = fmt::format("{}/{}", dir, name);
  std::string out_path = fmt::format("{}/{}", dir, out_name);

  // Temp files of an interrupted attempt ("<name><suffixes>.tmp.<pid>"), whatever the settings
  // were then; and a stored form that already exists, possibly from other settings before a
  // restart: it appeared by rename, so it is complete and the segment is stored.
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> entries, io::list_directory(dir));
  std::string existing;
  std::string prefix = name + ".";
  for (const std::string& entry : entries) {
    if (entry.compare(0, prefix.size(), prefix) != 0) {
      continue;
    }
    if (entry.find(".tmp.") != std::string::npos) {
      PGM_TRY(unlink_if_present(fmt::format("{}/{}", dir, entry)));
      continue;
    }
    WalFileInfo info = classify_wal_file(entry);
    if (info.kind == WalFileKind::kSegment && info.base == name &&
        (info.compression != compress::Algorithm::kNone || info.encrypted) &&
        (existing.empty() || entry == out_name)) {
      existing = entry;
    }
  }

  if (existing.empty()) {
    PGM_TRY(read_plain(plain_path));
    std::span<const uint8_t> bytes(input_);
    if (algorithm != compress::Algorithm::kNone) {
      auto compressed = compressor_.compress(bytes);
      if (!compressed) {
        return tl::unexpected(
            compressed.error().with_context(fmt::format("compress {}", plain_path)));
      }
      bytes = *compressed;
    }
    if (encrypt) {
      if (auto encrypted = crypto::aes_encrypt_into(*key_, mode_, bytes, encrypted_); !encrypted) {
        return tl::unexpected(
            encrypted.error().with_context(fmt::format("encrypt {}", plain_path)));
      }
      bytes = encrypted_;
    }
    PGM_ASSIGN_OR_RETURN(io::AtomicFile file, io::AtomicFile::create(out_path, kFileMode, *fs_));
    PGM_TRY(
        file.write(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size())));
    PGM_TRY(file.commit());
    existing = out_name;
  }
  PGM_TRY(unlink_if_present(plain_path));
  PGM_TRY(io::fsync_directory(dir, *fs_));
  return existing;
}

Result<std::string> finish_segment(const std::string& dir, const std::string& name,
                                   compress::Algorithm algorithm, int level, crypto::AesMode mode,
                                   const crypto::MasterKey* key) {
  SegmentFinisher finisher(algorithm, level, mode, key);
  return finisher.finish(dir, name);
}

Result<std::optional<ResumePoint>> resume_position(const std::string& dir, uint64_t seg_size) {
  PGM_TRY(check_segment_size(seg_size));
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> entries, io::list_directory(dir));
  std::optional<std::tuple<SegmentNo, uint32_t, bool>> newest;  // segno, tli, is partial
  for (const std::string& entry : entries) {
    WalFileInfo info = classify_wal_file(entry);
    if (info.kind != WalFileKind::kSegment && info.kind != WalFileKind::kPartial) {
      continue;
    }
    auto id = parse_segment_name(info.base, seg_size);
    if (!id) {
      return tl::unexpected(id.error().with_context(fmt::format("{}/{}", dir, entry)));
    }
    auto key = std::make_tuple(id->segno, id->tli.value(), info.kind == WalFileKind::kPartial);
    if (!newest || key > *newest) {
      newest = key;
    }
  }
  if (!newest) {
    return std::optional<ResumePoint>();
  }
  auto [segno, tli, partial] = *newest;
  Lsn lsn = segment_start(partial ? segno : segno + 1, seg_size);
  return std::optional<ResumePoint>(ResumePoint{lsn, TimelineId(tli)});
}

}  // namespace pgm::wal
