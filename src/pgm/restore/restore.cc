#include "pgm/restore/restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <unordered_map>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/crc32c.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"
#include "pgm/incremental/format.h"
#include "pgm/incremental/reconstruct.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/restore/backup_files.h"
#include "pgm/restore/chain.h"
#include "pgm/restore/leftovers.h"
#include "pgm/restore/pg_manifest.h"
#include "pgm/restore/rebuild.h"
#include "pgm/restore/stored_file.h"
#include "pgm/wal/segment.h"

namespace pgm::restore {

namespace fs = std::filesystem;

namespace {

constexpr const char* kPgControl = "global/pg_control";

// Digests of a reconstructed file, for the check against PostgreSQL's backup_manifest.
// PostgreSQL's manifest lists whole files for a block delta, but a native incremental's
// INCREMENTAL files: those are checked against the backup's block map instead.
struct Rebuilt {
  std::mutex mutex;
  std::vector<backup::ManifestEntry> entries;
  std::set<std::string> checked_by_map;              // paths whose blocks matched backup.blockmap
  std::map<std::string, RebuiltManifestFile> files;  // for the restored backup_manifest
  const incremental::BlockMap* map = nullptr;
};

// One unit of work for the pool: a stored file (or WAL file) and where it goes.
struct Job {
  std::string source;
  StoredFormat format;
  std::string destination;    // absolute
  std::string label;          // for messages: data-relative path or wal/<name>
  std::string sha512;         // expected plaintext digest; "" = not checked
  std::string stored_sha512;  // expected digest of the stored bytes (preferred when known)
  uint64_t size_hint = 0;     // stored bytes, for ordering
  bool replace = false;       // may replace a file already there (WAL over the backup's copy)
  // WAL only: the segment's 24-character name. The receiver compresses a completed segment
  // under a new name and removes the plain one, maybe while we read: then the current name
  // is looked up again.
  std::string wal_base;
  uint8_t wal_encryption = 0;  // backup.info's ENCRYPTION, for WAL found under a new name
  // A file of an incremental backup: its versions, newest first (chain[0] is the INCREMENTAL
  // file of the restored backup), rebuilt as pg_combinebackup does. Empty for a plain copy.
  std::vector<ChainSource> chain;
  std::string manifest_path;  // the rebuilt file's path, with chain
  Rebuilt* rebuilt = nullptr;
};

// The stored name of WAL segment `base` in `dir` now (the compressed one when both exist);
// "" when there is none.
std::string current_wal_name(const std::string& dir, const std::string& base,
                             wal::WalFileInfo* info) {
  auto names = io::list_directory(dir);
  if (!names) {
    return "";
  }
  std::string found;
  for (const std::string& name : *names) {
    wal::WalFileInfo f = wal::classify_wal_file(name);
    if (f.kind == wal::WalFileKind::kSegment && f.base == base &&
        (found.empty() || name.size() > found.size())) {
      found = name;
      *info = f;
    }
  }
  return found;
}

StoredFormat wal_format(const wal::WalFileInfo& f, uint8_t backup_encryption) {
  StoredFormat format;
  format.algorithm = f.compression;
  if (f.encrypted) {
    // WAL files are encrypted with the daemon's mode, which backup.info records for a backup
    // taken with the same configuration.
    format.encryption = backup_encryption != 0 ? static_cast<crypto::AesMode>(backup_encryption)
                                               : crypto::AesMode::kAes256Gcm;
  }
  return format;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  size_t u = 0;
  while (v >= 1024 && u + 1 < std::size(units)) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f} {}", v, units[u]);
}

// Writes one file: the stored bytes' plaintext into a new file (O_EXCL, 0600), or into a
// temporary name renamed over the old one when job.replace. Checks the SHA-512.
Result<uint64_t> restore_file(StoredFileReader& reader, crypto::Sha512* sha, const Job& job,
                              const std::function<void(uint64_t)>& advance) {
  std::string path = job.replace ? job.destination + ".pgmoneta.tmp" : job.destination;
  int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (job.replace ? O_TRUNC : O_EXCL);
  UniqueFd fd(::open(path.c_str(), flags, 0600));
  if (!fd) {
    return make_errno_error(fmt::format("create {}", path), errno);
  }
  // Prefer the stored bytes' digest (backup.sha512): far fewer bytes to hash for a compressed
  // backup, and equally a proof of the plaintext.
  bool check_stored = sha != nullptr && !job.stored_sha512.empty();
  bool check_plain = sha != nullptr && !check_stored && !job.sha512.empty();
  if (check_stored || check_plain) {
    sha->reset();
  }
  auto written = reader.read(
      job.source, job.format,
      [&](std::span<const uint8_t> bytes) -> Result<void> {
        if (check_plain) {
          sha->update(bytes);
        }
        PGM_TRY(io::write_all(fd.get(), bytes, "write", path));
        advance(bytes.size());
        return {};
      },
      [&](std::span<const uint8_t> bytes) {
        if (check_stored) {
          sha->update(bytes);
        }
      });
  if (!written) {
    return tl::unexpected(written.error());
  }
  if (check_stored || check_plain) {
    std::string got = crypto::Sha512::hex(sha->final());
    const std::string& want = check_stored ? job.stored_sha512 : job.sha512;
    if (got != want) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("{}: SHA-512 {} does not match {} ({})", job.label, got.substr(0, 16),
                      check_stored ? "backup.sha512" : "backup.manifest", want.substr(0, 16)));
    }
  }
  // Start the write-back now; the final syncfs reports real errors.
  (void)::sync_file_range(fd.get(), 0, 0, SYNC_FILE_RANGE_WRITE);
  if (job.replace) {
    // Count what the restore grew by: a replaced file's old bytes are gone.
    struct stat old {};
    if (::stat(job.destination.c_str(), &old) == 0) {
      *written -= std::min<uint64_t>(*written, static_cast<uint64_t>(old.st_size));
    }
    if (::rename(path.c_str(), job.destination.c_str()) != 0) {
      return make_errno_error(fmt::format("rename {}", path), errno);
    }
  }
  return *written;
}

