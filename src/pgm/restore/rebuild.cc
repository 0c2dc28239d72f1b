#include "pgm/restore/rebuild.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include <fmt/format.h>

#include "pgm/backup/crc32c.h"
#include "pgm/core/unique_fd.h"
#include "pgm/incremental/reconstruct.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::restore {

// Reads one stored version, checking its stored (or plaintext) digest as restore_file does.
Result<uint64_t> read_checked(StoredFileReader& reader, crypto::Sha512& sha,
                              const ChainSource& source, const compress::Sink& sink) {
  const bool check_stored = !source.stored_sha512.empty();
  sha.reset();
  auto read = reader.read(
      source.path, source.format,
      [&](std::span<const uint8_t> bytes) -> Result<void> {
        if (!check_stored) {
          sha.update(bytes);
        }
        return sink(bytes);
      },
      [&](std::span<const uint8_t> bytes) {
        if (check_stored) {
          sha.update(bytes);
        }
      });
  if (!read) {
    return read;
  }
  const std::string got = crypto::Sha512::hex(sha.final());
  const std::string& want = check_stored ? source.stored_sha512 : source.sha512;
  if (!want.empty() && got != want) {
    return make_error(
        ErrorCode::kCorruption,
        fmt::format("{}: SHA-512 {} does not match {} ({})", source.label, got.substr(0, 16),
                    check_stored ? "backup.sha512" : "backup.manifest", want.substr(0, 16)));
  }
  return read;
}

// The header of a stored INCREMENTAL file: only its first bytes are decoded.
Result<incremental::Header> read_incremental_header(StoredFileReader& reader,
                                                    const ChainSource& source) {
  incremental::HeaderReader header(source.label);
  std::optional<Error> bad;
  auto read =
      reader.read(source.path, source.format, [&](std::span<const uint8_t> bytes) -> Result<void> {
        auto taken = header.feed(bytes);
        if (!taken) {
          bad = taken.error();
          return tl::unexpected(taken.error());
        }
        if (header.done()) {
          return make_error(ErrorCode::kCancelled, "header read");  // stop decoding here
        }
        return {};
      });
  if (bad) {
    return tl::unexpected(*bad);
  }
  if (!read && !(read.error().code() == ErrorCode::kCancelled && header.done())) {
    return tl::unexpected(read.error());
  }
  if (!header.done()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: ends inside its INCREMENTAL header", source.label));
  }
  return header.header();
}

Result<void> rebuild_whole_file(StoredFileReader& reader, crypto::Sha512& sha,
                                const std::vector<ChainSource>& chain,
                                const std::string& destination,
                                const std::function<void(uint64_t)>& advance) {
  std::vector<incremental::Version> versions;
  for (const ChainSource& source : chain) {
    if (source.full) {
      // Its length is known once read: plan for every block it might hold; the router
      // leaves those past its end to be zero-filled.
      versions.push_back(incremental::Version::full(
          uint64_t{incremental::kSegmentBlocks} * incremental::kBlockSize, source.label));
      break;
    }
    PGM_ASSIGN_OR_RETURN(incremental::Header header, read_incremental_header(reader, source));
    versions.push_back(incremental::Version::incremental(std::move(header), source.label));
  }
  PGM_ASSIGN_OR_RETURN(incremental::Plan plan, incremental::plan_reconstruction(versions));

  UniqueFd fd(::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", destination), errno);
  }
  auto write_block = [&](uint32_t target, std::span<const uint8_t> block) -> Result<void> {
    PGM_TRY(io::pwrite_all(fd.get(), block, uint64_t{target} * incremental::kBlockSize, "write",
                           destination));
    if (advance) {
      advance(block.size());
    }
    return {};
  };
  std::vector<uint32_t> zeros = plan.zeros;
  for (size_t v = 0; v < plan.reads.size(); ++v) {
    const ChainSource& source = chain[v];
    if (v > 0 && plan.reads[v].empty()) {
      continue;  // nothing needed from this version (the newest is read whole: it is checked)
    }
    incremental::BlockRouter router(plan.reads[v], incremental::expected_size(versions[v]),
                                    source.label, write_block);
    if (source.full) {
      router.allow_short();
    }
    PGM_TRY(read_checked(reader, sha, source,
                         [&](std::span<const uint8_t> bytes) { return router.consume(bytes); }));
    PGM_TRY(router.finish());
    for (const incremental::Read& r : router.unmet()) {
      zeros.push_back(r.target);
    }
  }
  const std::vector<uint8_t> zero(incremental::kBlockSize, 0);
  for (uint32_t b : zeros) {
    PGM_TRY(write_block(b, zero));
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(plan.output_size())) != 0) {
    return make_errno_error(fmt::format("truncate {}", destination), errno);
  }
  return {};
}

