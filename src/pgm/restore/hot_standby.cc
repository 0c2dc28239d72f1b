#include "pgm/restore/hot_standby.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <sstream>
#include <system_error>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/restore/restore.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;

// What a copy got from its backup, per data-relative path: the file as it was left.
struct RecordedFile {
  std::string sha512;
  uint64_t size = 0;
  uint64_t inode = 0;
  int64_t mtime_ns = 0;
};
using Record = std::map<std::string, RecordedFile>;

constexpr const char* kRecordHeader =
    "# pgmoneta hot standby copy: sha512 size inode mtime_ns path";

int64_t mtime_ns(const struct stat& st) {
  return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

// A missing or unreadable record reuses nothing: every file is written.
Record read_record(const std::string& copy) {
  Record record;
  auto text = io::read_file(copy + "/" + kRecordFile);
  if (!text) {
    return record;
  }
  std::istringstream in(*text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') {
      continue;
    }
    std::istringstream fields(line);
    RecordedFile f;
    std::string path;
    fields >> f.sha512 >> f.size >> f.inode >> f.mtime_ns;
    fields.get();  // the one space before the path, which may hold spaces itself
    std::getline(fields, path);
    if (!fields.fail() && !path.empty() && f.sha512.size() == 128) {
      record[path] = f;
    }
  }
  return record;
}

// PostgreSQL's SHA-512 of every whole file in backup_manifest: an incremental chain's rebuilt
// files are known by it before they are rebuilt. Empty when the manifest has no SHA-512s.
std::map<std::string, std::string> postgres_checksums(const std::string& backup_dir) {
  std::map<std::string, std::string> sums;
  auto text = io::read_file(backup_dir + "/data/backup_manifest");
  if (!text) {
    return sums;
  }
  auto manifest = nlohmann::json::parse(*text, nullptr, false);
  if (manifest.is_discarded() || !manifest.contains("Files") || !manifest["Files"].is_array()) {
    return sums;
  }
  for (const nlohmann::json& f : manifest["Files"]) {
    if (f.is_object() && f.value("Checksum-Algorithm", "") == "SHA512" && f.contains("Path") &&
        f["Path"].is_string() && f.contains("Checksum") && f["Checksum"].is_string()) {
      sums[f["Path"].get<std::string>()] = f["Checksum"].get<std::string>();
    }
  }
  return sums;
}

// Files the restore rewrites after copying them, or writes last: never shared between copies.
bool never_reused(const std::string& path) {
  return path == "backup_label" || path == "backup_manifest" || path == "global/pg_control";
}

// The pid of a live postmaster.pid in `copy`, 0 when none.
pid_t running_postmaster(const std::string& copy) {
  auto text = io::read_file(copy + "/postmaster.pid");
  if (!text) {
    return 0;
  }
  long pid = std::strtol(text->c_str(), nullptr, 10);
  if (pid <= 0) {
    return 0;
  }
  if (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM) {
    return static_cast<pid_t>(pid);
  }
  return 0;
}

std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

bool same_path(const std::string& a, const std::string& b) {
  return fs::path(without_trailing_slash(a)).lexically_normal() ==
         fs::path(without_trailing_slash(b)).lexically_normal();
}

bool names_tablespace(const std::string& from, const backup::TablespaceInfo& t) {
  return from == t.oid || from == t.name || "tblspc_" + from == t.name ||
         (!t.path.empty() && same_path(from, t.path));
}

// Copies every file of `overrides` over `copy`, each as a new file (temp name, rename), so a
// file hard-linked with the old copy is replaced, never written through.
Result<size_t> apply_overrides(const std::string& overrides, const std::string& copy,
                               std::set<std::string>& overridden) {
  std::error_code ec;
  if (!fs::is_directory(overrides, ec)) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("override directory {} does not exist", overrides));
  }
  size_t count = 0;
  fs::recursive_directory_iterator it(overrides, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const fs::path relative = it->path().lexically_relative(overrides);
    const std::string destination = copy + "/" + relative.string();
    if (it->is_directory(ec)) {
      PGM_TRY(io::make_directories(destination, 0700));
      continue;
    }
    if (!it->is_regular_file(ec)) {
      continue;
    }
    PGM_ASSIGN_OR_RETURN(std::string data, io::read_file(it->path().string()));
    PGM_TRY(io::write_file_atomic(destination, data, 0600));
    overridden.insert(relative.string());
    count++;
  }
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("read {}: {}", overrides, ec.message()));
  }
  return count;
}

// The record of a finished copy: every file with a known digest, as it is now.
Result<void> write_record(const std::string& copy, const std::map<std::string, std::string>& sums,
                          const std::set<std::string>& overridden) {
  std::string text = std::string(kRecordHeader) + "\n";
  for (const auto& [path, sha] : sums) {
    struct stat st {};
    if (overridden.contains(path) || never_reused(path) ||
        ::stat((copy + "/" + path).c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
      continue;
    }
    text += fmt::format("{} {} {} {} {}\n", sha, st.st_size, st.st_ino, mtime_ns(st), path);
  }
  return io::write_file_atomic(copy + "/" + kRecordFile, text, 0600);
}

}  // namespace

std::string standby_tablespace_dir(const std::vector<StandbyTablespace>& pairs, int index,
                                   const std::string& oid, const std::string& name,
                                   const std::string& path) {
  backup::TablespaceInfo t{name, oid, path};
  for (const StandbyTablespace& p : pairs) {
    if (names_tablespace(p.from, t)) {
      return p.to;
    }
  }
  std::string base = without_trailing_slash(path.empty() ? name : path);
  return index == 0 ? base + "hs" : fmt::format("{}hs{}", base, index + 1);
}

