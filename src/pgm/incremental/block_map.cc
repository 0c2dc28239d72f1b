#include "pgm/incremental/block_map.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "pgm/io/file.h"

namespace pgm::incremental {

namespace {

constexpr std::string_view kMapMagic = "PGMBMAP1";
constexpr size_t kPrelude = 8 + 4 + 4 + 8;

void put(std::string& out, const void* p, size_t n) { out.append(static_cast<const char*>(p), n); }
template <typename T>
void put_int(std::string& out, T v) {
  put(out, &v, sizeof v);
}

// Reads fixed-size fields from a byte string, failing once past its end.
class Cursor {
 public:
  explicit Cursor(std::string_view bytes) : bytes_(bytes) {}
  template <typename T>
  bool get(T& v) {
    if (bytes_.size() - at_ < sizeof v) {
      return false;
    }
    std::memcpy(&v, bytes_.data() + at_, sizeof v);
    at_ += sizeof v;
    return true;
  }
  bool take(size_t n, std::string_view& out) {
    if (bytes_.size() - at_ < n) {
      return false;
    }
    out = bytes_.substr(at_, n);
    at_ += n;
    return true;
  }
  size_t remaining() const { return bytes_.size() - at_; }

 private:
  std::string_view bytes_;
  size_t at_ = 0;
};

}  // namespace

BlockHash hash_block(std::span<const uint8_t> block) {
  const XXH128_hash_t h = XXH3_128bits(block.data(), block.size());
  return BlockHash{h.low64, h.high64};
}

BlockHash zero_block_hash() {
  static const BlockHash zero = [] {
    const std::vector<uint8_t> block(kBlockSize, 0);
    return hash_block(block);
  }();
  return zero;
}

void BlockHasher::update(std::span<const uint8_t> bytes) {
  if (!partial_.empty()) {
    const size_t n = std::min(bytes.size(), kBlockSize - partial_.size());
    partial_.insert(partial_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    bytes = bytes.subspan(n);
    if (partial_.size() < kBlockSize) {
      return;
    }
    hashes_.push_back(hash_block(partial_));
    partial_.clear();
  }
  while (bytes.size() >= kBlockSize) {
    hashes_.push_back(hash_block(bytes.first(kBlockSize)));
    bytes = bytes.subspan(kBlockSize);
  }
  partial_.assign(bytes.begin(), bytes.end());
}

std::vector<BlockHash> BlockHasher::finish() {
  if (!partial_.empty()) {
    hashes_.push_back(hash_block(partial_));
    partial_.clear();
  }
  return std::exchange(hashes_, {});
}

std::vector<BlockHash> merge_logical(std::span<const BlockHash> parent, const Header& header,
                                     std::span<const BlockHash> changed) {
  const uint32_t length = header.reconstructed_length();
  std::vector<BlockHash> out(length, zero_block_hash());
  for (uint32_t b = 0; b < std::min<uint64_t>(header.truncation_block_length, parent.size()); ++b) {
    out[b] = parent[b];
  }
  for (size_t i = 0; i < header.blocks.size() && i < changed.size(); ++i) {
    out[header.blocks[i]] = changed[i];
  }
  return out;
}

void BlockMap::add(std::string path, uint64_t size, std::span<const BlockHash> hashes) {
  entries_.push_back(
      Entry{std::move(path), size, hashes_.size(), static_cast<uint32_t>(hashes.size())});
  hashes_.insert(hashes_.end(), hashes.begin(), hashes.end());
  sealed_ = false;
}

Result<void> BlockMap::seal() {
  std::sort(entries_.begin(), entries_.end(),
            [](const Entry& a, const Entry& b) { return a.path < b.path; });
  for (size_t i = 1; i < entries_.size(); ++i) {
    if (entries_[i].path == entries_[i - 1].path) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("block map: file {} added twice", entries_[i].path));
    }
  }
  sealed_ = true;
  return {};
}

const BlockMap::Entry* BlockMap::find(std::string_view path) const {
  const auto it = std::lower_bound(entries_.begin(), entries_.end(), path,
                                   [](const Entry& e, std::string_view p) { return e.path < p; });
  return it != entries_.end() && it->path == path ? &*it : nullptr;
}

std::span<const BlockHash> BlockMap::hashes(const Entry& entry) const {
  return std::span<const BlockHash>(hashes_).subspan(entry.first, entry.count);
}

std::string BlockMap::serialize() const {
  std::string out;
  out.reserve(kPrelude + entries_.size() * 32 + hashes_.size() * 16 + 8);
  out.append(kMapMagic);
  put_int<uint32_t>(out, kBlockSize);
  put_int<uint32_t>(out, 0);
  put_int<uint64_t>(out, entries_.size());
  for (const Entry& e : entries_) {
    put_int<uint32_t>(out, static_cast<uint32_t>(e.path.size()));
    out.append(e.path);
    put_int<uint64_t>(out, e.size);
    put_int<uint32_t>(out, e.count);
    for (const BlockHash& h : hashes(e)) {
      put_int<uint64_t>(out, h.low);
      put_int<uint64_t>(out, h.high);
    }
  }
  put_int<uint64_t>(out, XXH3_64bits(out.data(), out.size()));
  return out;
}

