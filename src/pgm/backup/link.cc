#include "pgm/backup/link.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/compress/codec.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"

namespace pgm::backup {

namespace fs = std::filesystem;

std::optional<compress::Algorithm> compression_algorithm(uint8_t compression) {
  unsigned n = 0;
  if ((compression & 0xF0U) == 0x10U || (compression & 0xF0U) == 0x20U) {
    n = compression & 0x0FU;
  } else if (compression <= 7) {
    n = compression <= 4 ? compression : compression - 4U;  // legacy 5..7 = server 1..3
  }
  if (n > 4) {
    return std::nullopt;
  }
  return static_cast<compress::Algorithm>(n);
}

namespace {

Result<BackupInfo> load_info(const std::string& dir) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_file(dir + "/backup.info"));
  auto info = parse_backup_info(text);
  if (!info) {
    return tl::unexpected(info.error().with_context(dir + "/backup.info"));
  }
  return info;
}

bool link_refused(int err) { return err == EXDEV || err == EPERM || err == EMLINK; }

}  // namespace

namespace internal {

std::string real_path(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) {
    return {};
  }
  return buf;
}

std::string canonical_location(const std::string& path) {
  fs::path p = fs::path(path).lexically_normal();
  if (p.has_filename()) {
    std::string parent = real_path(p.parent_path().string());
    if (!parent.empty()) {
      return (fs::path(parent) / p.filename()).string();
    }
  }
  return p.string();
}

Result<void> replace_with_relative_symlink(const std::string& target, const std::string& path) {
  std::string dir = real_path(io::parent_directory(path));
  if (dir.empty()) {
    return make_errno_error(fmt::format("resolve directory of {}", path), errno);
  }
  std::string real_target = canonical_location(target);
  std::string rel = fs::path(real_target).lexically_relative(dir).string();
  if (rel.empty()) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("no relative path from {} to {}", dir, real_target));
  }
  std::string tmp = path + ".link.tmp";
  ::unlink(tmp.c_str());
  if (::symlink(rel.c_str(), tmp.c_str()) != 0) {
    return make_errno_error(fmt::format("symlink {} -> {}", tmp, rel), errno);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_errno_error(fmt::format("rename {} to {}", tmp, path), err);
  }
  return {};
}

Result<bool> replace_with_hardlink(const std::string& target, const std::string& path) {
  std::string tmp = path + ".link.tmp";
  ::unlink(tmp.c_str());
  if (::link(target.c_str(), tmp.c_str()) != 0) {
    int err = errno;
    if (link_refused(err)) {
      return false;
    }
    return make_errno_error(fmt::format("link {} to {}", target, tmp), err);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return make_errno_error(fmt::format("rename {} to {}", tmp, path), err);
  }
  return true;
}

}  // namespace internal

std::string stored_suffix(uint8_t compression, uint8_t encryption) {
  std::string s;
  if (auto a = compression_algorithm(compression)) {
    s = std::string(compress::file_suffix(*a));
  }
  if (encryption != 0) {
    s += ".aes";
  }
  return s;
}

std::string stored_name(std::string_view manifest_path, uint8_t compression, uint8_t encryption) {
  if (manifest_path == "backup_label" || manifest_path == "backup_manifest") {
    return std::string(manifest_path);
  }
  return std::string(manifest_path) + stored_suffix(compression, encryption);
}

