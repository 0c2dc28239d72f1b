#include "pgm/restore/rollup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "pgm/backup/info.h"
#include "pgm/backup/link.h"
#include "pgm/backup/repository.h"
#include "pgm/backup/store.h"
#include "pgm/core/unique_fd.h"
#include "pgm/incremental/format.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/restore/backup_files.h"
#include "pgm/restore/chain.h"
#include "pgm/restore/rebuild.h"

namespace pgm::restore {

namespace fs = std::filesystem;

namespace {

constexpr const char* kMarker = "ROLLUP";
constexpr std::string_view kStagingPrefix = ".rollup-";
constexpr std::string_view kOldPrefix = ".rollup-old-";

std::string staging_dir(const std::string& root, const std::string& child) {
  return fmt::format("{}/{}{}", root, kStagingPrefix, child);
}
std::string old_dir(const std::string& root, const std::string& child) {
  return fmt::format("{}/{}{}", root, kOldPrefix, child);
}

bool exists(const std::string& path) {
  std::error_code ec;
  return fs::symlink_status(path, ec).type() != fs::file_type::not_found && !ec;
}

// Where a data file is stored, relative to the backup directory, without suffix: data/<path>,
// or tblspc_<name>/<rest> for pg_tblspc/<oid>/<rest> (as the backup wrote it).
std::string stored_base(const std::string& manifest_path,
                        const std::vector<TablespaceLink>& tablespaces) {
  if (manifest_path.starts_with("pg_tblspc/")) {
    const size_t slash = manifest_path.find('/', 10);
    if (slash != std::string::npos) {
      const std::string oid = manifest_path.substr(10, slash - 10);
      for (const TablespaceLink& t : tablespaces) {
        if (t.oid == oid && !t.name.empty()) {
          return t.name + "/" + manifest_path.substr(slash + 1);
        }
      }
    }
  }
  return "data/" + manifest_path;
}

// Recreates the tree of `from` under `to` (which must not exist): directories made,
// symlinks copied as they are (relative ones resolve the same: `to` is a sibling), regular
// files hardlinked, except the relative paths in `skip`.
Result<void> link_tree(const std::string& from, const std::string& to,
                       const std::set<std::string>& skip) {
  if (::mkdir(to.c_str(), 0700) != 0) {
    return make_errno_error(fmt::format("mkdir {}", to), errno);
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(from, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    // Lexical: fs::relative() would resolve the pg_tblspc links.
    const std::string rel = it->path().lexically_relative(from).string();
    const std::string target = to + "/" + rel;
    const fs::file_status st = it->symlink_status(ec);
    if (fs::is_symlink(st)) {
      const fs::path link = fs::read_symlink(it->path(), ec);
      if (!ec) {
        fs::create_symlink(link, target, ec);
      }
    } else if (fs::is_directory(st)) {
      if (::mkdir(target.c_str(), 0700) != 0) {
        return make_errno_error(fmt::format("mkdir {}", target), errno);
      }
    } else if (fs::is_regular_file(st) && !skip.contains(rel)) {
      if (::link(it->path().c_str(), target.c_str()) != 0) {
        return make_errno_error(fmt::format("link {} to {}", it->path().string(), target), errno);
      }
    }
    if (ec) {
      break;
    }
  }
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("copy the tree of {}: {}", from, ec.message()));
  }
  return {};
}

std::string sha512_of(std::string_view text) {
  auto sha = crypto::Sha512::create();
  if (!sha) {
    return "";
  }
  sha->update(text);
  return crypto::Sha512::hex(sha->final());
}

Result<std::string> marker_parent(const std::string& dir) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_file(dir + "/" + kMarker));
  constexpr std::string_view kKey = "parent=";
  if (!text.starts_with(kKey)) {
    return make_error(ErrorCode::kCorruption, fmt::format("{}/{}: malformed", dir, kMarker));
  }
  std::string parent = text.substr(kKey.size());
  while (!parent.empty() && (parent.back() == '\n' || parent.back() == '\r')) {
    parent.pop_back();
  }
  return parent;
}

// Step 2: the new copy replaces the child (each rename can be where a crash stops).
Result<void> swap_in(const std::string& root, const std::string& child) {
  const std::string live = root + "/" + child;
  if (exists(live) && exists(staging_dir(root, child))) {
    if (exists(old_dir(root, child))) {
      return make_error(ErrorCode::kCorruption, fmt::format("rollup of {}: both {} and {} exist",
                                                            child, live, old_dir(root, child)));
    }
    if (::rename(live.c_str(), old_dir(root, child).c_str()) != 0) {
      return make_errno_error(fmt::format("rename {}", live), errno);
    }
  }
  if (exists(staging_dir(root, child))) {
    if (::rename(staging_dir(root, child).c_str(), live.c_str()) != 0) {
      return make_errno_error(fmt::format("rename {}", staging_dir(root, child)), errno);
    }
  }
  return io::fsync_directory(root);
}

