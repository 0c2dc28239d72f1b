#include "pgm/restore/archive.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/compress/stream.h"
#include "pgm/core/scope_exit.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"
#include "pgm/restore/tar_writer.h"

namespace pgm::restore {

namespace {

constexpr size_t kChunk = size_t{1} << 20;

enum class Kind { kDirectory, kFile, kSymlink };

struct Member {
  std::string rel;  // path in the tar
  std::string abs;  // path on disk (through followed tablespace links)
  Kind kind = Kind::kFile;
  uint32_t mode = 0;
  uint64_t size = 0;
  int64_t mtime = 0;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string link;
};

Member member_of(const std::string& rel, const std::string& abs, const struct stat& st, Kind kind) {
  Member m;
  m.rel = rel;
  m.abs = abs;
  m.kind = kind;
  m.mode = static_cast<uint32_t>(st.st_mode & 07777);
  m.size = kind == Kind::kFile ? static_cast<uint64_t>(st.st_size) : 0;
  m.mtime = static_cast<int64_t>(st.st_mtime);
  m.uid = static_cast<uint32_t>(st.st_uid);
  m.gid = static_cast<uint32_t>(st.st_gid);
  return m;
}

// Lists the tree under `abs` (stored as `rel`, "" for the root) in name order, parents first.
// `tblspc` marks pg_tblspc of the root: its symlinks are followed.
Result<void> collect(const std::string& abs, const std::string& rel, bool tblspc,
                     std::vector<Member>& out) {
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> names, io::list_directory(abs));
  for (const std::string& name : names) {
    std::string a = abs + "/" + name;
    std::string r = rel.empty() ? name : rel + "/" + name;
    struct stat st {};
    if (::lstat(a.c_str(), &st) != 0) {
      return make_errno_error(fmt::format("stat {}", a), errno);
    }
    if (S_ISLNK(st.st_mode) && tblspc) {
      if (::stat(a.c_str(), &st) != 0) {
        return make_errno_error(fmt::format("stat tablespace {}", a), errno);
      }
      if (!S_ISDIR(st.st_mode)) {
        return make_error(ErrorCode::kIo,
                          fmt::format("tablespace link {} does not lead to a directory", a));
      }
    }
    if (S_ISDIR(st.st_mode)) {
      out.push_back(member_of(r, a, st, Kind::kDirectory));
      PGM_TRY(collect(a, r, rel.empty() && name == "pg_tblspc", out));
    } else if (S_ISREG(st.st_mode)) {
      out.push_back(member_of(r, a, st, Kind::kFile));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(4096, '\0');
      ssize_t n = ::readlink(a.c_str(), target.data(), target.size());
      if (n < 0) {
        return make_errno_error(fmt::format("readlink {}", a), errno);
      }
      target.resize(static_cast<size_t>(n));
      Member m = member_of(r, a, st, Kind::kSymlink);
      m.link = std::move(target);
      out.push_back(std::move(m));
    }
    // Sockets, FIFOs and devices have no place in a data directory: skipped.
  }
  return {};
}

// The file end of the pipeline: optional encryption, then buffered writes to `fd`.
class Output {
 public:
  Output(int fd, std::string path, std::optional<crypto::AesGcmEncryptor> encryptor)
      : fd_(fd), path_(std::move(path)), encryptor_(std::move(encryptor)) {
    buffer_.reserve(kChunk + kChunk / 4);
  }

  Result<void> put(std::span<const uint8_t> bytes) {
    if (encryptor_) {
      PGM_TRY(encryptor_->update(bytes, buffer_));
    } else {
      buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    }
    return buffer_.size() >= kChunk ? flush() : Result<void>{};
  }

  Result<void> finish() {
    if (encryptor_) {
      PGM_TRY(encryptor_->finish(buffer_));
    }
    PGM_TRY(flush());
    if (::fsync(fd_) != 0) {
      return make_errno_error(fmt::format("fsync {}", path_), errno);
    }
    return {};
  }

  uint64_t size() const { return size_; }

 private:
  Result<void> flush() {
    PGM_TRY(io::write_all(fd_, buffer_, "write", path_));
    size_ += buffer_.size();
    buffer_.clear();
    return {};
  }