// Rebuilds one relation file of an incremental backup from its chain, straight into the
// target (blocks written at their offsets), then reads it back for its digests.
Result<uint64_t> reconstruct_file(StoredFileReader& reader, crypto::Sha512& sha, const Job& job,
                                  const std::function<void(uint64_t)>& advance) {
  PGM_TRY(rebuild_whole_file(reader, sha, job.chain, job.destination, advance));
  // Read it back: PostgreSQL's manifest (or the block map) describes the whole file, and
  // this is the proof that the chain rebuilt it exactly.
  PGM_ASSIGN_OR_RETURN(RebuiltDigest digest,
                       digest_rebuilt(job.destination, job.manifest_path, sha));
  bool by_map = false;
  if (job.rebuilt->map != nullptr) {
    PGM_ASSIGN_OR_RETURN(
        by_map, check_against_map(*job.rebuilt->map, job.manifest_path, digest.blocks, job.label));
  }
  backup::ManifestEntry entry = std::move(digest.entry);
  const uint64_t entry_size = digest.size;
  {
    std::lock_guard lock(job.rebuilt->mutex);
    if (by_map) {
      job.rebuilt->checked_by_map.insert(entry.path);
    }
    job.rebuilt->files[entry.path] = {entry_size, entry.sha512, entry.crc32c};
    job.rebuilt->entries.push_back(std::move(entry));
  }
  return entry_size;
}