// Step 3: the parent goes, then the old child, then the marker.
Result<void> finish(const std::string& root, const std::string& child, const std::string& parent,
                    const std::function<bool(int)>& after_step) {
  if (exists(root + "/" + parent)) {
    auto deleted = backup::delete_backup(root, parent, true);
    if (!deleted) {
      return tl::unexpected(deleted.error().with_context(fmt::format("rollup into {}", child)));
    }
  }
  if (after_step && !after_step(3)) {
    return {};
  }
  PGM_TRY(backup::remove_backup_directory(old_dir(root, child)));
  const std::string marker = root + "/" + child + "/" + kMarker;
  if (::unlink(marker.c_str()) != 0 && errno != ENOENT) {
    return make_errno_error(fmt::format("remove {}", marker), errno);
  }
  return io::fsync_directory(root + "/" + child);
}

// Stores a plaintext work file through the store as `manifest_path`.
Result<void> store_file(backup::FileStore& store, const std::string& work,
                        const std::string& stored, const std::string& manifest_path) {
  PGM_TRY(store.begin_file(stored, manifest_path, false));
  UniqueFd fd(::open(work.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return make_errno_error(fmt::format("open {}", work), errno);
  }
  std::vector<uint8_t> buffer(size_t{1} << 20);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t n, io::read_some(fd.get(), buffer, "read", work));
    if (n == 0) {
      break;
    }
    PGM_TRY(store.write(std::span<const uint8_t>(buffer.data(), n)));
  }
  PGM_TRY(store.end_file());
  if (::unlink(work.c_str()) != 0) {
    return make_errno_error(fmt::format("remove {}", work), errno);
  }
  return {};
}

}  // namespace

