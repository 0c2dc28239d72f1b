#include "pgm/restore/backup_files.h"

#include <dirent.h>

#include <cerrno>
#include <string_view>
#include <unordered_map>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/link.h"
#include "pgm/io/file.h"
#include "pgm/wal/segment.h"

namespace pgm::restore {

namespace {

struct Walk {
  std::string data_dir;
  std::unordered_map<std::string, size_t> expected;  // stored name -> manifest index
  std::vector<uint64_t> sizes;                       // per manifest index, UINT64_MAX = absent
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
        auto it = expected.find(child);
        if (it == expected.end()) {
          out->extra.push_back(child);
        } else {
          sizes[it->second] = static_cast<uint64_t>(st.st_size);
        }
      } else {
        out->extra.push_back(child + " (not a regular file)");
      }
    }
    --depth_guard;
    return {};
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
  PGM_ASSIGN_OR_RETURN(std::string manifest_text, io::read_file(backup_dir + "/backup.manifest"));
  auto manifest = backup::parse_manifest(manifest_text);
  if (!manifest) {
    return tl::unexpected(manifest.error().with_context(backup_dir + "/backup.manifest"));
  }
  Walk walk;
  walk.data_dir = backup_dir + "/data";
  walk.out = &out;
  walk.sizes.assign(manifest->size(), UINT64_MAX);
  for (size_t i = 0; i < manifest->size(); ++i) {
    const std::string& path = (*manifest)[i].path;
    std::string stored = backup::stored_name(path, info.compression, info.encryption);
    if (!walk.expected.emplace(stored, i).second) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("{}/backup.manifest: {} listed twice", backup_dir, path));
    }
  }
  // backup.sha512 is optional (pgmoneta versions differ); a damaged one only loses the
  // shortcut, verify reports it.
  std::unordered_map<std::string, std::string> stored_digests;  // "data/<stored>" -> hex
  if (auto text = io::read_file(backup_dir + "/backup.sha512"); text) {
    if (auto lines = backup::parse_sha512_file(*text); lines) {
      for (backup::Sha512Entry& e : *lines) {
        stored_digests.emplace(std::move(e.path), std::move(e.hex));
      }
    }
  }
  struct stat st {};
  if (::stat(walk.data_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kNotFound, fmt::format("{}: missing", walk.data_dir));
  }
  PGM_TRY(walk.directory(""));
  for (size_t i = 0; i < manifest->size(); ++i) {
    backup::ManifestEntry& e = (*manifest)[i];
    if (walk.sizes[i] == UINT64_MAX) {
      out.missing.push_back(e.path);
      continue;
    }
    BackupFile f;
    std::string stored = backup::stored_name(e.path, info.compression, info.encryption);
    f.plain = stored == e.path;
    f.stored_path = walk.data_dir + "/" + stored;
    if (auto d = stored_digests.find("data/" + stored); d != stored_digests.end()) {
      f.stored_sha512 = d->second;
    }
    f.manifest_path = std::move(e.path);
    f.sha512 = std::move(e.sha512);
    f.stored_size = walk.sizes[i];
    out.stored_bytes += f.stored_size;
    out.files.push_back(std::move(f));
  }
  // pgmoneta's backup_manifest and WAL segment: known by their backup.sha512 line.
  const std::string suffix = backup::stored_suffix(info.compression, info.encryption);
  std::erase_if(out.extra, [&](const std::string& stored) {
    std::string path = unlisted_path(stored, suffix);
    auto digest = stored_digests.find("data/" + stored);
    if (path.empty() || digest == stored_digests.end()) {
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
    f.stored_sha512 = digest->second;
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
