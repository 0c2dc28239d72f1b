#include "pgm/backup/repository.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/link.h"
#include "pgm/crypto/digest.h"
#include "pgm/io/file.h"

namespace pgm::backup {

namespace fs = std::filesystem;

namespace {

constexpr std::string_view kDeletePrefix = ".delete-";
constexpr mode_t kInfoMode = 0600;
constexpr int kMaxSymlinkHops = 40;

std::string server_suffix(std::string_view server) {
  return server.empty() ? std::string() : fmt::format(" for server {}", server);
}

mode_t existing_mode(io::FileSystem& fs, const std::string& path, mode_t fallback) {
  struct stat st {};
  return fs.stat(path, &st) == 0 ? (st.st_mode & 07777) : fallback;
}

Result<BackupInfo> load_existing(const std::string& root, const std::string& label) {
  if (!is_label(label)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid backup label '{}'", label));
  }
  auto info = read_backup_info(root + "/" + label);
  if (!info) {
    return tl::unexpected(info.error().with_context(fmt::format("backup {}", label)));
  }
  return info;
}

bool is_inside(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

// The doomed directory under every spelling a link may use.
struct Doomed {
  std::vector<std::string> spellings;
  bool contains(const std::string& path) const {
    std::string normal = fs::path(path).lexically_normal().string();
    std::string canon = internal::canonical_location(path);
    return std::any_of(spellings.begin(), spellings.end(), [&](const std::string& d) {
      return is_inside(normal, d) || is_inside(canon, d);
    });
  }
};

// Whether the chain of symlinks starting at `link` passes through the doomed directory.
bool chain_passes_through(const std::string& link, const Doomed& doomed) {
  std::string cur = link;
  for (int hop = 0; hop < kMaxSymlinkHops; ++hop) {
    std::error_code ec;
    fs::path target = fs::read_symlink(cur, ec);
    if (ec) {
      return false;
    }
    fs::path next = target.is_absolute() ? target : fs::path(cur).parent_path() / target;
    std::string next_s = next.lexically_normal().string();
    if (doomed.contains(next_s)) {
      return true;
    }
    if (!fs::is_symlink(fs::symlink_status(next_s, ec)) || ec) {
      return false;
    }
    cur = next_s;
  }
  return false;
}

std::vector<std::string> symlinks_under(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code sec;
    if (it->is_symlink(sec)) {
      out.push_back(it->path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'f') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return out;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// log+seg part of a segment name (timeline dropped), upper case; "" when not a segment name.
std::string segment_key(std::string_view name) {
  if (name.size() < 24 || !is_hex(name.substr(0, 24))) {
    return {};
  }
  return upper(name.substr(8, 16));
}

}  // namespace

Result<void> remove_tree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("remove {}: {}", path, ec.message()));
  }
  return {};
}

std::string backup_root(const std::string& base_dir, const std::string& server) {
  return base_dir + "/" + server + "/backup";
}

Result<std::vector<BackupEntry>> list_backups(const std::string& root, io::FileSystem& fs) {
  std::vector<BackupEntry> out;
  auto names = io::list_directory(root, fs);
  if (!names) {
    if (names.error().code() == ErrorCode::kNotFound) {
      return out;
    }
    return tl::unexpected(names.error());
  }
  for (const std::string& name : *names) {
    if (!is_label(name)) {
      continue;
    }
    BackupEntry e;
    e.label = name;
    e.dir = fmt::format("{}/{}", root, name);
    struct stat st {};
    if (fs.stat(e.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
      continue;
    }
    auto text = io::read_file(e.dir + "/backup.info", fs);
    if (!text) {
      e.info_missing = text.error().code() == ErrorCode::kNotFound;
      e.problem = e.info_missing ? std::string("backup.info: missing")
                                 : "backup.info: " + text.error().message();
    } else if (auto info = parse_backup_info(*text)) {
      e.info = std::move(*info);
    } else {
      // The parser says "backup.info line 3: ..."; keep one prefix: "backup.info: line 3: ...".
      std::string_view msg = info.error().message();
      constexpr std::string_view kParserPrefix = "backup.info ";
      if (msg.substr(0, kParserPrefix.size()) == kParserPrefix) {
        msg.remove_prefix(kParserPrefix.size());
      }
      e.problem = fmt::format("backup.info: {}", msg);
    }
    out.push_back(std::move(e));
  }
  return out;  // list_directory sorts, and labels sort by time
}

std::optional<SortOrder> parse_sort_order(std::string_view text) {
  if (text == "asc") {
    return SortOrder::kAscending;
  }
  if (text == "desc") {
    return SortOrder::kDescending;
  }
  return std::nullopt;
}

void sort_backups(std::vector<BackupEntry>& entries, SortOrder order) {
  std::sort(entries.begin(), entries.end(), [order](const BackupEntry& a, const BackupEntry& b) {
    return order == SortOrder::kAscending ? a.label < b.label : a.label > b.label;
  });
}

Result<const BackupEntry*> resolve_backup(const std::vector<BackupEntry>& entries,
                                          std::string_view id, std::string_view server) {
  const bool oldest = id == "oldest";
  if (oldest || id == "newest" || id == "latest") {
    const BackupEntry* pick = nullptr;
    for (const BackupEntry& e : entries) {
      if (e.valid() &&
          (pick == nullptr || (oldest ? e.label < pick->label : e.label > pick->label))) {
        pick = &e;
      }
    }
    if (pick == nullptr) {
      if (entries.empty()) {
        return make_error(ErrorCode::kNotFound, fmt::format("no backups{}", server_suffix(server)));
      }
      return make_error(ErrorCode::kNotFound,
                        fmt::format("no valid backup{} ({} backups, none valid)",
                                    server_suffix(server), entries.size()));
    }
    return pick;
  }
  if (!is_label(id)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("invalid backup identifier '{}': expected a label "
                                  "(YYYYMMDDHHMMSS), oldest, newest or latest",
                                  id));
  }
  for (const BackupEntry& e : entries) {
    if (e.label == id) {
      return &e;
    }
  }
  return make_error(ErrorCode::kNotFound, fmt::format("no backup {}{}", id, server_suffix(server)));
}

Result<BackupInfo> read_backup_info(const std::string& backup_dir, io::FileSystem& fs) {
  std::string path = backup_dir + "/backup.info";
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_file(path, fs));
  auto info = parse_backup_info(text);
  if (!info) {
    return tl::unexpected(info.error().with_context(path));
  }
  return info;
}