Result<RollupResult> roll_up(const RollupOptions& o) {
  const std::string parent_dir = o.root + "/" + o.parent;
  const std::string child_dir = o.root + "/" + o.child;
  const std::string staging = staging_dir(o.root, o.child);
  PGM_ASSIGN_OR_RETURN(backup::BackupInfo parent, backup::read_backup_info(parent_dir));
  PGM_ASSIGN_OR_RETURN(backup::BackupInfo child, backup::read_backup_info(child_dir));
  if (child.type != backup::BackupType::kIncremental || child.parent != o.parent) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("backup {} is not the incremental child of {}", o.child, o.parent));
  }
  if (!parent.valid || !child.valid) {
    return make_error(
        ErrorCode::kUnavailable,
        fmt::format("rollup of {} into {}: both must be valid backups", o.parent, o.child));
  }
  if (exists(staging) || exists(old_dir(o.root, o.child))) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("an interrupted rollup of {} is not finished yet", o.child));
  }
  PGM_ASSIGN_OR_RETURN(BackupFiles child_files, enumerate_backup(child_dir, child));
  PGM_ASSIGN_OR_RETURN(BackupFiles parent_files, enumerate_backup(parent_dir, parent));
  for (const BackupFiles* f : {&child_files, &parent_files}) {
    if (!f->missing.empty()) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("rollup of {} into {}: stored file {} is missing", o.parent,
                                    o.child, f->missing.front()));
    }
  }
  std::unordered_map<std::string_view, const BackupFile*> parent_index;
  for (const BackupFile& f : parent_files.files) {
    parent_index.emplace(f.manifest_path, &f);
  }
  const std::string suffix = backup::stored_suffix(child.compression, child.encryption);

  // What changes: the child's INCREMENTAL files, and the metadata.
  struct Rolled {
    const BackupFile* file;
    std::string whole;
    ChainSource parent_source;
  };
  std::vector<Rolled> rolled;
  std::set<std::string> skip = {"backup.info", "backup.manifest", "backup.sha512",
                                "data/backup_label"};
  for (const BackupFile& f : child_files.files) {
    auto whole = incremental::strip_incremental(f.manifest_path);
    if (!whole) {
      continue;
    }
    const BackupFile* in_parent = nullptr;
    bool full = false;
    if (auto it = parent_index.find(*whole); it != parent_index.end()) {
      in_parent = it->second;
      full = true;
    } else if (auto inc = parent_index.find(f.manifest_path); inc != parent_index.end()) {
      in_parent = inc->second;
    }
    if (in_parent == nullptr) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("{}: backup {} has no copy of it, so {} cannot be rolled into {}", *whole,
                      o.parent, o.parent, o.child));
    }
    rolled.push_back(Rolled{&f, *whole,
                            ChainSource{in_parent->stored_path, parent_files.format,
                                        o.parent + "/" + in_parent->manifest_path,
                                        in_parent->sha512, in_parent->stored_sha512, full}});
    skip.insert(stored_base(f.manifest_path, child_files.tablespaces) + suffix);
  }

  log::info("rollup of {} into {}: {} INCREMENTAL file(s) to rebuild or merge", o.parent, o.child,
            rolled.size());
  auto failed = [&](const Error& e) -> Result<RollupResult> {
    backup::remove_backup_directory(staging)
        .ignore_error();  // best effort: complete_rollups also removes it
    return tl::unexpected(e);
  };
  if (auto linked = link_tree(child_dir, staging, skip); !linked) {
    return failed(linked.error());
  }

  // Step 1: the new files, through the store with the child's format.
  backup::StoreOptions so;
  so.algorithm =
      backup::compression_algorithm(child.compression).value_or(compress::Algorithm::kNone);
  so.level = o.level;
  so.encryption = static_cast<crypto::AesMode>(child.encryption);
  so.key = o.key;
  so.workers = std::max(1, o.workers);
  auto store = backup::FileStore::create(staging, so);
  if (!store) {
    return failed(store.error());
  }
  StoredFileReader reader(o.key);
  auto sha = crypto::Sha512::create();
  if (!sha) {
    return failed(sha.error());
  }
  RollupResult result;
  const std::string work = staging + "/.work";
  uint64_t old_stored = 0;
  for (const Rolled& r : rolled) {
    const ChainSource child_source{
        r.file->stored_path, child_files.format,    o.child + "/" + r.file->manifest_path,
        r.file->sha512,      r.file->stored_sha512, false};
    std::string out_path;
    if (r.parent_source.full) {
      auto rebuilt = rebuild_whole_file(reader, *sha, {child_source, r.parent_source}, work);
      if (!rebuilt) {
        return failed(rebuilt.error());
      }
      out_path = r.whole;
      ++result.rebuilt_whole;
    } else {
      auto merged = merge_incremental_files(reader, *sha, child_source, r.parent_source, work);
      if (!merged) {
        return failed(merged.error());
      }
      out_path = r.file->manifest_path;
      ++result.merged;
    }
    if (auto stored =
            store_file(**store, work, stored_base(out_path, child_files.tablespaces), out_path);
        !stored) {
      return failed(stored.error());
    }
    old_stored += r.file->stored_size;
    // Test hook, step 0: the new copy is being built (its first new file stored, no mark).
    if (&r == &rolled.front() && o.after_step && !o.after_step(0)) {
      return result;
    }
  }
  auto files = (*store)->finish();
  if (!files) {
    return failed(files.error());
  }

  // The metadata of the new child.
  result.child_became_full = parent.type == backup::BackupType::kFull;
  auto metadata = [&]() -> Result<void> {
    PGM_ASSIGN_OR_RETURN(std::string old_label, io::read_file(child_dir + "/data/backup_label"));
    std::string label = strip_incremental_from(old_label);
    if (!result.child_became_full) {
      PGM_ASSIGN_OR_RETURN(std::string parent_label,
                           io::read_file(parent_dir + "/data/backup_label"));
      label += incremental_from_lines(parent_label);
    }
    PGM_TRY(io::write_file_atomic(staging + "/data/backup_label", label, 0600));
    const std::string label_sha = sha512_of(label);

    std::set<std::string> gone_paths{"backup_label"};
    std::set<std::string> gone_stored{"data/backup_label", "backup.manifest", "backup.info"};
    for (const Rolled& r : rolled) {
      gone_paths.insert(r.file->manifest_path);
      gone_stored.insert(stored_base(r.file->manifest_path, child_files.tablespaces) + suffix);
    }
    PGM_ASSIGN_OR_RETURN(std::string manifest_text, io::read_file(child_dir + "/backup.manifest"));
    PGM_ASSIGN_OR_RETURN(std::vector<backup::ManifestEntry> manifest,
                         backup::parse_manifest(manifest_text));
    std::erase_if(manifest,
                  [&](const backup::ManifestEntry& e) { return gone_paths.contains(e.path); });
    manifest.push_back({"backup_label", label_sha});
    uint64_t new_stored = 0;
    for (const backup::StoredFile& f : *files) {
      manifest.push_back({f.manifest_path, f.sha512});
      new_stored += f.stored_size;
    }
    std::sort(manifest.begin(), manifest.end(),
              [](const backup::ManifestEntry& a, const backup::ManifestEntry& b) {
                return a.path < b.path;
              });
    PGM_ASSIGN_OR_RETURN(std::string new_manifest, backup::format_manifest(manifest));
    PGM_TRY(io::write_file_atomic(staging + "/backup.manifest", new_manifest, 0600));

    backup::BackupInfo info = child;
    // The remote copies hold the old child: the off-site pass must upload the new one.
    backup::forget_remote_copies(info);
    if (result.child_became_full) {
      info.type = backup::BackupType::kFull;
      info.parent.clear();
    } else {
      info.parent = parent.parent;
    }
    info.backup_size = info.backup_size - std::min(info.backup_size, old_stored) + new_stored;
    const std::string info_text = backup::format_backup_info(info);

    PGM_ASSIGN_OR_RETURN(std::string sums_text, io::read_file(child_dir + "/backup.sha512"));
    PGM_ASSIGN_OR_RETURN(std::vector<backup::Sha512Entry> sums,
                         backup::parse_sha512_file(sums_text));
    std::erase_if(sums, [&](const backup::Sha512Entry& e) { return gone_stored.contains(e.path); });
    sums.push_back({"data/backup_label", label_sha});
    for (const backup::StoredFile& f : *files) {
      sums.push_back({f.stored_path, f.stored_sha512});
    }
    sums.push_back({"backup.manifest", sha512_of(new_manifest)});
    sums.push_back({"backup.info", sha512_of(info_text)});
    std::string sums_out;
    for (const backup::Sha512Entry& e : sums) {
      sums_out += backup::format_sha512_line(e);
    }
    PGM_TRY(io::write_file_atomic(staging + "/backup.sha512", sums_out, 0600));
    PGM_TRY(io::write_file_atomic(staging + "/backup.info", info_text, 0600));
    PGM_TRY(io::sync_filesystem(staging));
    // The new copy is complete: from here on a crash finishes the rollup instead of undoing it.
    return io::write_file_atomic(staging + "/" + kMarker, fmt::format("parent={}\n", o.parent),
                                 0600);
  };
  if (auto written = metadata(); !written) {
    return failed(written.error());
  }
  if (o.after_step && !o.after_step(1)) {
    return result;
  }
  PGM_TRY(swap_in(o.root, o.child));
  if (o.after_step && !o.after_step(2)) {
    return result;
  }
  PGM_TRY(finish(o.root, o.child, o.parent, o.after_step));
  log::info("rollup of {} into {} done: {} file(s) rebuilt whole, {} merged; {} is now {}",
            o.parent, o.child, result.rebuilt_whole, result.merged, o.child,
            result.child_became_full ? "a full backup" : "incremental from " + parent.parent);
  return result;
}

