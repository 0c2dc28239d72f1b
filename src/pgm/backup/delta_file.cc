#include "pgm/backup/delta_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/incremental/format.h"
#include "pgm/io/fd.h"

namespace pgm::backup {

using incremental::kBlockSize;

size_t DeltaFile::memory_cap = size_t{64} << 20;

Result<std::unique_ptr<DeltaFile>> DeltaFile::create(FileStore& store, std::string stored_base,
                                                     std::string manifest_path, uint64_t size,
                                                     std::span<const incremental::BlockHash> parent,
                                                     std::string spool_dir, bool crc32c) {
  if (!incremental::incremental_candidate(manifest_path, size)) {
    return make_error(
        ErrorCode::kInternal,
        fmt::format("{} ({} bytes) cannot be stored as a block delta", manifest_path, size));
  }
  PGM_ASSIGN_OR_RETURN(crypto::Sha512 sha, crypto::Sha512::create());
  return std::unique_ptr<DeltaFile>(new DeltaFile(store, std::move(stored_base),
                                                  std::move(manifest_path), size, parent,
                                                  std::move(spool_dir), crc32c, std::move(sha)));
}

DeltaFile::DeltaFile(FileStore& store, std::string stored_base, std::string manifest_path,
                     uint64_t size, std::span<const incremental::BlockHash> parent,
                     std::string spool_dir, bool crc32c, crypto::Sha512 sha)
    : store_(store),
      stored_base_(std::move(stored_base)),
      spool_dir_(std::move(spool_dir)),
      parent_(parent),
      blocks_(static_cast<uint32_t>(size / kBlockSize)),
      sha_(std::move(sha)),
      crc_on_(crc32c),
      crc_(kCrc32cInit) {
  out_.manifest_path = std::move(manifest_path);
  out_.size = size;
  out_.block_hashes.reserve(blocks_);
}

DeltaFile::~DeltaFile() = default;

Result<void> DeltaFile::write(std::span<const uint8_t> bytes) {
  if (seen_ + bytes.size() > out_.size) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("{}: more bytes than the {} its tar header announced",
                                  out_.manifest_path, out_.size));
  }
  seen_ += bytes.size();
  sha_.update(bytes);
  if (crc_on_) {
    crc_ = crc32c_update(crc_, bytes);
  }
  if (!partial_.empty()) {
    const size_t n = std::min(bytes.size(), kBlockSize - partial_.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (partial_.size() < kBlockSize) {
      return {};
    }
    PGM_TRY(block(partial_));
    partial_.clear();
  }
  while (bytes.size() >= kBlockSize) {
    PGM_TRY(block(bytes.first(kBlockSize)));
    bytes = bytes.subspan(kBlockSize);
  }
  partial_.assign(bytes.begin(), bytes.end());
  return {};
}

Result<void> DeltaFile::block(std::span<const uint8_t> data) {
  const auto number = static_cast<uint32_t>(out_.block_hashes.size());
  const incremental::BlockHash hash = incremental::hash_block(data);
  out_.block_hashes.push_back(hash);
  const bool changed = number >= parent_.size() || parent_[number] != hash;
  if (changed) {
    ++out_.changed_blocks;
  } else {
    ++unchanged_;
  }
  switch (mode_) {
    case Mode::kWhole:
      return store_.write(data);
    case Mode::kIncremental:
      return changed ? spool(data) : Result<void>{};
    case Mode::kUndecided:
      spooled_.push_back(Spooled{number, changed});
      PGM_TRY(spool(data));
      return decide();
  }
  return {};
}

Result<void> DeltaFile::decide() {
  // PostgreSQL sends a file whole when 90 % or more of its blocks changed.
  const uint64_t n = blocks_;
  if (uint64_t{out_.changed_blocks} * 10 >= n * 9) {
    return go_whole();
  }
  if (uint64_t{unchanged_} * 10 > n) {
    mode_ = Mode::kIncremental;  // fewer than 90 % can change now
  }
  return {};
}