Result<void> write_backup_info(const std::string& backup_dir, const BackupInfo& info,
                               io::FileSystem& fs) {
  const std::string info_path = backup_dir + "/backup.info";
  const std::string sha_path = backup_dir + "/backup.sha512";
  const std::string text = format_backup_info(info);

  // Prepare the new backup.sha512 first: a corrupt one fails before anything changes.
  std::optional<std::string> sha_out;
  auto sha_text = io::read_file(sha_path, fs);
  if (sha_text) {
    auto entries = parse_sha512_file(*sha_text);
    if (!entries) {
      return tl::unexpected(entries.error().with_context(sha_path));
    }
    PGM_ASSIGN_OR_RETURN(crypto::Sha512 sha, crypto::Sha512::create());
    sha.update(text);
    std::string hex = crypto::Sha512::hex(sha.final());
    bool found = false;
    for (Sha512Entry& e : *entries) {
      if (e.path == "backup.info") {
        e.hex = hex;
        found = true;
      }
    }
    if (!found) {
      entries->push_back(Sha512Entry{"backup.info", hex});
    }
    sha_out.emplace();
    for (const Sha512Entry& e : *entries) {
      *sha_out += format_sha512_line(e);
    }
  } else if (sha_text.error().code() != ErrorCode::kNotFound) {
    return tl::unexpected(sha_text.error());
  }

  PGM_TRY(io::write_file_atomic(info_path, text, existing_mode(fs, info_path, kInfoMode), fs));
  if (sha_out) {
    PGM_TRY(io::write_file_atomic(sha_path, *sha_out, existing_mode(fs, sha_path, kInfoMode), fs));
  }
  return {};
}

