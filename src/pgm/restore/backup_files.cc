#include "pgm/restore/backup_files.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <string_view>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/link.h"
#include "pgm/backup/manifest_index.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"
#include "pgm/wal/segment.h"

namespace pgm::restore {

namespace {

struct Walk {
  std::string data_dir;
  const backup::ManifestIndex* manifest = nullptr;
  uint8_t compression = 0;
  uint8_t encryption = 0;
  std::string suffix;           // of stored data files
  std::vector<uint64_t> sizes;  // per manifest row, UINT64_MAX = absent
  BackupFiles* out = nullptr;
  int depth_guard = 0;

  Result<void> directory(const std::string& rel) {
    if (++depth_guard > 64) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("{}/{}: directories nested too deep (a link loop?)", data_dir, rel));
    }
    std::string path = rel.empty() ? data_dir : data_dir + "/" + rel;
    PGM_ASSIGN_OR_RETURN(std::vector<std::string> names, io::list_directory(path));
    for (const std::string& name : names) {
      std::string child = rel.empty() ? name : rel + "/" + name;
      std::string full = data_dir + "/" + child;
      struct stat st {};
      if (::stat(full.c_str(), &st) != 0) {
        int err = errno;
        if (err == ENOENT) {  // a dangling link: a file that is not there
          out->extra.push_back(child + " (dangling link)");
          continue;
        }
        return make_errno_error(fmt::format("stat {}", full), err);
      }
      if (S_ISDIR(st.st_mode)) {
        out->directories.push_back(child);
        if (rel == "pg_tblspc") {
          TablespaceLink t;
          t.oid = name;
          out->tablespaces.push_back(std::move(t));
        }
        PGM_TRY(directory(child));
      } else if (S_ISREG(st.st_mode)) {
        const size_t row = listed(child);
        if (row == manifest->size()) {
          out->extra.push_back(child);
        } else {
          sizes[row] = static_cast<uint64_t>(st.st_size);
        }
      } else {
        out->extra.push_back(child + " (not a regular file)");
      }
    }
    --depth_guard;
    return {};
  }

  // The manifest row whose stored name (backup::stored_name) is `stored`: that of the name
  // without the suffix, or of the name itself (the plain files); manifest->size() when none.
  size_t listed(std::string_view stored) const {
    const std::string_view unsuffixed =
        stored.substr(0, stored.size() - std::min(stored.size(), suffix.size()));
    for (std::string_view path : {unsuffixed, stored}) {
      const size_t row = manifest->lookup(path);
      if (row < manifest->size() && backup::stored_name(path, compression, encryption) == stored) {
        return row;
      }
    }
    return manifest->size();
  }
};

// The data-relative path of a file pgmoneta stores without a backup.manifest line, from its
// stored name; "" for any other name.
std::string unlisted_path(const std::string& stored, const std::string& suffix) {
  if (stored == "backup_manifest") {
    return stored;
  }
  constexpr std::string_view kWal = "pg_wal/";
  if (!stored.starts_with(kWal)) {
    return {};
  }
  const std::string name = stored.substr(kWal.size());
  wal::WalFileInfo file = wal::classify_wal_file(name);
  if (file.kind != wal::WalFileKind::kSegment || name != file.base + suffix) {
    return {};
  }
  return std::string(kWal) + file.base;
}

}  // namespace

Result<BackupFiles> enumerate_backup(const std::string& backup_dir,
                                     const backup::BackupInfo& info) {
  BackupFiles out;
  PGM_ASSIGN_OR_RETURN(out.format, backup_format(info.compression, info.encryption));
  // Both catalog files are read as streams into compact indexes (paths in an arena, binary
  // digests): a million files cost no whole text and no map of strings.
  PGM_ASSIGN_OR_RETURN(const backup::ManifestIndex manifest,
                       backup::ManifestIndex::load(backup_dir + "/backup.manifest"));
  if (!manifest.repeated().empty()) {
    return make_error(ErrorCode::kCorruption, fmt::format("{}/backup.manifest: {} listed twice",
                                                          backup_dir, manifest.repeated()));
  }
  Walk walk;
  walk.data_dir = backup_dir + "/data";
  walk.out = &out;
  walk.manifest = &manifest;
  walk.compression = info.compression;
  walk.encryption = info.encryption;
  walk.suffix = backup::stored_suffix(info.compression, info.encryption);
  walk.sizes.assign(manifest.size(), UINT64_MAX);
  // backup.sha512 is optional (pgmoneta versions differ); a damaged one only loses the
  // shortcut, verify reports it.
  backup::ManifestIndex stored_digests;  // "data/<stored>" -> SHA-512 of the stored bytes
  auto read_digests = io::for_each_line(
      backup_dir + "/backup.sha512", [&](std::string_view line, size_t number) -> Result<void> {
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(backup::Sha512Line l, backup::parse_sha512_line(line, number));
        stored_digests.add(l.path, l.sha512);
        return {};
      });
  if (!read_digests) {
    stored_digests = backup::ManifestIndex();
  }
  stored_digests.seal();
  auto stored_digest = [&stored_digests](const std::string& stored) -> std::string {
    const crypto::Sha512Digest* d = stored_digests.find("data/" + stored);
    return d != nullptr ? crypto::Sha512::hex(*d) : std::string();
  };
  struct stat st {};
  if (::stat(walk.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kNotFound, fmt::format("{}: missing", walk.data_dir));
  }
  PGM_TRY(walk.directory(""));
  for (size_t i = 0; i < manifest.size(); ++i) {
    const std::string_view path = manifest.path(i);
    if (walk.sizes[i] == UINT64_MAX) {
      out.missing.emplace_back(path);
      continue;
    }
    BackupFile f;
    std::string stored = backup::stored_name(path, info.compression, info.encryption);
    f.plain = stored == path;
    f.stored_path = walk.data_dir + "/" + stored;
    f.stored_sha512 = stored_digest(stored);
    f.manifest_path = std::string(path);
    f.sha512 = crypto::Sha512::hex(manifest.sha512(i));
    f.stored_size = walk.sizes[i];
    out.stored_bytes += f.stored_size;
    out.files.push_back(std::move(f));
  }
  // pgmoneta's backup_manifest and WAL segment: known by their backup.sha512 line.
  const std::string suffix = backup::stored_suffix(info.compression, info.encryption);
  std::erase_if(out.extra, [&](const std::string& stored) {
    std::string path = unlisted_path(stored, suffix);
    std::string digest = stored_digest(stored);
    if (path.empty() || digest.empty()) {
      return false;
    }
    struct stat file {};
    const std::string stored_path = walk.data_dir + "/" + stored;
    if (::stat(stored_path.c_str(), &file) != 0) {
      return false;
    }
    BackupFile f;
    f.manifest_path = path;
    f.stored_path = stored_path;
    f.stored_sha512 = std::move(digest);
    f.stored_size = static_cast<uint64_t>(file.st_size);
    f.plain = path == stored;
    f.unlisted = true;
    out.stored_bytes += f.stored_size;
    out.files.push_back(std::move(f));
    return true;
  });
  for (TablespaceLink& t : out.tablespaces) {
    for (const backup::TablespaceInfo& ti : info.tablespaces) {
      if (ti.oid == t.oid) {
        t.name = ti.name;
      }
    }
  }
  return out;
}

}  // namespace pgm::restore