Result<void> DeltaFile::spool(std::span<const uint8_t> data) {
  if (!spill_ && memory_.size() + data.size() > memory_cap) {
    // O_TMPFILE: a file without a name, so a crash leaves no spool behind.
    const int fd = ::open(spool_dir_.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0) {
      return make_errno_error(fmt::format("spool for {} in {}", out_.manifest_path, spool_dir_),
                              errno);
    }
    spill_ = UniqueFd(fd);
    PGM_TRY(io::write_all(spill_.get(), memory_, "write", "the spool of " + out_.manifest_path));
    spilled_ = memory_.size();
    std::vector<uint8_t>().swap(memory_);
  }
  if (spill_) {
    PGM_TRY(io::write_all(spill_.get(), data, "write", "the spool of " + out_.manifest_path));
    spilled_ += data.size();
    return {};
  }
  memory_.insert(memory_.end(), data.begin(), data.end());
  return {};
}

Result<void> DeltaFile::replay(
    const std::function<Result<void>(size_t, std::span<const uint8_t>)>& each) {
  const uint64_t total = spill_ ? spilled_ : memory_.size();
  std::vector<uint8_t> chunk;
  size_t index = 0;
  for (uint64_t at = 0; at < total; at += kBlockSize, ++index) {
    std::span<const uint8_t> data;
    if (spill_) {
      chunk.resize(kBlockSize);
      const ssize_t n = ::pread(spill_.get(), chunk.data(), kBlockSize, static_cast<off_t>(at));
      if (n != static_cast<ssize_t>(kBlockSize)) {
        return make_errno_error(fmt::format("read back the spool of {}", out_.manifest_path),
                                n < 0 ? errno : EIO);
      }
      data = chunk;
    } else {
      data = std::span<const uint8_t>(memory_).subspan(at, kBlockSize);
    }
    PGM_TRY(each(index, data));
  }
  return {};
}

Result<void> DeltaFile::go_whole() {
  mode_ = Mode::kWhole;
  PGM_TRY(store_.begin_file(stored_base_, out_.manifest_path, false));
  PGM_TRY(replay([this](size_t, std::span<const uint8_t> data) { return store_.write(data); }));
  spooled_.clear();
  std::vector<uint8_t>().swap(memory_);
  spill_.reset();
  return {};
}

Result<DeltaOutcome> DeltaFile::finish() {
  if (seen_ != out_.size || !partial_.empty()) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("{}: {} bytes arrived, its tar header announced {}",
                                  out_.manifest_path, seen_, out_.size));
  }
  if (mode_ == Mode::kUndecided) {
    PGM_TRY(decide());
  }
  out_.sha512 = sha_.final();
  if (crc_on_) {
    out_.crc32c = crc32c_final(crc_);
  }
  if (mode_ == Mode::kWhole) {
    PGM_TRY(store_.end_file());
    return std::move(out_);
  }
  // Incremental: the spool holds every block seen while undecided, then only changed ones.
  incremental::Header header;
  header.truncation_block_length = blocks_;
  for (const Spooled& s : spooled_) {
    if (s.changed) {
      header.blocks.push_back(s.block);
    }
  }
  // Changed blocks that arrived after the decision were spooled without an entry.
  const size_t undecided = spooled_.size();
  for (uint32_t b = spooled_.empty() ? 0 : spooled_.back().block + 1; b < blocks_; ++b) {
    if (b >= parent_.size() || parent_[b] != out_.block_hashes[b]) {
      header.blocks.push_back(b);
    }
  }
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> head, incremental::encode_header(header));
  PGM_TRY(store_.begin_file(incremental::incremental_path(stored_base_),
                            incremental::incremental_path(out_.manifest_path), false));
  PGM_TRY(store_.write(head));
  PGM_TRY(replay([&](size_t index, std::span<const uint8_t> data) -> Result<void> {
    if (index < undecided && !spooled_[index].changed) {
      return {};
    }
    return store_.write(data);
  }));
  PGM_TRY(store_.end_file());
  out_.incremental = true;
  spill_.reset();
  std::vector<uint8_t>().swap(memory_);
  return std::move(out_);
}

}  // namespace pgm::backup
