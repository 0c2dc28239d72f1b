#include "pgm/storage/transfer.h"

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "pgm/backup/info.h"
#include "pgm/io/file.h"

namespace pgm::storage {

namespace {

namespace fs = std::filesystem;

constexpr const char* kInfo = "backup.info";

struct LocalFile {
  std::string relative;
  std::string path;
  uint64_t size = 0;
};

// Regular files (symbolic links followed) and directories of a backup directory, relative.
Result<std::pair<std::vector<LocalFile>, std::vector<std::string>>> walk(const std::string& dir) {
  std::vector<LocalFile> files;
  std::vector<std::string> dirs;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    // Lexical: fs::relative() would resolve a symbolic link to where it points.
    std::string rel = it->path().lexically_relative(dir).string();
    if (it->is_directory(fec) && !it->is_symlink(fec)) {
      dirs.push_back(rel);
    } else if (it->is_regular_file(fec)) {  // follows symbolic links
      uint64_t size = fs::file_size(it->path(), fec);
      if (fec) {
        return make_error(ErrorCode::kIo,
                          fmt::format("{}: {}", it->path().string(), fec.message()));
      }
      files.push_back({rel, it->path().string(), size});
    } else {
      return make_error(ErrorCode::kIo,
                        fmt::format("{}: neither a file nor a directory (a dangling link?)",
                                    it->path().string()));
    }
  }
  if (ec) {
    return make_error(ErrorCode::kIo, fmt::format("walk {}: {}", dir, ec.message()));
  }
  std::sort(files.begin(), files.end(),
            [](const LocalFile& a, const LocalFile& b) { return a.relative < b.relative; });
  std::sort(dirs.begin(), dirs.end());
  return std::make_pair(std::move(files), std::move(dirs));
}

// Runs job(engine, i) for every i in [0, n) on up to parallel.workers threads, each with its
// own engine; the first failure stops the others (after their current object) and is returned.
Result<void> for_each_parallel(Storage& first, const Parallel& parallel, size_t n,
                               const std::function<Result<void>(Storage&, size_t)>& job) {
  std::vector<std::unique_ptr<Storage>> extra;
  size_t wanted = std::min(n, static_cast<size_t>(std::max(parallel.workers, 1)));
  for (size_t w = 1; w < wanted && parallel.open; ++w) {
    auto made = parallel.open();
    if (!made) {
      break;
    }
    extra.push_back(std::move(*made));
  }
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mutex;
  std::optional<Error> error;
  auto work = [&](Storage& engine) {
    while (!failed.load()) {
      size_t i = next.fetch_add(1);
      if (i >= n) {
        return;
      }
      if (auto r = job(engine, i); !r) {
        std::lock_guard<std::mutex> lock(mutex);
        if (!error) {
          error = r.error();
        }
        failed.store(true);
      }
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(extra.size());
  for (auto& engine : extra) {
    threads.emplace_back([&work, e = engine.get()] { work(*e); });
  }
  work(first);
  for (std::thread& t : threads) {
    t.join();
  }
  if (error) {
    return tl::unexpected(*error);
  }
  return {};
}

}  // namespace

std::string backup_prefix(const std::string& server, const std::string& label) {
  return fmt::format("{}/backup/{}/", server, label);
}

Result<TransferStats> upload_backup(Storage& storage, const std::string& backup_dir,
                                    const std::string& server, const std::string& label,
                                    const TransferProgress& progress, const Parallel& parallel) {
  const std::string prefix = backup_prefix(server, label);
  PGM_ASSIGN_OR_RETURN(auto tree, walk(backup_dir));
  auto& [files, dirs] = tree;
  auto info = std::find_if(files.begin(), files.end(),
                           [](const LocalFile& f) { return f.relative == kInfo; });
  if (info == files.end()) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{} has no backup.info: not a complete backup", backup_dir));
  }
  // backup.info last: it is what makes the remote copy complete.
  std::rotate(info, info + 1, files.end());
  std::map<std::string, std::string> known;  // relative path -> SHA-512 from backup.sha512
  if (auto text = io::read_file(backup_dir + "/backup.sha512"); text) {
    if (auto entries = backup::parse_sha512_file(*text); entries) {
      for (const auto& e : *entries) {
        known[e.path] = e.hex;
      }
    }
  }
  TransferStats stats;
  uint64_t total = 0;
  for (const LocalFile& f : files) {
    total += f.size;
  }
  // The directory list goes up before backup.info.
  std::string listing;
  for (const std::string& d : dirs) {
    listing += d + "\n";
  }
  std::string listing_path =
      fmt::format("{}/.directories.upload", io::parent_directory(backup_dir));
  PGM_TRY(io::write_file_atomic(listing_path, listing, 0600));
  std::mutex mutex;  // stats and progress
  auto put = [&](Storage& engine, const LocalFile& f) -> Result<void> {
    std::string sha;
    if (auto k = known.find(f.relative); k != known.end()) {
      sha = k->second;
    } else {
      PGM_ASSIGN_OR_RETURN(sha, sha512_of_file(f.path));
    }
    PGM_TRY(engine.put_file(prefix + f.relative, f.path, sha));
    std::lock_guard<std::mutex> lock(mutex);
    ++stats.files;
    stats.bytes += f.size;
    if (progress) {
      progress(stats.bytes, total + listing.size());
    }
    return {};
  };
  // Every data file (in parallel), then the directory list, then backup.info.
  Result<void> result =
      for_each_parallel(storage, parallel, files.size() - 1,
                        [&](Storage& engine, size_t i) { return put(engine, files[i]); });
  if (result) {
    result = put(storage, {kDirectoriesObject, listing_path, listing.size()});
  }
  if (result) {
    result = put(storage, files.back());
  }
  ::unlink(listing_path.c_str());
  if (!result) {
    return tl::unexpected(result.error());
  }
  return stats;
}

Result<std::vector<std::string>> remote_backups(Storage& storage, const std::string& server) {
  PGM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage.list(server + "/backup/"));
  std::set<std::string> labels;
  const std::string head = server + "/backup/";
  for (const ObjectInfo& o : objects) {
    std::string_view rest = std::string_view(o.key).substr(head.size());
    size_t slash = rest.find('/');
    // Only label-shaped names: a listing is remote input, and the label becomes a local
    // directory name when the backup is downloaded.
    if (slash != std::string_view::npos && rest.substr(slash + 1) == kInfo &&
        backup::is_label(rest.substr(0, slash))) {
      labels.emplace(rest.substr(0, slash));
    }
  }
  return std::vector<std::string>(labels.begin(), labels.end());
}