Result<LinkResult> link_unchanged(const std::string& previous_dir, const std::string& new_dir) {
  LinkResult result;
  PGM_ASSIGN_OR_RETURN(BackupInfo prev_info, load_info(previous_dir));
  PGM_ASSIGN_OR_RETURN(BackupInfo new_info, load_info(new_dir));
  if (prev_info.compression != new_info.compression ||
      prev_info.encryption != new_info.encryption) {
    return result;
  }
  PGM_ASSIGN_OR_RETURN(ManifestIndex prev_sha,
                       ManifestIndex::load(previous_dir + "/backup.manifest"));

  // Stored bytes of a linked file may differ from the new backup's own (compression level,
  // AES IV), so backup.sha512 lines of linked files are refreshed below when the file exists.
  std::map<std::string, std::string> relinked;  // "data/<stored>" -> previous stored path
  std::set<std::string> dirs;
  auto link_one = [&](std::string_view path, const crypto::Sha512Digest& sha512) -> Result<void> {
    const crypto::Sha512Digest* before = prev_sha.find(path);
    if (before == nullptr || *before != sha512) {
      return {};
    }
    std::string name = stored_name(path, new_info.compression, new_info.encryption);
    std::string src = fmt::format("{}/data/{}", previous_dir, name);
    std::string dst = fmt::format("{}/data/{}", new_dir, name);
    struct stat dst_st {};
    if (::lstat(dst.c_str(), &dst_st) != 0 || !S_ISREG(dst_st.st_mode)) {
      return {};
    }
    struct stat src_lst {};
    if (::lstat(src.c_str(), &src_lst) != 0) {
      return {};
    }
    std::string real_src = src;
    if (S_ISLNK(src_lst.st_mode)) {
      real_src = internal::real_path(src);
      if (real_src.empty()) {
        return {};  // dangling in the previous backup: keep our copy
      }
    }
    struct stat src_st {};
    if (::stat(real_src.c_str(), &src_st) != 0 || !S_ISREG(src_st.st_mode)) {
      return {};
    }
    if (src_st.st_dev == dst_st.st_dev && src_st.st_ino == dst_st.st_ino) {
      return {};
    }
    PGM_ASSIGN_OR_RETURN(bool hard, internal::replace_with_hardlink(real_src, dst));
    if (!hard) {
      PGM_TRY(internal::replace_with_relative_symlink(real_src, dst));
      ++result.symlinks;
    }
    ++result.files_linked;
    result.bytes_saved += static_cast<uint64_t>(dst_st.st_size);
    dirs.insert(io::parent_directory(dst));
    relinked.emplace("data/" + name, real_src);
    result.linked.push_back("data/" + name);
    return {};
  };
  // The new backup's manifest is read as a stream: only the previous one is indexed.
  const std::string new_manifest = new_dir + "/backup.manifest";
  auto walked =
      io::for_each_line(new_manifest, [&](std::string_view line, size_t number) -> Result<void> {
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(ManifestLine parsed, parse_manifest_line(line, number));
        return link_one(parsed.path, parsed.sha512);
      });
  if (!walked) {
    return tl::unexpected(walked.error().code() == ErrorCode::kCorruption
                              ? walked.error().with_context(new_manifest)
                              : walked.error());
  }
  for (const std::string& d : dirs) {
    PGM_TRY(io::fsync_directory(d));
  }
  std::sort(result.linked.begin(), result.linked.end());

  // Keep backup.sha512 true to the bytes now stored.
  const std::string sha_path = new_dir + "/backup.sha512";
  auto sha_text = io::read_file(sha_path);
  if (!sha_text || relinked.empty()) {
    return result;
  }
  PGM_ASSIGN_OR_RETURN(std::vector<Sha512Entry> entries, parse_sha512_file(*sha_text));
  std::unordered_map<std::string, std::string> prev_lines;
  if (auto prev_text = io::read_file(previous_dir + "/backup.sha512")) {
    if (auto prev_entries = parse_sha512_file(*prev_text)) {
      for (Sha512Entry& pe : *prev_entries) {
        prev_lines.emplace(std::move(pe.path), std::move(pe.hex));
      }
    }
  }
  bool changed = false;
  for (Sha512Entry& entry : entries) {
    auto r = relinked.find(entry.path);
    if (r == relinked.end()) {
      continue;
    }
    std::string hex;
    // The previous backup's line describes exactly the bytes linked to when the previous
    // stored file was its own (not itself a link elsewhere).
    auto p = prev_lines.find(entry.path);
    if (p != prev_lines.end() && r->second == previous_dir + "/data/" + entry.path.substr(5)) {
      hex = p->second;
    } else {
      PGM_ASSIGN_OR_RETURN(hex, crypto::sha512_of_file(new_dir + "/" + entry.path));
    }
    if (hex != entry.hex) {
      entry.hex = std::move(hex);
      changed = true;
    }
  }
  if (changed) {
    std::string out;
    for (const Sha512Entry& entry : entries) {
      out += format_sha512_line(entry);
    }
    struct stat st {};
    mode_t mode = ::stat(sha_path.c_str(), &st) == 0 ? (st.st_mode & 07777) : 0600;
    PGM_TRY(io::write_file_atomic(sha_path, out, mode));
  }
  return result;
}