  int fd_;
  std::string path_;
  std::optional<crypto::AesGcmEncryptor> encryptor_;
  std::vector<uint8_t> buffer_;
  uint64_t size_ = 0;
};

// Streams one file's content into the tar in kChunk pieces.
Result<void> copy_file(const Member& m, TarWriter& tar, std::vector<uint8_t>& chunk, uint64_t& done,
                       uint64_t total, const ArchiveOptions& o) {
  UniqueFd in(::open(m.abs.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    return make_errno_error(fmt::format("open {}", m.abs), errno);
  }
  PGM_TRY(tar.add_file(m.rel, m.mode, m.size, m.mtime));
  uint64_t left = m.size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    PGM_ASSIGN_OR_RETURN(size_t n,
                         io::read_some(in.get(), std::span(chunk.data(), want), "read", m.abs));
    if (n == 0) {
      return make_error(ErrorCode::kIo, fmt::format("read {}: the file shrank while archived "
                                                    "({} bytes expected, {} missing)",
                                                    m.abs, m.size, left));
    }
    PGM_TRY(tar.write_data(std::span<const uint8_t>(chunk.data(), static_cast<size_t>(n))));
    left -= static_cast<uint64_t>(n);
    done += static_cast<uint64_t>(n);
    if (o.on_progress) {
      o.on_progress(done, total);
    }
  }
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

Result<ArchiveResult> write(const ArchiveOptions& o) {
  auto started = std::chrono::steady_clock::now();
  ArchiveResult result;
  result.path = o.directory + "/" + archive_file_name(o.server, o.label, o.algorithm, o.encryption);
  if (exists(result.path)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} already exists (not overwritten)", result.path));
  }
  std::optional<crypto::AesGcmEncryptor> encryptor;
  if (o.encryption != crypto::AesMode::kNone) {
    if (o.key == nullptr) {
      return make_error(ErrorCode::kInvalidArgument, "an encrypted archive needs the master key");
    }
    PGM_ASSIGN_OR_RETURN(crypto::AesGcmEncryptor e,
                         crypto::AesGcmEncryptor::create(*o.key, o.encryption));
    encryptor.emplace(std::move(e));
  }
  PGM_ASSIGN_OR_RETURN(compress::StreamCompressor compressor,
                       compress::StreamCompressor::create(o.algorithm, o.level));

  std::vector<Member> members;
  PGM_TRY(collect(o.source_dir, "", false, members));
  uint64_t total = 0;
  for (const Member& m : members) {
    total += m.size;
  }

  std::string temp = fmt::format("{}.tmp.{}", result.path, ::getpid());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", temp), errno);
  }
  ScopeExit remove_temp([&temp] { ::unlink(temp.c_str()); });

  Output out(fd.get(), temp, std::move(encryptor));
  compress::Sink to_file = [&out](std::span<const uint8_t> b) { return out.put(b); };
  TarWriter tar([&compressor, &to_file](std::span<const uint8_t> b) {
    return compressor.update(b, to_file);
  });
  std::vector<uint8_t> chunk(kChunk);
  uint64_t done = 0;
  if (o.on_progress) {
    o.on_progress(0, total);
  }
  for (const Member& m : members) {
    tar.set_owner(m.uid, m.gid);
    switch (m.kind) {
      case Kind::kDirectory:
        PGM_TRY(tar.add_directory(m.rel, m.mode, m.mtime));
        ++result.directories;
        break;
      case Kind::kSymlink:
        PGM_TRY(tar.add_symlink(m.rel, m.link, m.mtime));
        break;
      case Kind::kFile:
        PGM_TRY(copy_file(m, tar, chunk, done, total, o));
        ++result.files;
        break;
    }
  }
  PGM_TRY(tar.finish());
  PGM_TRY(compressor.finish(to_file));
  PGM_TRY(out.finish());
  if (::close(fd.release()) != 0) {
    return make_errno_error(fmt::format("close {}", temp), errno);
  }
  // link() fails with EEXIST instead of replacing a file that appeared meanwhile.
  if (::link(temp.c_str(), result.path.c_str()) != 0) {
    if (errno == EEXIST) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} already exists (not overwritten)", result.path));
    }
    return make_errno_error(fmt::format("link {} to {}", temp, result.path), errno);
  }
  remove_temp.dismiss();
  if (::unlink(temp.c_str()) != 0) {
    int e = errno;
    ::unlink(result.path.c_str());
    return make_errno_error(fmt::format("remove {}", temp), e);
  }
  PGM_TRY(io::fsync_directory(o.directory));
  result.size = out.size();
  result.bytes = done;
  result.tar_bytes = tar.bytes_written();
  result.elapsed = std::chrono::steady_clock::now() - started;
  return result;
}

}  // namespace

std::string archive_file_name(const std::string& server, const std::string& label,
                              compress::Algorithm algorithm, crypto::AesMode encryption) {
  std::string name =
      fmt::format("archive-{}-{}.tar{}", server, label, compress::file_suffix(algorithm));
  if (encryption != crypto::AesMode::kNone) {
    name += ".aes";
  }
  return name;
}

Result<ArchiveResult> write_archive(const ArchiveOptions& options) {
  auto r = write(options);
  if (!r) {
    return tl::unexpected(r.error().with_context(
        fmt::format("archive of backup {} of server {}", options.label, options.server)));
  }
  return r;
}

}  // namespace pgm::restore