Result<BackupInfo> set_keep(const std::string& root, const std::string& label, bool keep) {
  PGM_ASSIGN_OR_RETURN(BackupInfo info, load_existing(root, label));
  if (info.keep != keep) {
    info.keep = keep;
    auto w = write_backup_info(root + "/" + label, info);
    if (!w) {
      return tl::unexpected(w.error().with_context(fmt::format("backup {}", label)));
    }
  }
  return info;
}

std::optional<AnnotateAction> parse_annotate_action(std::string_view text) {
  if (text == "add") {
    return AnnotateAction::kAdd;
  }
  if (text == "update") {
    return AnnotateAction::kUpdate;
  }
  if (text == "remove") {
    return AnnotateAction::kRemove;
  }
  return std::nullopt;
}

Result<BackupInfo> annotate(const std::string& root, const std::string& label,
                            AnnotateAction action, std::string_view key, std::string_view comment) {
  PGM_ASSIGN_OR_RETURN(BackupInfo info, load_existing(root, label));
  auto context = [&](const Error& e) {
    return tl::unexpected(e.with_context(fmt::format("backup {}", label)));
  };
  auto existing = get_comment(info, key);
  if (!existing) {
    return context(existing.error());
  }
  switch (action) {
    case AnnotateAction::kAdd:
      if (existing->has_value()) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("comment key '{}' already exists on backup {}", key, label));
      }
      break;
    case AnnotateAction::kUpdate:
    case AnnotateAction::kRemove:
      if (!existing->has_value()) {
        return make_error(ErrorCode::kNotFound,
                          fmt::format("no comment key '{}' on backup {}", key, label));
      }
      break;
  }
  auto changed = action == AnnotateAction::kRemove ? remove_comment(info, key)
                                                   : set_comment(info, key, comment);
  if (!changed) {
    return context(changed.error());
  }
  if (auto w = write_backup_info(root + "/" + label, info); !w) {
    return context(w.error());
  }
  return info;
}