Result<size_t> complete_rollups(const std::string& root) {
  auto names = io::list_directory(root);
  if (!names) {
    return names.error().code() == ErrorCode::kNotFound ? Result<size_t>(0)
                                                        : tl::unexpected(names.error());
  }
  std::set<std::string> children;
  for (const std::string& name : *names) {
    if (name.starts_with(kOldPrefix)) {
      children.insert(name.substr(kOldPrefix.size()));
    } else if (name.starts_with(kStagingPrefix)) {
      children.insert(name.substr(kStagingPrefix.size()));
    }
  }
  // A child whose marker is still in place finished its swap but not its cleanup.
  for (const std::string& name : *names) {
    if (backup::is_label(name) && exists(root + "/" + name + "/" + kMarker)) {
      children.insert(name);
    }
  }
  size_t touched = 0;
  for (const std::string& child : children) {
    const std::string staging = staging_dir(root, child);
    if (exists(staging) && !exists(staging + "/" + kMarker)) {
      log::warn("rollup into {} was interrupted before its new copy was complete: undone", child);
      PGM_TRY(backup::remove_backup_directory(staging));
      ++touched;
      continue;
    }
    std::string parent;
    if (exists(staging)) {
      PGM_ASSIGN_OR_RETURN(parent, marker_parent(staging));
      PGM_TRY(swap_in(root, child));
    } else if (exists(root + "/" + child + "/" + kMarker)) {
      PGM_ASSIGN_OR_RETURN(parent, marker_parent(root + "/" + child));
    } else {
      PGM_TRY(backup::remove_backup_directory(old_dir(root, child)));
      ++touched;
      continue;
    }
    log::warn("rollup of {} into {} was interrupted after its new copy was complete: finished",
              parent, child);
    PGM_TRY(finish(root, child, parent, {}));
    ++touched;
  }
  return touched;
}

}  // namespace pgm::restore
