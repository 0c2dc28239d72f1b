#include "pgm/backup/stored_files.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <numeric>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/core/result.h"
#include "pgm/io/fd.h"

namespace pgm::backup {

namespace {

// Stored digests written to the spool at a time.
constexpr size_t kSpoolBatch = 1024;

// A read-write file without a name in `dir`: O_TMPFILE, or a name unlinked at once where the
// file system has no O_TMPFILE.
Result<UniqueFd> open_spool(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) {
    return UniqueFd(fd);
  }
  const std::string name = fmt::format("{}/.stored-digests.{}", dir, ::getpid());
  fd = ::open(name.c_str(), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, 0600);
  if (fd < 0) {
    return make_errno_error(fmt::format("create a spool in {}", dir), errno);
  }
  ::unlink(name.c_str());
  return UniqueFd(fd);
}

}  // namespace

StoredFileList::StoredFileList(std::string suffix, std::string spool_dir)
    : suffix_(std::move(suffix)), spool_dir_(std::move(spool_dir)) {}

Result<void> StoredFileList::flush_spool() {
  if (spool_dir_.empty() || unspooled_.empty()) {
    return {};
  }
  if (!spool_) {
    PGM_ASSIGN_OR_RETURN(spool_, open_spool(spool_dir_));
  }
  const std::span<const uint8_t> bytes(unspooled_.front().data(),
                                       unspooled_.size() * sizeof(crypto::Sha512Digest));
  PGM_TRY(io::pwrite_all(spool_.get(), bytes, spooled_ * sizeof(crypto::Sha512Digest), "write",
                         spool_dir_ + " (spool)"));
  spooled_ += unspooled_.size();
  unspooled_.clear();
  return {};
}

uint32_t StoredFileList::intern_prefix(std::string_view prefix) {
  // A handful of prefixes ("data/", one per tablespace); the newest is the likeliest.
  for (size_t i = prefixes_.size(); i > 0; --i) {
    if (prefixes_[i - 1] == prefix) {
      return static_cast<uint32_t>(i - 1);
    }
  }
  prefixes_.emplace_back(prefix);
  return static_cast<uint32_t>(prefixes_.size() - 1);
}

Result<void> StoredFileList::add(const NewStoredFile& file) {
  // The stored base and the manifest path share a tail ("base/1/1259" in "data/base/1/1259");
  // only the manifest path is kept, the stored base is its tail behind an interned prefix.
  const std::string_view manifest = file.manifest_path;
  const std::string_view stored = file.stored_base;
  size_t tail = 0;
  while (tail < manifest.size() && tail < stored.size() &&
         manifest[manifest.size() - 1 - tail] == stored[stored.size() - 1 - tail]) {
    ++tail;
  }
  PGM_CHECK(manifest.size() <= UINT32_MAX);

  if (count_ % kRowsPerChunk == 0) {
    rows_.push_back(std::make_unique<Row[]>(kRowsPerChunk));
  }
  Row& r = rows_.back()[count_ % kRowsPerChunk];
  ++count_;
  r.sha512 = file.sha512;
  r.size = file.size;
  r.stored_size = file.stored_size;
  r.path = arena_.add(manifest).data();
  r.path_length = static_cast<uint32_t>(manifest.size());
  r.prefix = intern_prefix(stored.substr(0, stored.size() - tail));
  r.skip = static_cast<uint32_t>(manifest.size() - tail);
  r.crc32c = file.crc32c.value_or(0);
  r.flags = static_cast<uint8_t>((file.linked ? kLinked : 0) |
                                 (file.has_block_hashes ? kHasBlockHashes : 0) |
                                 (file.crc32c ? kHasCrc32c : 0) | (file.plain ? kPlain : 0));
  r.hash_chunk = 0;
  r.hash_first = 0;
  r.hash_count = static_cast<uint32_t>(file.block_hashes.size());
  if (!file.block_hashes.empty()) {
    // A file's hashes stay contiguous: a new chunk when the last one has no room for them.
    if (hash_chunks_.empty() ||
        hash_chunks_.back().capacity() - hash_chunks_.back().size() < file.block_hashes.size()) {
      hash_chunks_.emplace_back().reserve(std::max(kHashesPerChunk, file.block_hashes.size()));
    }
    std::vector<incremental::BlockHash>& chunk = hash_chunks_.back();
    r.hash_chunk = static_cast<uint32_t>(hash_chunks_.size() - 1);
    r.hash_first = static_cast<uint32_t>(chunk.size());
    chunk.insert(chunk.end(), file.block_hashes.begin(), file.block_hashes.end());
  }
  unspooled_.push_back(file.stored_sha512);
  return unspooled_.size() >= kSpoolBatch ? flush_spool() : Result<void>{};
}

Result<void> StoredFileList::seal() {
  PGM_TRY(flush_spool());
  order_.assign(count_, 0);
  std::iota(order_.begin(), order_.end(), 0);
  auto path_of = [this](uint32_t r) {
    const Row& row = rows_[r / kRowsPerChunk][r % kRowsPerChunk];
    return std::string_view(row.path, row.path_length);
  };
  std::sort(order_.begin(), order_.end(),
            [&](uint32_t a, uint32_t b) { return path_of(a) < path_of(b); });
  return {};
}

Result<crypto::Sha512Digest> StoredFileList::stored_sha512(size_t i) const {
  const uint64_t r = order_[i];
  if (r >= spooled_) {
    return unspooled_[r - spooled_];
  }
  crypto::Sha512Digest d{};
  PGM_ASSIGN_OR_RETURN(
      size_t n, io::pread_full(spool_.get(), d, r * sizeof d, "read", spool_dir_ + " (spool)"));
  if (n != sizeof d) {
    return make_error(ErrorCode::kIo, fmt::format("read {} (spool): short", spool_dir_));
  }
  return d;
}

std::string_view StoredFileList::manifest_path(size_t i) const {
  const Row& r = row(i);
  return {r.path, r.path_length};
}

std::string StoredFileList::stored_path(size_t i) const {
  const Row& r = row(i);
  std::string out = prefixes_[r.prefix];
  out.append(r.path + r.skip, r.path_length - r.skip);
  if ((r.flags & kPlain) == 0) {
    out += suffix_;
  }
  return out;
}

std::optional<uint32_t> StoredFileList::crc32c(size_t i) const {
  const Row& r = row(i);
  return (r.flags & kHasCrc32c) != 0 ? std::optional<uint32_t>(r.crc32c) : std::nullopt;
}

std::span<const incremental::BlockHash> StoredFileList::block_hashes(size_t i) const {
  const Row& r = row(i);
  if (r.hash_count == 0) {
    return {};
  }
  return std::span<const incremental::BlockHash>(hash_chunks_[r.hash_chunk])
      .subspan(r.hash_first, r.hash_count);
}

StoredFile StoredFileList::operator[](size_t i) const {
  StoredFile f;
  f.manifest_path = std::string(manifest_path(i));
  f.stored_path = stored_path(i);
  f.size = file_size(i);
  f.stored_size = stored_size(i);
  f.sha512 = crypto::Sha512::hex(sha512(i));
  auto stored = stored_sha512(i);
  PGM_CHECK(stored.has_value());
  f.stored_sha512 = crypto::Sha512::hex(*stored);
  if (auto crc = crc32c(i)) {
    f.crc32c = crc32c_manifest_hex(*crc);
  }
  const auto hashes = block_hashes(i);
  f.block_hashes.assign(hashes.begin(), hashes.end());
  f.has_block_hashes = has_block_hashes(i);
  f.linked = linked(i);
  return f;
}

}  // namespace pgm::backup