Result<DeleteResult> delete_backup(const std::string& root, const std::string& label, bool force) {
  DeleteResult result;
  if (!is_label(label)) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("invalid backup label '{}'", label));
  }
  const std::string dir = root + "/" + label;
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return make_error(ErrorCode::kNotFound, fmt::format("no backup {}", label));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<BackupEntry> entries, list_backups(root));
  for (const BackupEntry& e : entries) {
    if (e.label == label && e.info && e.info->keep && !force) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("backup {} is retained; use --force", label));
    }
    if (e.label != label && e.info && e.info->parent == label) {
      return make_error(ErrorCode::kUnavailable,
                        fmt::format("backup {} is the parent of incremental backup {}; roll it "
                                    "up first",
                                    label, e.label));
    }
  }

  Doomed doomed;
  doomed.spellings.push_back(fs::path(dir).lexically_normal().string());
  if (std::string real = internal::real_path(dir); !real.empty()) {
    doomed.spellings.push_back(real);
  }

  // Hand files other backups reach through symlinks over, oldest backup first.
  std::map<std::string, std::string> moved;  // old real path -> new location
  std::set<std::string> touched;             // directories to fsync
  for (const BackupEntry& e : entries) {
    if (e.label == label) {
      continue;
    }
    for (const std::string& link : symlinks_under(e.dir)) {
      if (!chain_passes_through(link, doomed)) {
        continue;
      }
      std::string final_path = internal::real_path(link);
      if (final_path.empty()) {
        continue;  // already dangling: nothing to preserve
      }
      auto context = [&](const Error& err) {
        return tl::unexpected(err.with_context(fmt::format("delete {}: keep {}", label, link)));
      };
      if (!doomed.contains(final_path)) {
        if (auto r = internal::replace_with_relative_symlink(final_path, link); !r) {
          return context(r.error());
        }
        touched.insert(io::parent_directory(link));
        ++result.links_repointed;
        continue;
      }
      auto m = moved.find(final_path);
      if (m != moved.end()) {
        if (auto r = internal::replace_with_relative_symlink(m->second, link); !r) {
          return context(r.error());
        }
        touched.insert(io::parent_directory(link));
        ++result.links_repointed;
        continue;
      }
      struct stat fst {};
      bool hard = false;
      if (::stat(final_path.c_str(), &fst) == 0 && S_ISREG(fst.st_mode)) {
        auto h = internal::replace_with_hardlink(final_path, link);
        if (!h) {
          return context(h.error());
        }
        hard = *h;
      }
      if (!hard) {
        // A directory, or a filesystem without hardlinks: move the file itself.
        if (S_ISDIR(fst.st_mode) && ::unlink(link.c_str()) != 0) {
          return context(errno_error(fmt::format("unlink {}", link), errno));
        }
        if (::rename(final_path.c_str(), link.c_str()) != 0) {
          return context(errno_error(fmt::format("rename {} to {}", final_path, link), errno));
        }
      }
      touched.insert(io::parent_directory(link));
      moved.emplace(final_path, internal::canonical_location(link));
      ++result.files_moved;
    }
  }

  for (const std::string& d : touched) {
    PGM_TRY(io::fsync_directory(d));
  }

  result.bytes_freed = stored_bytes(dir);
  PGM_TRY(remove_backup_directory(dir));
  return result;
}

Result<void> remove_backup_directory(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) {
    return {};
  }
  const std::string root = io::parent_directory(dir);
  const std::string hidden =
      root + "/" + std::string(kDeletePrefix) + fs::path(dir).filename().string();
  PGM_TRY(remove_tree(hidden));  // a leftover of an earlier crash
  if (::rename(dir.c_str(), hidden.c_str()) != 0) {
    return make_errno_error(fmt::format("rename {} to {}", dir, hidden), errno);
  }
  PGM_TRY(io::fsync_directory(root));
  PGM_TRY(remove_tree(hidden));
  PGM_TRY(io::fsync_directory(root));
  return {};
}

Result<size_t> cleanup_deleted(const std::string& root) {
  auto names = io::list_directory(root);
  if (!names) {
    if (names.error().code() == ErrorCode::kNotFound) {
      return size_t{0};
    }
    return tl::unexpected(names.error());
  }
  size_t removed = 0;
  for (const std::string& name : *names) {
    if (name.size() > kDeletePrefix.size() &&
        name.compare(0, kDeletePrefix.size(), kDeletePrefix) == 0) {
      PGM_TRY(remove_tree(fmt::format("{}/{}", root, name)));
      ++removed;
    }
  }
  if (removed > 0) {
    PGM_TRY(io::fsync_directory(root));
  }
  return removed;
}

uint64_t wal_bytes_between(std::span<const std::string> wal_files, std::string_view from,
                           std::string_view to, uint64_t segment_size) {
  std::string lo = segment_key(from);
  if (lo.empty()) {
    return 0;
  }
  std::string hi = to.empty() ? std::string() : segment_key(to);
  uint64_t count = 0;
  for (const std::string& name : wal_files) {
    std::string key = segment_key(name);
    if (key.empty()) {
      continue;
    }
    std::string_view rest = std::string_view(name).substr(24);
    if (!rest.empty() && (rest[0] != '.' || rest.find(".partial") != std::string_view::npos ||
                          rest.find(".history") != std::string_view::npos)) {
      continue;
    }
    if (key >= lo && (hi.empty() || key < hi)) {
      ++count;
    }
  }
  return count * segment_size;
}

}  // namespace pgm::backup