Result<HotStandbyResult> update_hot_standby(const HotStandbyOptions& o) {
  auto started = std::chrono::steady_clock::now();
  HotStandbyResult result;
  const std::string directory = without_trailing_slash(o.directory);
  const std::string copy = directory + "/" + o.server;
  const std::string staged = copy + kNewSuffix;
  result.copy = copy;
  if (pid_t pid = running_postmaster(copy); pid != 0) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("{} is in use by a running PostgreSQL (pid {}): not replaced", copy, pid));
  }

  // Where each tablespace goes, checked before anything is written.
  std::map<std::string, std::string> tablespace_dirs;  // oid -> directory
  for (const backup::TablespaceInfo& t : o.info.tablespaces) {
    std::string to = standby_tablespace_dir(o.tablespaces, o.index, t.oid, t.name, t.path);
    if (to.empty() || to.front() != '/') {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("tablespace {} would go to \"{}\": not an absolute path", t.name, to));
    }
    if (!t.path.empty() && same_path(to, t.path)) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("tablespace {} would go to {}, its location on the server", t.name, to));
    }
    tablespace_dirs[t.oid] = to;
    result.tablespace_dirs.push_back(to);
  }
  clear_replace_leftovers(copy);
  for (const auto& [oid, to] : tablespace_dirs) {
    clear_replace_leftovers(to);
  }
  PGM_TRY(io::make_directories(directory, 0700));
  for (const auto& [oid, to] : tablespace_dirs) {
    PGM_TRY(io::make_directories(io::parent_directory(to), 0700));
  }

  const Record previous = read_record(copy);
  const std::map<std::string, std::string> pg_sums = postgres_checksums(o.backup_dir);
  std::map<std::string, std::string> sums;  // of the new copy's files, for its record

  RestoreOptions ro;
  ro.backup_dir = o.backup_dir;
  ro.info = o.info;
  ro.target_dir = staged;
  ro.key = o.key;
  ro.workers = o.workers;
  ro.verify = true;
  ro.tablespace_dir = [&](const std::string& oid, const std::string& name) {
    auto it = tablespace_dirs.find(oid);
    return it != tablespace_dirs.end() ? it->second + kNewSuffix
                                       : tablespace_directory(staged, name);
  };
  ro.reuse = [&](const std::string& path, const std::string& sha512,
                 const std::string& destination) {
    std::string key = sha512;
    if (key.empty()) {
      auto it = pg_sums.find(path);
      key = it != pg_sums.end() ? it->second : std::string();
    }
    if (key.empty() || never_reused(path)) {
      return false;
    }
    sums[path] = key;
    auto recorded = previous.find(path);
    if (recorded == previous.end() || recorded->second.sha512 != key) {
      return false;
    }
    const std::string old = copy + "/" + path;
    struct stat st {};
    if (::stat(old.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) != recorded->second.size ||
        static_cast<uint64_t>(st.st_ino) != recorded->second.inode ||
        mtime_ns(st) != recorded->second.mtime_ns) {
      return false;  // changed since (PostgreSQL ran on the copy) or gone
    }
    return ::link(old.c_str(), destination.c_str()) == 0;
  };
  PGM_ASSIGN_OR_RETURN(RestoreResult restored, run_restore(ro));
  result.written_files = restored.files;
  result.written_bytes = restored.bytes;
  result.reused_files = restored.reused_files;
  result.reused_bytes = restored.reused_bytes;

  auto fail = [&](const Error& e) -> Result<HotStandbyResult> {
    clear_replace_leftovers(copy);
    for (const auto& [oid, to] : tablespace_dirs) {
      clear_replace_leftovers(to);
    }
    return tl::unexpected(e);
  };
  // The restore linked pg_tblspc/<oid> to the staged tablespace directories: from now on the
  // links name where the tablespaces will be once swapped in.
  for (const auto& [oid, to] : tablespace_dirs) {
    const std::string link = staged + "/pg_tblspc/" + oid;
    const std::string temporary = link + kNewSuffix;
    if (::symlink(to.c_str(), temporary.c_str()) != 0) {
      return fail(errno_error(fmt::format("symlink {}", temporary), errno));
    }
    if (::rename(temporary.c_str(), link.c_str()) != 0) {
      return fail(errno_error(fmt::format("rename {}", link), errno));
    }
  }
  std::set<std::string> overridden;
  if (!o.overrides.empty()) {
    auto applied = apply_overrides(o.overrides, staged, overridden);
    if (!applied) {
      return fail(applied.error());
    }
    result.override_files = *applied;
  }
  // Files the restore wrote are in `sums` only when they went through reuse: add the others.
  for (const auto& [path, sha] : pg_sums) {
    sums.emplace(path, sha);
  }
  if (auto r = write_record(staged, sums, overridden); !r) {
    return fail(r.error());
  }
  if (auto r = io::sync_filesystem(staged); !r) {
    return fail(r.error());
  }
  for (const auto& [oid, to] : tablespace_dirs) {
    if (auto r = replace_directory(to + kNewSuffix, to); !r) {
      return fail(r.error());
    }
  }
  if (auto r = replace_directory(staged, copy); !r) {
    return fail(r.error());
  }
  result.elapsed = std::chrono::steady_clock::now() - started;
  return result;
}

}  // namespace pgm::restore
