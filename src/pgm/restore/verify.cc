#include "pgm/restore/verify.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/manifest_index.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"
#include "pgm/io/file.h"
#include "pgm/restore/backup_files.h"
#include "pgm/restore/rebuild.h"
#include "pgm/restore/stored_file.h"

namespace pgm::restore {

namespace {

// Progress is published in steps of this many plaintext bytes (and at every file's end).
constexpr uint64_t kProgressStep = uint64_t{4} << 20;
constexpr int kMaxWorkers = 64;

bool same_hex(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// enumerate_backup's extra names carry a parenthesised detail for odd entries:
// "x (dangling link)", "x (not a regular file)".
VerifyFile extra_file(const std::string& name) {
  VerifyFile v;
  v.path = name;
  v.problem = kProblemExtra;
  size_t open = name.rfind(" (");
  if (!name.empty() && name.back() == ')' && open != std::string::npos) {
    v.path = name.substr(0, open);
    v.problem += name.substr(open);
  }
  return v;
}

// The backup's own metadata files against their backup.sha512 lines (absent file: nothing to
// check, as for backups pgmoneta wrote without one). backup.sha512 is read as a stream and the
// files are hashed in pieces: a million-file backup.manifest is never whole in memory.
Result<std::vector<VerifyFile>> check_metadata(const std::string& backup_dir) {
  std::vector<VerifyFile> out;
  auto damaged = [&out](std::string problem) {
    out.clear();
    VerifyFile v;
    v.path = "backup.sha512";
    v.problem = std::move(problem);
    out.push_back(std::move(v));
    return out;
  };
  std::vector<backup::Sha512Entry> entries;  // of the metadata files only
  auto read = io::for_each_line(
      backup_dir + "/backup.sha512", [&](std::string_view line, size_t number) -> Result<void> {
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(backup::Sha512Line l, backup::parse_sha512_line(line, number));
        // Stored data files: their plaintext is checked against backup.manifest.
        if (l.path == "backup.info" || l.path == "backup.manifest" ||
            l.path == incremental::kBlockMapFile) {
          entries.push_back({std::string(l.path), crypto::Sha512::hex(l.sha512)});
        }
        return {};
      });
  if (!read) {
    if (read.error().code() == ErrorCode::kNotFound) {
      return out;
    }
    return damaged(read.error().message());
  }
  for (backup::Sha512Entry& e : entries) {
    VerifyFile v;
    v.path = std::move(e.path);
    v.expected = std::move(e.hex);
    const std::string file = backup_dir + "/" + v.path;
    struct stat st {};
    if (::stat(file.c_str(), &st) != 0) {
      v.problem = errno == ENOENT ? std::string(kProblemMissing)
                                  : fmt::format("stat {}: {}", file, std::strerror(errno));
    } else if (auto calculated = crypto::sha512_of_file(file); !calculated) {
      v.problem = calculated.error().message();
    } else {
      v.calculated = std::move(*calculated);
      v.bytes = static_cast<uint64_t>(st.st_size);
      if (!same_hex(v.calculated, v.expected)) {
        v.problem = kProblemMismatch;
      }
    }
    out.push_back(std::move(v));
  }
  return out;
}

// Rebuilds the INCREMENTAL files of an incremental backup one at a time under o.scratch_dir
// (each removed after its check); a failure of the chain itself is one VerifyFile.
std::vector<VerifyFile> verify_chain(const VerifyOptions& o, const BackupFiles& files) {
  std::vector<VerifyFile> failed;
  auto fail = [&failed](std::string path, std::string problem) {
    VerifyFile v;
    v.path = std::move(path);
    v.problem = std::move(problem);
    failed.push_back(std::move(v));
  };
  auto chain = ChainFiles::load(o.backup_dir, o.info, o.key);
  if (!chain) {
    fail("backup.info", chain.error().message());
    return failed;
  }
  auto manifest = io::read_file(o.backup_dir + "/data/backup_manifest");
  auto map = incremental::BlockMap::read(o.backup_dir + "/" + incremental::kBlockMapFile);
  auto sha = crypto::Sha512::create();
  if (!manifest || !sha) {
    fail("backup_manifest", !manifest ? manifest.error().message() : sha.error().message());
    return failed;
  }
  if (auto made = io::make_directories(o.scratch_dir, 0700); !made) {
    fail(o.scratch_dir, made.error().message());
    return failed;
  }
  const std::string scratch =
      fmt::format("{}/.verify-{}-{}", o.scratch_dir, o.info.label, ::getpid());
  StoredFileReader reader(o.key);
  std::vector<backup::ManifestEntry> rebuilt;
  std::set<std::string> by_map;
  for (const BackupFile& f : files.files) {
    auto whole = incremental::strip_incremental(f.manifest_path);
    if (!whole) {
      continue;
    }
    auto checked = [&]() -> Result<void> {
      PGM_ASSIGN_OR_RETURN(std::vector<ChainSource> sources,
                           chain->sources(f, files.format, *whole));
      ::unlink(scratch.c_str());
      PGM_TRY(rebuild_whole_file(reader, *sha, sources, scratch));
      PGM_ASSIGN_OR_RETURN(RebuiltDigest digest, digest_rebuilt(scratch, *whole, *sha));
      if (map) {
        PGM_ASSIGN_OR_RETURN(bool matched, check_against_map(*map, *whole, digest.blocks, *whole));
        if (matched) {
          by_map.insert(*whole);
        }
      }
      rebuilt.push_back(std::move(digest.entry));
      return {};
    }();
    if (!checked) {
      fail(*whole, checked.error().message());
    }
  }
  ::unlink(scratch.c_str());
  auto mismatches = backup::compare_with_postgres_manifest(rebuilt, *manifest);
  if (!mismatches) {
    fail("backup_manifest", mismatches.error().message());
    return failed;
  }
  for (const backup::ManifestMismatch& m : *mismatches) {
    if (m.kind == backup::ManifestMismatch::Kind::kMissingInOurs ||
        (m.kind == backup::ManifestMismatch::Kind::kMissingInPostgres && by_map.contains(m.path))) {
      continue;
    }
    fail(m.path, m.kind == backup::ManifestMismatch::Kind::kChecksumDiffers
                     ? "rebuilt from the chain: checksum mismatch with PostgreSQL's backup_manifest"
                     : "rebuilt from the chain: not in PostgreSQL's backup_manifest");
  }
  return failed;
}

}  // namespace

Result<VerifyReport> verify_backup(const VerifyOptions& o) {
  PGM_ASSIGN_OR_RETURN(BackupFiles files, enumerate_backup(o.backup_dir, o.info));
  if (files.format.encryption != crypto::AesMode::kNone && o.key == nullptr) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("{}: the backup is encrypted, but there is no master key", o.backup_dir));
  }
  const size_t n = files.files.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) {
    order[i] = i;
  }
  // Largest first, so that one big file does not start last and run alone.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return files.files[a].stored_size > files.files[b].stored_size;
  });
  const uint64_t total = o.info.restore_size != 0 ? o.info.restore_size : files.stored_bytes;

  std::vector<VerifyFile> results(n);
  std::atomic<size_t> next{0};
  std::atomic<uint64_t> done{0};
  std::mutex mutex;  // guards progress calls and setup_error
  std::optional<Error> setup_error;
  auto publish = [&](uint64_t& unreported) {
    if (unreported == 0) {
      return;
    }
    uint64_t now = done.fetch_add(unreported) + unreported;
    unreported = 0;
    if (o.on_progress) {
      std::lock_guard<std::mutex> lock(mutex);
      o.on_progress(now, total);
    }
  };
  auto work = [&]() {
    auto sha = crypto::Sha512::create();
    if (!sha) {
      std::lock_guard<std::mutex> lock(mutex);
      setup_error = sha.error();
      return;
    }
    StoredFileReader reader(o.key);
    uint64_t unreported = 0;
    for (;;) {
      size_t k = next.fetch_add(1);
      if (k >= n) {
        break;
      }
      const BackupFile& f = files.files[order[k]];
      VerifyFile& v = results[order[k]];
      v.path = f.manifest_path;
      // A file backup.manifest does not list (pgmoneta's backup_manifest and WAL segment):
      // its stored bytes against backup.sha512.
      v.expected = f.unlisted ? f.stored_sha512 : f.sha512;
      sha->reset();
      StoredFormat format = f.plain || f.unlisted ? StoredFormat{} : files.format;
      auto read = reader.read(f.stored_path, format, [&](std::span<const uint8_t> bytes) {
        sha->update(bytes);
        unreported += bytes.size();
        if (unreported >= kProgressStep) {
          publish(unreported);
        }
        return Result<void>{};
      });
      publish(unreported);
      if (!read) {
        v.problem = read.error().message();
        continue;
      }
      v.bytes = *read;
      v.calculated = crypto::Sha512::hex(sha->final());
      if (!same_hex(v.calculated, v.expected)) {
        v.problem = kProblemMismatch;
      } else if (!o.keep_all) {
        // A sound file is only counted: its strings go now, not after a million more.
        std::string().swap(v.path);
        std::string().swap(v.expected);
        v.calculated = "ok";  // counted as checked below
      }
    }
  };
  int workers = std::clamp(o.workers, 1, kMaxWorkers);
  workers =
      static_cast<int>(std::min<size_t>(static_cast<size_t>(workers), std::max<size_t>(n, 1)));
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(workers - 1));
  for (int i = 1; i < workers; ++i) {
    threads.emplace_back(work);
  }
  work();
  for (std::thread& t : threads) {
    t.join();
  }
  if (setup_error) {
    return tl::unexpected(setup_error->with_context(o.backup_dir));
  }

  VerifyReport report;
  auto add = [&](VerifyFile v) {
    if (!v.problem.empty()) {
      report.failed.push_back(v);
    }
    if (o.keep_all) {
      report.all.push_back(std::move(v));
    }
  };
  for (VerifyFile& v : results) {
    if (v.problem.empty() || !v.calculated.empty()) {
      ++report.files;
      report.bytes += v.bytes;
    }
    add(std::move(v));
  }
  // Missing files keep their manifest checksum; the manifest is parsed again only for them.
  if (!files.missing.empty()) {
    PGM_ASSIGN_OR_RETURN(const backup::ManifestIndex manifest,
                         backup::ManifestIndex::load(o.backup_dir + "/backup.manifest"));
    for (const std::string& path : files.missing) {
      VerifyFile v;
      v.path = path;
      v.problem = kProblemMissing;
      if (const crypto::Sha512Digest* d = manifest.find(path)) {
        v.expected = crypto::Sha512::hex(*d);
      }
      add(std::move(v));
    }
  }
  for (const std::string& name : files.extra) {
    add(extra_file(name));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<VerifyFile> metadata, check_metadata(o.backup_dir));
  for (VerifyFile& v : metadata) {
    add(std::move(v));
  }
  // An incremental whose own files are sound: each INCREMENTAL file rebuilt from the chain
  // must be the whole file PostgreSQL's manifest (or the block map) describes.
  if (o.info.type == backup::BackupType::kIncremental && report.ok() && !o.scratch_dir.empty()) {
    for (VerifyFile& v : verify_chain(o, files)) {
      add(std::move(v));
    }
  }
  return report;
}

}  // namespace pgm::restore