// Runs jobs over `workers` threads; the first error stops the others.
Result<uint64_t> run_jobs(std::vector<Job>& jobs, int workers, const crypto::MasterKey* key,
                          bool verify, const std::function<void(uint64_t)>& advance) {
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  std::atomic<uint64_t> bytes{0};
  std::mutex error_mutex;
  std::optional<Error> first_error;
  auto worker = [&]() {
    StoredFileReader reader(key);
    std::optional<crypto::Sha512> sha;
    if (verify) {
      auto created = crypto::Sha512::create();
      if (!created) {
        std::lock_guard lock(error_mutex);
        first_error = created.error();
        failed.store(true);
        return;
      }
      sha.emplace(std::move(*created));
    }
    while (!failed.load(std::memory_order_relaxed)) {
      size_t i = next.fetch_add(1);
      if (i >= jobs.size()) {
        return;
      }
      Result<uint64_t> r = uint64_t{0};
      if (!jobs[i].chain.empty()) {
        if (!sha) {
          auto created = crypto::Sha512::create();
          if (!created) {
            r = tl::unexpected(created.error());
          } else {
            sha.emplace(std::move(*created));
          }
        }
        if (r) {
          r = reconstruct_file(reader, *sha, jobs[i], advance);
        }
      } else {
        r = restore_file(reader, sha ? &*sha : nullptr, jobs[i], advance);
      }
      for (int retry = 0;
           !r && r.error().code() == ErrorCode::kNotFound && !jobs[i].wal_base.empty() && retry < 3;
           ++retry) {
        Job& job = jobs[i];
        wal::WalFileInfo f;
        std::string name = current_wal_name(io::parent_directory(job.source), job.wal_base, &f);
        if (name.empty()) {
          break;
        }
        job.source = io::parent_directory(job.source) + "/" + name;
        job.format = wal_format(f, job.wal_encryption);
        r = restore_file(reader, sha ? &*sha : nullptr, job, advance);
      }
      if (!r) {
        std::lock_guard lock(error_mutex);
        if (!first_error) {
          first_error = r.error();
        }
        failed.store(true);
        return;
      }
      bytes.fetch_add(*r);
    }
  };
  size_t n = std::clamp<size_t>(static_cast<size_t>(std::max(workers, 1)), 1, jobs.size());
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; ++i) {
    threads.emplace_back(worker);
  }
  worker();
  for (std::thread& t : threads) {
    t.join();
  }
  if (first_error) {
    return tl::unexpected(*first_error);
  }
  return bytes.load();
}

// True when the 8 kB WAL page holding `offset - 1` of the file is not all zeros: a .partial
// segment that reached the backup's end.
bool page_written(const std::string& path, uint64_t offset) {
  if (offset == 0) {
    return true;
  }
  constexpr uint64_t kPage = 8192;
  uint64_t page = (offset - 1) / kPage * kPage;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return false;
  }
  std::vector<uint8_t> buf(kPage);
  ssize_t n = ::pread(fd.get(), buf.data(), buf.size(), static_cast<off_t>(page));
  if (n <= 0) {
    return false;
  }
  return std::any_of(buf.begin(), buf.begin() + n, [](uint8_t b) { return b != 0; });
}

struct WalPlan {
  std::vector<Job> jobs;
  uint64_t bytes = 0;  // plaintext bytes to write (segments at full size)
};