IdenticalFiles IdenticalFiles::load(const std::string& previous_dir, uint8_t compression,
                                    uint8_t encryption) {
  IdenticalFiles index;
  index.dir_ = previous_dir;
  index.compression_ = compression;
  index.encryption_ = encryption;
  auto info = load_info(previous_dir);
  if (!info || info->compression != compression || info->encryption != encryption) {
    return index;
  }
  auto manifest = ManifestIndex::load(previous_dir + "/backup.manifest");
  if (!manifest) {
    return index;
  }
  const std::string sums_path = previous_dir + "/backup.sha512";
  UniqueFd sums(::open(sums_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!sums) {
    return index;
  }
  std::vector<uint64_t> line_at(manifest->size(), kNoLine);
  const std::string suffix = stored_suffix(compression, encryption);
  // "data/<stored name>" lines, back to their manifest paths (the inverse of stored_name()).
  uint64_t offset = 0;  // of the line at hand: lines end with '\n'
  auto read =
      io::for_each_line(sums_path, [&](std::string_view line, size_t number) -> Result<void> {
        const uint64_t at = offset;
        offset += line.size() + 1;
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(Sha512Line parsed, parse_sha512_line(line, number));
        std::string_view name = parsed.path;
        if (!name.starts_with("data/")) {
          return {};
        }
        name.remove_prefix(5);
        if (name != "backup_label" && name != "backup_manifest") {
          if (!name.ends_with(suffix)) {
            return {};
          }
          name.remove_suffix(suffix.size());
        }
        const size_t row = manifest->lookup(name);
        if (row < line_at.size() &&
            stored_name(name, compression, encryption) == std::string_view(parsed.path).substr(5)) {
          line_at[row] = at;
        }
        return {};
      });
  if (!read) {
    return index;  // as if there were no previous backup: linking only saves space
  }
  index.count_ = static_cast<size_t>(
      std::count_if(line_at.begin(), line_at.end(), [](uint64_t at) { return at != kNoLine; }));
  index.manifest_ = std::move(*manifest);
  index.sums_ = std::move(sums);
  index.line_at_ = std::move(line_at);
  return index;
}

std::optional<IdenticalFile> IdenticalFiles::find(std::string_view manifest_path,
                                                  const crypto::Sha512Digest& sha512) const {
  const size_t row = manifest_.lookup(manifest_path);
  if (row >= manifest_.size() || line_at_[row] == kNoLine || sha512 != manifest_.sha512(row)) {
    return std::nullopt;
  }
  const std::string stored = "data/" + stored_name(manifest_path, compression_, encryption_);
  IdenticalFile same;
  same.path = fmt::format("{}/{}", dir_, stored);
  struct stat st {};
  // lstat: a symlink (a pgmoneta repository, another file system) is left to link_unchanged.
  if (::lstat(same.path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return std::nullopt;
  }
  // The stored bytes' digest, from the line load() found: read again here (the file is in the
  // page cache) instead of 64 bytes a file kept for the whole backup. It must still name the
  // file; anything else and the file is stored as usual.
  std::string line(128 + 4 + stored.size(), '\0');
  auto n = io::pread_full(sums_.get(), std::span<char>(line), line_at_[row], "read");
  if (!n) {
    return std::nullopt;
  }
  line.resize(std::min(*n, line.find('\n')));
  auto parsed = parse_sha512_line(line, 0);
  if (!parsed || parsed->path != stored) {
    return std::nullopt;
  }
  same.stored_size = static_cast<uint64_t>(st.st_size);
  same.stored_sha512 = parsed->sha512;
  return same;
}

uint64_t stored_bytes(const std::string& backup_dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(backup_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink == 1) {
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  return total;
}

uint64_t apparent_bytes(const std::string& backup_dir) {
  uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(backup_dir, ec), end; !ec && it != end;
       it.increment(ec)) {
    struct stat lst {};
    if (::lstat(it->path().c_str(), &lst) != 0) {
      continue;
    }
    struct stat st = lst;
    if (S_ISLNK(lst.st_mode) && ::stat(it->path().c_str(), &st) != 0) {
      continue;
    }
    if (S_ISREG(st.st_mode) && seen.emplace(st.st_dev, st.st_ino).second) {
      total += static_cast<uint64_t>(st.st_size);
    }
  }
  return total;
}

}  // namespace pgm::backup