Result<TransferStats> download_backup(Storage& storage, const std::string& server,
                                      const std::string& label, const std::string& dest_dir,
                                      const TransferProgress& progress, const Parallel& parallel) {
  const std::string prefix = backup_prefix(server, label);
  std::error_code ec;
  if (fs::exists(dest_dir, ec)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} already exists: a download never replaces files", dest_dir));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage.list(prefix));
  bool complete = std::any_of(objects.begin(), objects.end(),
                              [&](const ObjectInfo& o) { return o.key == prefix + kInfo; });
  if (!complete) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("{}: no complete backup {} of server {} (no backup.info)",
                                  storage.name(), label, server));
  }
  const std::string partial = dest_dir + ".partial";
  fs::remove_all(partial, ec);
  PGM_TRY(io::make_directories(partial, 0700));
  uint64_t total = 0;
  for (const ObjectInfo& o : objects) {
    total += o.size;
  }
  TransferStats stats;
  auto fail = [&](const Error& e) -> Result<TransferStats> {
    std::error_code rec;
    fs::remove_all(partial, rec);
    return tl::unexpected(e);
  };
  for (const ObjectInfo& o : objects) {
    std::string rel = o.key.substr(prefix.size());
    if (rel.empty() || rel.find("..") != std::string::npos || rel.front() == '/') {
      return fail(Error(ErrorCode::kCorruption,
                        fmt::format("{}: unexpected object key {}", storage.name(), o.key)));
    }
    if (auto r = io::make_directories(io::parent_directory(partial + "/" + rel), 0700); !r) {
      return fail(r.error());
    }
  }
  std::mutex mutex;  // stats and progress
  auto fetched = for_each_parallel(
      storage, parallel, objects.size(), [&](Storage& engine, size_t i) -> Result<void> {
        const ObjectInfo& o = objects[i];
        PGM_TRY(download_verified(engine, o.key, partial + "/" + o.key.substr(prefix.size())));
        std::lock_guard<std::mutex> lock(mutex);
        ++stats.files;
        stats.bytes += o.size;
        if (progress) {
          progress(stats.bytes, total);
        }
        return {};
      });
  if (!fetched) {
    return fail(fetched.error());
  }
  // Directories PostgreSQL expects even when empty.
  std::string listing_path = partial + "/" + kDirectoriesObject;
  if (auto listing = io::read_file(listing_path); listing) {
    size_t start = 0;
    while (start < listing->size()) {
      size_t end = listing->find('\n', start);
      std::string d = listing->substr(start, end == std::string::npos ? end : end - start);
      start = end == std::string::npos ? listing->size() : end + 1;
      if (d.empty()) {
        continue;
      }
      if (d.find("..") != std::string::npos || d.front() == '/') {
        return fail(Error(
            ErrorCode::kCorruption,
            fmt::format("{}: bad directory '{}' in {}", storage.name(), d, kDirectoriesObject)));
      }
      if (auto r = io::make_directories(partial + "/" + d, 0700); !r) {
        return fail(r.error());
      }
    }
    ::unlink(listing_path.c_str());
  }
  if (::rename(partial.c_str(), dest_dir.c_str()) != 0) {
    return fail(errno_error(fmt::format("rename {} to {}", partial, dest_dir), errno));
  }
  PGM_TRY(io::fsync_directory(io::parent_directory(dest_dir)));
  return stats;
}

Result<void> remove_remote_backup(Storage& storage, const std::string& server,
                                  const std::string& label) {
  const std::string prefix = backup_prefix(server, label);
  PGM_ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, storage.list(prefix));
  std::vector<std::string> keys;
  keys.push_back(prefix + kInfo);  // first: the backup stops being complete at once
  PGM_TRY(storage.remove(keys));
  keys.clear();
  for (const ObjectInfo& o : objects) {
    if (o.key != prefix + kInfo) {
      keys.push_back(o.key);
    }
  }
  return storage.remove(keys);
}

}  // namespace pgm::storage