// The WAL files of wal_dir a recovery from this backup can use.
Result<WalPlan> plan_wal(const RestoreOptions& o, const std::string& pg_wal) {
  WalPlan plan;
  // pgmoneta may write WAL=(null): then the segment of START_WALPOS.
  const std::string first = backup::first_wal_segment(o.info, o.wal_segment_size);
  auto start = wal::parse_segment_name(first, o.wal_segment_size);
  if (!start) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup.info: WAL '{}' is not a segment name and START_WALPOS "
                                  "{} gives none",
                                  o.info.wal, backup::format_lsn(o.info.start_lsn)));
  }
  auto names = io::list_directory(o.wal_dir);
  if (!names) {
    if (names.error().code() == ErrorCode::kNotFound) {
      return plan;
    }
    return tl::unexpected(names.error());
  }
  uint64_t end_segno = wal::segment_number(wal::Lsn(o.info.end_lsn), o.wal_segment_size);
  uint64_t end_offset = o.info.end_lsn % o.wal_segment_size;
  std::vector<std::string> complete;  // bases of complete segments
  for (const std::string& name : *names) {
    wal::WalFileInfo f = wal::classify_wal_file(name);
    if (f.kind == wal::WalFileKind::kSegment) {
      complete.push_back(f.base);
    }
  }
  std::sort(complete.begin(), complete.end());
  for (const std::string& name : *names) {
    wal::WalFileInfo f = wal::classify_wal_file(name);
    Job job;
    job.source = o.wal_dir + "/" + name;
    job.label = "wal/" + name;
    job.replace = true;
    if (f.kind == wal::WalFileKind::kHistory) {
      job.destination = pg_wal + "/" + f.base + ".history";
      struct stat st {};
      job.size_hint = ::stat(job.source.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
      plan.bytes += job.size_hint;
      plan.jobs.push_back(std::move(job));
      continue;
    }
    if (f.kind != wal::WalFileKind::kSegment && f.kind != wal::WalFileKind::kPartial) {
      continue;
    }
    auto id = wal::parse_segment_name(f.base, o.wal_segment_size);
    if (!id || id->segno < start->segno || id->tli.value() < start->tli.value()) {
      continue;
    }
    if (f.kind == wal::WalFileKind::kPartial) {
      if (std::binary_search(complete.begin(), complete.end(), f.base)) {
        continue;  // the complete segment wins
      }
      // The receiver's current segment. When it is the backup's end segment but the receiver
      // never got that far, the backup's own copy in pg_wal is the better one.
      if (id->segno == end_segno && !page_written(job.source, end_offset)) {
        continue;
      }
    } else {
      // A plain copy next to a compressed one is on its way out (compression just finished).
      if (f.compression == compress::Algorithm::kNone && !f.encrypted &&
          std::count(complete.begin(), complete.end(), f.base) > 1) {
        continue;
      }
      job.format = wal_format(f, o.info.encryption);
      job.wal_base = f.base;
      job.wal_encryption = o.info.encryption;
    }
    job.destination = pg_wal + "/" + f.base;
    struct stat st {};
    job.size_hint = ::stat(job.source.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
    plan.bytes += o.wal_segment_size;
    plan.jobs.push_back(std::move(job));
  }
  return plan;
}

// Removes what a failed restore created. A target that existed (empty) before is emptied.
void remove_created(const std::string& target, bool target_existed,
                    const std::vector<std::string>& tablespace_dirs) {
  std::error_code ec;
  if (target_existed) {
    for (const auto& entry : fs::directory_iterator(target, ec)) {
      std::error_code rec;
      fs::remove_all(entry.path(), rec);
    }
  } else {
    fs::remove_all(target, ec);
  }
  for (const std::string& dir : tablespace_dirs) {
    fs::remove_all(dir, ec);
  }
}

Result<bool> prepare_target(const std::string& target) {
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("{} exists and is not a directory", target));
    }
    PGM_ASSIGN_OR_RETURN(std::vector<std::string> names, io::list_directory(target));
    if (!names.empty() && clear_abandoned_restore(target)) {
      PGM_ASSIGN_OR_RETURN(names, io::list_directory(target));
    }
    if (!names.empty()) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("{} exists and is not empty: a restore never overwrites a directory",
                      target));
    }
    if (::chmod(target.c_str(), 0700) != 0) {
      return make_errno_error(fmt::format("chmod {}", target), errno);
    }
    return true;
  }
  PGM_TRY(io::make_directories(io::parent_directory(target), 0700));
  if (::mkdir(target.c_str(), 0700) != 0) {
    return make_errno_error(fmt::format("mkdir {}", target), errno);
  }
  return false;
}

Result<void> make_directory(const std::string& path) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return make_errno_error(fmt::format("mkdir {}", path), errno);
  }
  return {};
}

}  // namespace

std::string tablespace_directory(const std::string& target_dir, const std::string& name) {
  return target_dir + "-" + name;
}