Result<BlockMap> BlockMap::parse(std::string_view bytes, const std::string& name) {
  auto corrupt = [&](const std::string& what) {
    return make_error(ErrorCode::kCorruption, fmt::format("{}: block map: {}", name, what));
  };
  if (bytes.size() < kPrelude + 8 || bytes.substr(0, kMapMagic.size()) != kMapMagic) {
    return corrupt("not a block map (bad magic or too short)");
  }
  uint64_t stored_sum = 0;
  std::memcpy(&stored_sum, bytes.data() + bytes.size() - 8, 8);
  const std::string_view body = bytes.substr(0, bytes.size() - 8);
  if (XXH3_64bits(body.data(), body.size()) != stored_sum) {
    return corrupt("checksum mismatch (damaged file)");
  }
  Cursor in(body.substr(kMapMagic.size()));
  uint32_t block_size = 0;
  uint32_t reserved = 0;
  uint64_t files = 0;
  if (!in.get(block_size) || !in.get(reserved) || !in.get(files)) {
    return corrupt("truncated prelude");
  }
  if (block_size != kBlockSize) {
    return corrupt(fmt::format("block size {} (expected {})", block_size, kBlockSize));
  }
  BlockMap map;
  // Each entry takes at least 16 bytes: a count beyond that is damage, not a reason to
  // reserve gigabytes.
  if (files > in.remaining() / 16) {
    return corrupt(fmt::format("file count {} exceeds the file's length", files));
  }
  map.entries_.reserve(files);
  for (uint64_t i = 0; i < files; ++i) {
    uint32_t path_length = 0;
    std::string_view path;
    uint64_t size = 0;
    uint32_t count = 0;
    if (!in.get(path_length) || !in.take(path_length, path) || !in.get(size) || !in.get(count) ||
        uint64_t{count} * 16 > in.remaining()) {
      return corrupt(fmt::format("truncated at file {} of {}", i + 1, files));
    }
    if (!map.entries_.empty() && !(map.entries_.back().path < path)) {
      return corrupt(fmt::format("paths out of order at {}", path));
    }
    map.entries_.push_back(Entry{std::string(path), size, map.hashes_.size(), count});
    for (uint32_t b = 0; b < count; ++b) {
      BlockHash h;
      if (!in.get(h.low) || !in.get(h.high)) {
        return corrupt("truncated hashes");
      }
      map.hashes_.push_back(h);
    }
  }
  if (in.remaining() != 0) {
    return corrupt(fmt::format("{} bytes after the last file", in.remaining()));
  }
  return map;
}

struct BlockMapWriter::State {
  Sink sink;
  uint64_t files = 0;
  uint64_t added = 0;
  std::string last_path;
  std::string buffer;
  std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> sum{XXH3_createState(), &XXH3_freeState};
};

BlockMapWriter::BlockMapWriter(uint64_t files, Sink sink) : state_(std::make_unique<State>()) {
  state_->sink = std::move(sink);
  state_->files = files;
  PGM_CHECK(state_->sum != nullptr);
  XXH3_64bits_reset(state_->sum.get());
  state_->buffer.append(kMapMagic);
  put_int<uint32_t>(state_->buffer, kBlockSize);
  put_int<uint32_t>(state_->buffer, 0);
  put_int<uint64_t>(state_->buffer, files);
}

BlockMapWriter::~BlockMapWriter() = default;

Result<void> BlockMapWriter::flush() {
  State& s = *state_;
  XXH3_64bits_update(s.sum.get(), s.buffer.data(), s.buffer.size());
  PGM_TRY(s.sink(s.buffer));
  s.buffer.clear();
  return {};
}

Result<void> BlockMapWriter::add(std::string_view path, uint64_t size,
                                 std::span<const BlockHash> hashes) {
  State& s = *state_;
  if (s.added == s.files || (s.added > 0 && !(s.last_path < path))) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("block map: {} out of order or beyond {} files", path, s.files));
  }
  ++s.added;
  s.last_path.assign(path);
  put_int<uint32_t>(s.buffer, static_cast<uint32_t>(path.size()));
  s.buffer.append(path);
  put_int<uint64_t>(s.buffer, size);
  put_int<uint32_t>(s.buffer, static_cast<uint32_t>(hashes.size()));
  for (const BlockHash& h : hashes) {
    put_int<uint64_t>(s.buffer, h.low);
    put_int<uint64_t>(s.buffer, h.high);
  }
  return s.buffer.size() >= (size_t{64} << 10) ? flush() : Result<void>{};
}

Result<void> BlockMapWriter::finish() {
  State& s = *state_;
  if (s.added != s.files) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("block map: {} of {} files added", s.added, s.files));
  }
  PGM_TRY(flush());
  std::string sum;
  put_int<uint64_t>(sum, XXH3_64bits_digest(s.sum.get()));
  return s.sink(sum);
}

Result<void> BlockMap::write(const std::string& path) const {
  if (!sealed_) {
    return make_error(ErrorCode::kInternal, "block map written before seal()");
  }
  return io::write_file_atomic(path, serialize(), 0600);
}

Result<BlockMap> BlockMap::read(const std::string& path) {
  auto bytes = io::read_file(path);
  if (!bytes) {
    return tl::unexpected(bytes.error());
  }
  return parse(*bytes, path);
}

}  // namespace pgm::incremental