Result<incremental::Header> merge_incremental_files(StoredFileReader& reader, crypto::Sha512& sha,
                                                    const ChainSource& child,
                                                    const ChainSource& parent,
                                                    const std::string& destination) {
  PGM_ASSIGN_OR_RETURN(incremental::Header child_header, read_incremental_header(reader, child));
  PGM_ASSIGN_OR_RETURN(incremental::Header parent_header, read_incremental_header(reader, parent));
  const incremental::MergePlan plan = incremental::plan_merge(child_header, parent_header);
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> head, incremental::encode_header(plan.header));
  UniqueFd fd(::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", destination), errno);
  }
  PGM_TRY(io::write_all(fd.get(), head, "write", destination));
  const uint64_t base = plan.header.size();
  auto write_block = [&](uint32_t target, std::span<const uint8_t> block) -> Result<void> {
    return io::pwrite_all(fd.get(), block, base + uint64_t{target} * incremental::kBlockSize,
                          "write", destination);
  };
  const ChainSource* sources[2] = {&child, &parent};
  const incremental::Header* headers[2] = {&child_header, &parent_header};
  for (int side = 0; side < 2; ++side) {
    if (side == 1 && plan.reads[1].empty()) {
      continue;
    }
    incremental::BlockRouter router(plan.reads[side], headers[side]->file_size(),
                                    sources[side]->label, write_block);
    PGM_TRY(read_checked(reader, sha, *sources[side],
                         [&](std::span<const uint8_t> bytes) { return router.consume(bytes); }));
    PGM_TRY(router.finish());
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(plan.header.file_size())) != 0) {
    return make_errno_error(fmt::format("truncate {}", destination), errno);
  }
  return plan.header;
}

Result<ChainFiles> ChainFiles::load(const std::string& backup_dir, const backup::BackupInfo& info,
                                    const crypto::MasterKey* key) {
  ChainFiles chain;
  chain.label_ = info.label;
  PGM_ASSIGN_OR_RETURN(chain.members_, resolve_chain(io::parent_directory(backup_dir), info));
  for (const ChainMember& member : chain.members_) {
    PGM_ASSIGN_OR_RETURN(BackupFiles f, enumerate_backup(member.dir, member.info));
    if (!f.missing.empty()) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("backup {} (in the chain of {}): {} stored file(s) missing, first: {}",
                      member.info.label, info.label, f.missing.size(), f.missing.front()));
    }
    if (f.format.encryption != crypto::AesMode::kNone && key == nullptr) {
      return make_error(
          ErrorCode::kConfig,
          fmt::format("backup {} (in the chain of {}) is encrypted and there is no master key",
                      member.info.label, info.label));
    }
    chain.files_.push_back(std::move(f));
  }
  for (const BackupFiles& f : chain.files_) {
    auto& index = chain.index_.emplace_back();
    for (const BackupFile& file : f.files) {
      index.emplace(file.manifest_path, &file);
    }
  }
  return chain;
}

Result<std::vector<ChainSource>> ChainFiles::sources(const BackupFile& newest,
                                                     const StoredFormat& format,
                                                     const std::string& whole) const {
  std::vector<ChainSource> sources;
  sources.push_back(ChainSource{newest.stored_path, format, label_ + "/" + newest.manifest_path,
                                newest.sha512, newest.stored_sha512, false});
  const std::string incremental_name = incremental::incremental_path(whole);
  for (size_t i = 0; i < members_.size(); ++i) {
    const BackupFile* found = nullptr;
    bool full = false;
    if (auto it = index_[i].find(whole); it != index_[i].end()) {
      found = it->second;
      full = true;
    } else if (auto inc = index_[i].find(incremental_name); inc != index_[i].end()) {
      found = inc->second;
    }
    if (found == nullptr) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("{}: backup {} (in the chain of {}) has no copy of it", whole,
                                    members_[i].info.label, label_));
    }
    sources.push_back(ChainSource{found->stored_path, files_[i].format,
                                  members_[i].info.label + "/" + found->manifest_path,
                                  found->sha512, found->stored_sha512, full});
    if (full) {
      return sources;
    }
  }
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{}: no backup of the chain of {} holds it whole", whole, label_));
}

Result<RebuiltDigest> digest_rebuilt(const std::string& file, const std::string& manifest_path,
                                     crypto::Sha512& sha) {
  RebuiltDigest out;
  out.entry.path = manifest_path;
  UniqueFd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) {
    return make_errno_error(fmt::format("open {}", file), errno);
  }
  sha.reset();
  uint32_t crc = backup::kCrc32cInit;
  incremental::BlockHasher blocks;
  std::vector<uint8_t> buffer(size_t{1} << 20);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(in.get(), buffer, "read", file));
    if (n == 0) {
      break;
    }
    const std::span<const uint8_t> chunk(buffer.data(), n);
    sha.update(chunk);
    crc = backup::crc32c_update(crc, chunk);
    blocks.update(chunk);
    out.size += n;
  }
  out.entry.sha512 = crypto::Sha512::hex(sha.final());
  out.entry.crc32c = backup::crc32c_manifest_hex(backup::crc32c_final(crc));
  out.blocks = blocks.finish();
  return out;
}

Result<bool> check_against_map(const incremental::BlockMap& map, const std::string& manifest_path,
                               const std::vector<incremental::BlockHash>& blocks,
                               const std::string& label) {
  const auto* mapped = map.find(manifest_path);
  if (mapped == nullptr) {
    return false;
  }
  const auto want = map.hashes(*mapped);
  if (blocks.size() == want.size() && std::equal(blocks.begin(), blocks.end(), want.begin())) {
    return true;
  }
  size_t first = 0;
  while (first < blocks.size() && first < want.size() && blocks[first] == want[first]) {
    ++first;
  }
  return make_error(
      ErrorCode::kCorruption,
      fmt::format("{}: the rebuilt file differs from {} from block {} on ({} blocks rebuilt, {} "
                  "expected)",
                  label, incremental::kBlockMapFile, first, blocks.size(), want.size()));
}

}  // namespace pgm::restore