Result<RestoreResult> run_restore(const RestoreOptions& o) {
  auto started = std::chrono::steady_clock::now();
  RestoreResult result;
  PGM_ASSIGN_OR_RETURN(BackupFiles files, enumerate_backup(o.backup_dir, o.info));
  if (!files.missing.empty()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup {}: {} stored file(s) missing, first: {}", o.info.label,
                                  files.missing.size(), files.missing.front()));
  }
  if (!files.extra.empty()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup {}: {} file(s) not in backup.manifest, first: {}",
                                  o.info.label, files.extra.size(), files.extra.front()));
  }
  if (files.format.encryption != crypto::AesMode::kNone && o.key == nullptr) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("backup {} is encrypted and there is no master key", o.info.label));
  }
  // An incremental backup: every ancestor down to the full backup, each enumerated and
  // checked as this one was, and each file's versions found before anything is written.
  const bool incremental = o.info.type == backup::BackupType::kIncremental;
  std::optional<ChainFiles> chain;
  if (incremental) {
    PGM_ASSIGN_OR_RETURN(ChainFiles loaded, ChainFiles::load(o.backup_dir, o.info, o.key));
    chain.emplace(std::move(loaded));
  }
  Rebuilt rebuilt;
  std::optional<incremental::BlockMap> block_map;
  if (incremental) {
    auto map = incremental::BlockMap::read(o.backup_dir + "/" + incremental::kBlockMapFile);
    if (map) {
      block_map = std::move(*map);
      rebuilt.map = &*block_map;
    } else if (map.error().code() != ErrorCode::kNotFound) {
      return tl::unexpected(map.error());
    }
  }

  std::string pg_wal = o.target_dir + "/pg_wal";
  WalPlan wal;
  if (o.copy_wal) {
    PGM_ASSIGN_OR_RETURN(wal, plan_wal(o, pg_wal));
  }

  // Free space: the restored size (pgmoneta's RESTORE may be the stored size: take the larger)
  // plus the WAL, plus 1 % for file system overhead.
  uint64_t data_bytes = std::max(o.info.restore_size, files.stored_bytes);
  uint64_t need = data_bytes + wal.bytes;
  need += need / 100;
  uint64_t have =
      io::filesystem_space(io::parent_directory(o.target_dir)).value_or(io::FilesystemSpace{}).free;
  if (have < need) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("not enough free space for {}: it needs {} ({} of data, {} of "
                                  "WAL), the file system has {} free",
                                  o.target_dir, human_bytes(need), human_bytes(data_bytes),
                                  human_bytes(wal.bytes), human_bytes(have)));
  }

  PGM_ASSIGN_OR_RETURN(bool existed, prepare_target(o.target_dir));
  auto fail = [&](const Error& e) -> Result<RestoreResult> {
    remove_created(o.target_dir, existed, result.tablespace_dirs);
    return tl::unexpected(e);
  };
  // Marked as ours until pg_control is in place: a re-run after a kill -9 clears it.
  const std::string marker = o.target_dir + "/" + kRestoreMarker;
  if (auto r = io::write_file_atomic(marker, fmt::format("pid={}\n", ::getpid()), 0600); !r) {
    return fail(r.error());
  }

  // Directories; pg_tblspc/<oid> becomes a link to the tablespace's own directory.
  for (const std::string& dir : files.directories) {
    std::string path = o.target_dir + "/" + dir;
    const TablespaceLink* link = nullptr;
    for (const TablespaceLink& t : files.tablespaces) {
      if (dir == "pg_tblspc/" + t.oid) {
        link = &t;
      }
    }
    if (link != nullptr) {
      std::string name = link->name.empty() ? "tblspc_" + link->oid : link->name;
      std::string ts = o.tablespace_dir ? o.tablespace_dir(link->oid, name)
                                        : tablespace_directory(o.target_dir, name);
      struct stat st {};
      if (::lstat(ts.c_str(), &st) == 0) {
        return fail(Error(ErrorCode::kInvalidArgument,
                          fmt::format("tablespace directory {} already exists", ts)));
      }
      if (::mkdir(ts.c_str(), 0700) != 0) {
        return fail(errno_error(fmt::format("mkdir {}", ts), errno));
      }
      result.tablespace_dirs.push_back(ts);
      if (::symlink(ts.c_str(), path.c_str()) != 0) {
        return fail(errno_error(fmt::format("symlink {}", path), errno));
      }
      continue;
    }
    if (auto r = make_directory(path); !r) {
      return fail(r.error());
    }
  }
  if (auto r = make_directory(pg_wal); !r) {
    return fail(r.error());
  }

  // Data files, largest first so the pool ends evenly; pg_control is held back.
  std::vector<Job> jobs;
  std::optional<Job> pg_control;
  // Each file's strings move into its job (the list is dropped below): one copy of them.
  jobs.reserve(files.files.size());
  for (BackupFile& f : files.files) {
    Job job;
    job.format = f.plain ? StoredFormat{} : files.format;
    job.destination = o.target_dir + "/" + f.manifest_path;
    job.size_hint = f.stored_size;
    if (incremental) {
      if (auto whole = incremental::strip_incremental(f.manifest_path)) {
        auto sources = chain->sources(f, files.format, *whole);
        if (!sources) {
          return fail(sources.error());
        }
        job.chain = std::move(*sources);
        job.manifest_path = *whole;
        job.destination = o.target_dir + "/" + *whole;
        job.label = *whole;
        job.rebuilt = &rebuilt;
        job.size_hint = UINT64_MAX / 2;  // rebuilds read several files: start them first
      }
    }
    job.source = std::move(f.stored_path);
    job.sha512 = std::move(f.sha512);
    job.stored_sha512 = std::move(f.stored_sha512);
    const bool control = f.manifest_path == kPgControl;
    if (job.label.empty()) {
      job.label = std::move(f.manifest_path);
    }
    if (control) {
      job.destination = o.target_dir + "/global/pg_control.pgmoneta.tmp";
      pg_control = std::move(job);
      continue;
    }
    if (o.reuse) {
      // f's strings have moved into the job: its label is the manifest path when not rebuilt.
      const std::string& path = job.chain.empty() ? job.label : job.manifest_path;
      if (o.reuse(path, job.chain.empty() ? job.sha512 : std::string(), job.destination)) {
        struct stat st {};
        result.reused_files++;
        result.reused_bytes +=
            ::stat(job.destination.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
        continue;
      }
    }
    jobs.push_back(std::move(job));
  }
  std::vector<BackupFile>().swap(files.files);
  if (!pg_control) {
    return fail(Error(ErrorCode::kCorruption,
                      fmt::format("backup {} has no global/pg_control", o.info.label)));
  }
  // In place (a stable sort would take a buffer of as many jobs); labels break the ties.
  std::sort(jobs.begin(), jobs.end(), [](const Job& a, const Job& b) {
    return a.size_hint != b.size_hint ? a.size_hint > b.size_hint : a.label < b.label;
  });

  uint64_t total = data_bytes + wal.bytes;
  std::atomic<uint64_t> done{0};
  std::atomic<int64_t> last_report_ms{0};
  auto advance = [&](uint64_t n) {
    uint64_t now_done = done.fetch_add(n) + n;
    if (!o.on_progress) {
      return;
    }
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count();
    int64_t last = last_report_ms.load(std::memory_order_relaxed);
    if (now_ms - last >= 200 && last_report_ms.compare_exchange_strong(last, now_ms)) {
      o.on_progress(now_done, std::max(total, now_done));
    }
  };

  auto data_written = run_jobs(jobs, o.workers, o.key, o.verify, advance);
  if (!data_written) {
    return fail(data_written.error());
  }
  result.files = jobs.size() + 1;  // pg_control too; reused files are not counted
  result.bytes = *data_written;

  if (incremental) {
    // PostgreSQL's manifest of the restored backup describes every whole file: the rebuilt
    // ones must match it exactly before PostgreSQL may start on them.
    auto manifest = io::read_file(o.target_dir + "/backup_manifest");
    if (!manifest) {
      return fail(manifest.error());
    }
    auto mismatches = backup::compare_with_postgres_manifest(rebuilt.entries, *manifest);
    if (!mismatches) {
      return fail(mismatches.error());
    }
    std::erase_if(*mismatches, [&rebuilt](const backup::ManifestMismatch& m) {
      return m.kind == backup::ManifestMismatch::Kind::kMissingInOurs ||
             (m.kind == backup::ManifestMismatch::Kind::kMissingInPostgres &&
              rebuilt.checked_by_map.contains(m.path));
    });
    if (!mismatches->empty()) {
      const backup::ManifestMismatch& m = mismatches->front();
      return fail(Error(
          ErrorCode::kCorruption,
          fmt::format("backup {}: {} rebuilt file(s) differ from PostgreSQL's backup_manifest, "
                      "first: {} ({})",
                      o.info.label, mismatches->size(), m.path,
                      m.kind == backup::ManifestMismatch::Kind::kMissingInPostgres
                          ? "not in the manifest"
                          : "checksum differs")));
    }
    // PostgreSQL's own incrementals list INCREMENTAL files: the directory gets a manifest of
    // what it holds now, as pg_combinebackup writes one.
    if (lists_incremental_files(*manifest)) {
      auto rewritten = manifest_for_rebuilt(*manifest, rebuilt.files);
      if (!rewritten) {
        return fail(rewritten.error());
      }
      if (auto w = io::write_file_atomic(o.target_dir + "/backup_manifest", *rewritten, 0600); !w) {
        return fail(w.error());
      }
    }
    // PostgreSQL refuses a data directory whose backup_label has INCREMENTAL FROM lines.
    const std::string label_path = o.target_dir + "/backup_label";
    auto label = io::read_file(label_path);
    if (!label) {
      return fail(label.error());
    }
    if (auto r = io::write_file_atomic(label_path, strip_incremental_from(*label), 0600); !r) {
      return fail(r.error());
    }
    log::info("restore of {}: {} file(s) rebuilt from a chain of {} backup(s)", o.info.label,
              rebuilt.entries.size(), chain->size() + 1);
  }

  // WAL after the data, so segments replace the backup's own copies (which hold less).
  if (!wal.jobs.empty()) {
    auto wal_written = run_jobs(wal.jobs, o.workers, o.key, false, advance);
    if (!wal_written) {
      return fail(wal_written.error());
    }
    result.wal_files = wal.jobs.size();
    result.bytes += *wal_written;
  }

  if (o.configure) {
    if (auto r = o.configure(o.target_dir); !r) {
      return fail(r.error());
    }
  }

  // Everything durable, then pg_control: its presence says the restore is complete.
  std::vector<Job> last{*pg_control};
  auto control_written = run_jobs(last, 1, o.key, o.verify, advance);
  if (!control_written) {
    return fail(control_written.error());
  }
  if (auto r = io::sync_filesystem(o.target_dir); !r) {
    return fail(r.error());
  }
  std::string control = o.target_dir + "/" + kPgControl;
  if (::rename(pg_control->destination.c_str(), control.c_str()) != 0) {
    return fail(errno_error(fmt::format("rename {}", control), errno));
  }
  if (auto r = io::fsync_directory(o.target_dir + "/global"); !r) {
    return fail(r.error());
  }
  if (::unlink(marker.c_str()) != 0) {
    return fail(errno_error(fmt::format("remove {}", marker), errno));
  }
  if (auto r = io::fsync_directory(o.target_dir); !r) {
    return fail(r.error());
  }
  if (auto r = io::fsync_directory(io::parent_directory(o.target_dir)); !r) {
    return fail(r.error());
  }
  result.bytes += *control_written;
  if (o.on_progress) {
    o.on_progress(done.load(), std::max(total, done.load()));
  }
  result.elapsed = std::chrono::steady_clock::now() - started;
  return result;
}

}  // namespace pgm::restore
