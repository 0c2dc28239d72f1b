#include "pgm/backup/full_backup.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <system_error>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/base_backup.h"
#include "pgm/backup/catalog_files.h"
#include "pgm/backup/crc32c.h"
#include "pgm/backup/delta_file.h"
#include "pgm/backup/link.h"
#include "pgm/backup/manifest_index.h"
#include "pgm/backup/repository.h"
#include "pgm/backup/store.h"
#include "pgm/backup/tar.h"
#include "pgm/compress/stream.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"
#include "pgm/incremental/format.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/wal/lsn.h"
#include "pgm/wal/segment.h"

namespace pgm::backup {

namespace {

using Clock = std::chrono::steady_clock;

struct Tablespace {
  uint32_t oid = 0;
  std::string name;  // spcname
  std::string location;
};

struct ServerFacts {
  int version = 0;
  uint64_t segment_size = 16u << 20;
  uint64_t total_estimate = 0;
  bool summarize_wal = false;  // PostgreSQL 17+: WAL summaries, for native incrementals
  std::vector<Tablespace> tablespaces;
};

Result<ServerFacts> read_server_facts(const pg::ConnectParams& params) {
  pg::ConnectParams p = params;
  p.replication = false;
  PGM_ASSIGN_OR_RETURN(pg::Connection conn, pg::Connection::connect(p));
  ServerFacts facts;
  facts.version = conn.server_version();
  PGM_ASSIGN_OR_RETURN(
      pg::QueryResult ts,
      conn.query("SELECT oid, spcname, pg_tablespace_location(oid) FROM pg_tablespace "
                 "WHERE spcname NOT IN ('pg_default', 'pg_global') ORDER BY oid"));
  for (int i = 0; i < ts.rows(); ++i) {
    Tablespace t;
    t.oid = static_cast<uint32_t>(std::stoul(std::string(ts.value(i, 0))));
    t.name = std::string(ts.value(i, 1));
    t.location = std::string(ts.value(i, 2));
    facts.tablespaces.push_back(std::move(t));
  }
  if (facts.version >= 170000) {
    auto summarize = conn.query("SHOW summarize_wal");
    facts.summarize_wal = summarize && summarize->rows() == 1 && summarize->value(0, 0) == "on";
  }
  auto seg = conn.query("SELECT setting FROM pg_settings WHERE name = 'wal_segment_size'");
  if (seg && seg->rows() == 1) {
    facts.segment_size = std::stoull(std::string(seg->value(0, 0)));
  }
  // The estimate needs CREATE on each tablespace or pg_read_all_stats; progress just shows no
  // percentage without it.
  auto size = conn.query("SELECT COALESCE(sum(pg_tablespace_size(oid)), 0) FROM pg_tablespace");
  if (size && size->rows() == 1) {
    facts.total_estimate = std::stoull(std::string(size->value(0, 0)));
  }
  return facts;
}

// Where one archive's members go.
struct ArchiveTarget {
  std::string stored_prefix;    // "data/" or "tblspc_<name>/"
  std::string manifest_prefix;  // "" or "pg_tblspc/<oid>/"
  bool base = false;
};

// What an incremental backup's archives share: the parent and the outcome of every file
// stored as a block delta.
struct DeltaContext {
  const FullBackupOptions* options = nullptr;
  // PostgreSQL 17+ sends INCREMENTAL files itself (BASE_BACKUP INCREMENTAL); else block delta.
  bool native = false;
  std::vector<DeltaOutcome> outcomes;
  uint64_t file_bytes = 0;  // of every file the server sent (progress: an incremental stores less)
  bool incremental() const { return options->parent_map != nullptr; }
  bool block_delta() const { return incremental() && !native; }
};

// An INCREMENTAL file the server sent (native incremental): stored as it is; its header and
// blocks are read on the way to extend the parent's logical block map.
class NativeIncremental {
 public:
  NativeIncremental(std::string manifest_path, std::string whole)
      : manifest_path_(std::move(manifest_path)),
        whole_(std::move(whole)),
        header_(manifest_path_) {}

  Result<void> data(std::span<const uint8_t> bytes) {
    if (!header_.done()) {
      PGM_ASSIGN_OR_RETURN(size_t taken, header_.feed(bytes));
      bytes = bytes.subspan(taken);
    }
    blocks_.update(bytes);
    size_ += bytes.size();
    return {};
  }

  // The whole file's logical hashes: the parent's, with the blocks this file holds.
  Result<DeltaOutcome> finish(const incremental::BlockMap& parent_map) {
    if (!header_.done()) {
      return make_error(
          ErrorCode::kProtocol,
          fmt::format("{}: the server sent an incomplete INCREMENTAL header", manifest_path_));
    }
    const incremental::Header& header = header_.header();
    PGM_TRY(incremental::check_file_size(header, header.size() + size_, manifest_path_));
    const auto* entry = parent_map.find(whole_);
    if (entry == nullptr) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("{}: the server sent it as incremental, but the parent's block "
                                    "map has no {}",
                                    manifest_path_, whole_));
    }
    DeltaOutcome out;
    out.manifest_path = whole_;
    out.incremental = true;
    out.changed_blocks = static_cast<uint32_t>(header.blocks.size());
    const std::vector<incremental::BlockHash> changed = blocks_.finish();
    out.block_hashes = incremental::merge_logical(parent_map.hashes(*entry), header, changed);
    out.size = uint64_t{header.reconstructed_length()} * incremental::kBlockSize;
    return out;
  }

 private:
  std::string manifest_path_;
  std::string whole_;
  incremental::HeaderReader header_;
  incremental::BlockHasher blocks_;
  uint64_t size_ = 0;  // bytes after the header
};

// The lines PostgreSQL 17 puts in an incremental backup's backup_label (restore strips them).
std::string incremental_label_lines(const BackupInfo& parent) {
  return fmt::format("INCREMENTAL FROM LSN: {}\nINCREMENTAL FROM TLI: {}\n",
                     format_lsn(parent.start_lsn), parent.start_timeline);
}

class ArchiveSink : public TarSink {
 public:
  ArchiveSink(const std::string& dir, FileStore& store, ArchiveTarget target,
              const std::vector<Tablespace>& tablespaces, std::string& backup_label,
              DeltaContext& delta)
      : dir_(dir),
        store_(store),
        target_(std::move(target)),
        tablespaces_(tablespaces),
        backup_label_(backup_label),
        delta_(delta) {}

  Result<void> begin(const TarEntry& e) override {
    std::string stored = target_.stored_prefix + e.path;
    switch (e.type) {
      case TarType::kDirectory:
        return io::make_directories(dir_ + "/" + stored, 0700);
      case TarType::kFile: {
        bool plain = target_.base && (e.path == "backup_label" || e.path == "tablespace_map");
        capture_ = target_.base && e.path == "backup_label";
        in_file_ = true;
        std::string manifest_path = target_.manifest_prefix + e.path;
        if (delta_.native) {
          if (auto whole = incremental::strip_incremental(manifest_path)) {
            native_.emplace(manifest_path, std::move(*whole));
          }
        }
        if (delta_.block_delta() && incremental::incremental_candidate(manifest_path, e.size)) {
          if (const auto* entry = delta_.options->parent_map->find(manifest_path)) {
            PGM_ASSIGN_OR_RETURN(
                delta_file_,
                DeltaFile::create(store_, stored, manifest_path, e.size,
                                  delta_.options->parent_map->hashes(*entry),
                                  delta_.options->backup_dir, delta_.options->crc32c_manifest));
            return {};
          }
        }
        return store_.begin_file(stored, std::move(manifest_path), plain);
      }
      case TarType::kSymlink:
        return symlink(e, stored);
      case TarType::kHardlink:
      case TarType::kOther:
        log::warn("backup: skipping special member {} of the base backup stream", e.path);
        return {};
    }
    return {};
  }

  Result<void> data(std::span<const uint8_t> bytes) override {
    if (capture_ && backup_label_.size() < 65536) {
      backup_label_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
    delta_.file_bytes += bytes.size();
    if (delta_file_) {
      return delta_file_->write(bytes);
    }
    if (native_) {
      PGM_TRY(native_->data(bytes));
    }
    return store_.write(bytes);
  }

  Result<void> end() override {
    if (!in_file_) {
      return {};
    }
    in_file_ = false;
    if (delta_file_) {
      PGM_ASSIGN_OR_RETURN(DeltaOutcome outcome, delta_file_->finish());
      delta_file_.reset();
      delta_.outcomes.push_back(std::move(outcome));
      return {};
    }
    if (native_) {
      PGM_ASSIGN_OR_RETURN(DeltaOutcome outcome, native_->finish(*delta_.options->parent_map));
      native_.reset();
      delta_.outcomes.push_back(std::move(outcome));
    }
    if (capture_ && delta_.block_delta()) {
      const std::string lines = incremental_label_lines(*delta_.options->parent);
      PGM_TRY(store_.write({reinterpret_cast<const uint8_t*>(lines.data()), lines.size()}));
    }
    capture_ = false;
    return store_.end_file();
  }

 private:
  Result<void> symlink(const TarEntry& e, const std::string& stored) {
    std::string target = e.link_target;
    // pg_tblspc/<oid> points at the tablespace on the server; in the backup it points at
    // tblspc_<name>/ with a relative link, so the repository can be moved.
    if (target_.base && e.path.rfind("pg_tblspc/", 0) == 0) {
      std::string oid = e.path.substr(10);
      for (const Tablespace& t : tablespaces_) {
        if (std::to_string(t.oid) == oid) {
          target = "../../tblspc_" + t.name;
        }
      }
    }
    std::string path = dir_ + "/" + stored;
    PGM_TRY(io::make_directories(io::parent_directory(path), 0700));
    if (::symlink(target.c_str(), path.c_str()) != 0) {
      return make_errno_error(fmt::format("symlink {}", path), errno);
    }
    return {};
  }

  const std::string& dir_;
  FileStore& store_;
  ArchiveTarget target_;
  const std::vector<Tablespace>& tablespaces_;
  std::string& backup_label_;
  DeltaContext& delta_;
  std::unique_ptr<DeltaFile> delta_file_;
  std::optional<NativeIncremental> native_;
  bool in_file_ = false;
  bool capture_ = false;
};

class Consumer : public BaseBackupConsumer {
 public:
  Consumer(const FullBackupOptions& o, FileStore& store, const ServerFacts& facts)
      : o_(o), store_(store), facts_(facts) {
    delta_.options = &o_;
  }

  Result<void> start(const BaseBackupStart& start) override {
    start_ = start;
    phase_ = BackupProgress::Phase::kStreaming;
    report(true);
    return {};
  }

  Result<void> begin_archive(const std::string& name, const std::string& location) override {
    ArchiveTarget target;
    if (location.empty()) {
      target.stored_prefix = "data/";
      target.base = true;
    } else {
      const Tablespace* found = nullptr;
      for (const Tablespace& t : facts_.tablespaces) {
        if (t.location == location) {
          found = &t;
        }
      }
      if (found == nullptr) {
        return make_error(
            ErrorCode::kProtocol,
            fmt::format("BASE_BACKUP sent archive {} for unknown tablespace {}", name, location));
      }
      target.stored_prefix = "tblspc_" + found->name + "/";
      target.manifest_prefix = fmt::format("pg_tblspc/{}/", found->oid);
      PGM_TRY(io::make_directories(o_.backup_dir + "/tblspc_" + found->name, 0700));
    }
    sink_ = std::make_unique<ArchiveSink>(o_.backup_dir, store_, std::move(target),
                                          facts_.tablespaces, backup_label_, delta_);
    reader_.emplace(*sink_, facts_.version < 150000);
    decompressor_.reset();
    if (o_.server_side) {
      PGM_ASSIGN_OR_RETURN(compress::Decompressor d, compress::Decompressor::create(o_.algorithm));
      decompressor_.emplace(std::move(d));
    }
    return {};
  }

  Result<void> archive_data(std::span<const uint8_t> bytes) override {
    if (decompressor_) {
      PGM_TRY(decompressor_->update(
          bytes, [this](std::span<const uint8_t> b) { return reader_->feed(b); }));
    } else {
      PGM_TRY(reader_->feed(bytes));
    }
    report(false);
    return {};
  }

  Result<void> end_archive() override {
    if (decompressor_) {
      PGM_TRY(
          decompressor_->finish([this](std::span<const uint8_t> b) { return reader_->feed(b); }));
    }
    PGM_TRY(reader_->finish());
    reader_.reset();
    sink_.reset();
    return {};
  }

  Result<void> manifest_data(std::span<const uint8_t> bytes) override {
    if (!manifest_open_) {
      PGM_TRY(store_.begin_file("data/backup_manifest", "backup_manifest", true));
      manifest_open_ = true;
    }
    return store_.write(bytes);
  }

  Result<void> close_manifest() {
    if (!manifest_open_) {
      return make_error(ErrorCode::kProtocol, "BASE_BACKUP sent no backup manifest");
    }
    manifest_open_ = false;
    return store_.end_file();
  }

  void set_phase(BackupProgress::Phase phase) {
    phase_ = phase;
    report(true);
  }

  const BaseBackupStart& start_info() const { return start_; }
  const std::string& backup_label() const { return backup_label_; }
  std::vector<DeltaOutcome>& outcomes() { return delta_.outcomes; }
  void set_native(bool native) { delta_.native = native; }

 private:
  void report(bool force) {
    if (!o_.on_progress) {
      return;
    }
    auto now = Clock::now();
    if (!force && now - last_report_ < std::chrono::milliseconds(250)) {
      return;
    }
    last_report_ = now;
    BackupProgress p;
    p.phase = phase_;
    p.done = std::max(store_.bytes_in(), delta_.file_bytes);
    p.total = std::max(facts_.total_estimate, p.done);
    o_.on_progress(p);
  }

  const FullBackupOptions& o_;
  FileStore& store_;
  const ServerFacts& facts_;
  BaseBackupStart start_;
  std::unique_ptr<ArchiveSink> sink_;
  std::optional<TarReader> reader_;
  std::optional<compress::Decompressor> decompressor_;
  bool manifest_open_ = false;
  std::string backup_label_;
  DeltaContext delta_;
  BackupProgress::Phase phase_ = BackupProgress::Phase::kStarting;
  Clock::time_point last_report_{};
};

// "CHECKPOINT LOCATION: 0/2000060" of backup_label.
uint64_t checkpoint_from_label(const std::string& label) {
  const std::string key = "CHECKPOINT LOCATION: ";
  size_t at = label.find(key);
  if (at == std::string::npos) {
    return 0;
  }
  size_t end = label.find('\n', at);
  std::string value =
      label.substr(at + key.size(), end == std::string::npos ? end : end - at - key.size());
  return parse_lsn(value).value_or(0);
}

// backup_label's checksums as PostgreSQL's manifest has them (the label as the server sent it).
struct LabelChecksums {
  crypto::Sha512Digest sha512{};
  std::optional<uint32_t> crc32c;
};
LabelChecksums label_checksums(const std::string& label, bool crc32c) {
  LabelChecksums c;
  if (auto sha = crypto::Sha512::create()) {
    sha->update(label);
    c.sha512 = sha->final();
  }
  if (crc32c) {
    c.crc32c = crc32c_final(crc32c_update(kCrc32cInit, crypto::bytes_of(label)));
  }
  return c;
}

bool same_inode(const std::string& a, const std::string& b) {
  struct stat sa {};
  struct stat sb {};
  return ::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0 && sa.st_dev == sb.st_dev &&
         sa.st_ino == sb.st_ino;
}

void set_compression_elapsed(BackupInfo& info, compress::Algorithm a, Seconds s) {
  switch (a) {
    case compress::Algorithm::kZstd:
      info.compression_zstd_elapsed = s;
      break;
    case compress::Algorithm::kGzip:
      info.compression_gzip_elapsed = s;
      break;
    case compress::Algorithm::kLz4:
      info.compression_lz4_elapsed = s;
      break;
    case compress::Algorithm::kBzip2:
      info.compression_bzip2_elapsed = s;
      break;
    case compress::Algorithm::kNone:
      break;
  }
}

Result<FullBackupResult> perform(const FullBackupOptions& o) {
  auto started = Clock::now();
  if (o.on_progress) {
    o.on_progress(BackupProgress{});
  }
  PGM_ASSIGN_OR_RETURN(ServerFacts facts, read_server_facts(o.connection));
  const bool incremental = o.parent_map != nullptr;
  // PostgreSQL 17+ with WAL summaries sends only the changed blocks itself; otherwise (and
  // when it refused: see run_full_backup) we compare every block (block delta).
  bool native = false;
  if (incremental) {
    if (o.parent->major_version != facts.version / 10000) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("parent {} was taken from PostgreSQL {}, the server runs {}", o.parent->label,
                      o.parent->major_version, facts.version / 10000));
    }
    native = o.allow_native && facts.version >= 170000 && facts.summarize_wal;
  }

  StoreOptions so;
  so.algorithm = o.algorithm;
  so.level = o.level;
  so.encryption = o.encryption;
  so.key = o.key;
  so.workers = std::max(1, o.workers);
  so.crc32c = o.crc32c_manifest;
  so.block_hashes = true;  // the block map an incremental child compares against
  // Files unchanged since the previous backup are hardlinked as they arrive instead of being
  // compressed and written, then replaced by link_unchanged (which still handles the rest).
  std::optional<IdenticalFiles> identical;
  if (!o.previous_dir.empty()) {
    identical.emplace(IdenticalFiles::load(o.previous_dir, o.compression_type,
                                           static_cast<uint8_t>(o.encryption)));
    if (identical->size() > 0) {
      so.identical = [&identical](std::string_view path, const crypto::Sha512Digest& sha512) {
        return identical->find(path, sha512);
      };
    }
  }
  PGM_ASSIGN_OR_RETURN(std::unique_ptr<FileStore> store, FileStore::create(o.backup_dir, so));

  pg::ConnectParams rp = o.connection;
  rp.replication = true;
  PGM_ASSIGN_OR_RETURN(pg::Connection repl, pg::Connection::connect(rp));
  BaseBackupOptions bo;
  bo.label = "pgmoneta_" + o.label;
  bo.max_rate_kb = o.max_rate / 1024;
  if (o.max_rate != 0 && bo.max_rate_kb == 0) {
    bo.max_rate_kb = 1;
  }
  bo.crc32c_manifest = o.crc32c_manifest;
  if (o.server_side) {
    bo.server_compression = o.algorithm;
    bo.server_level = o.level;
  }
  bo.incremental = native;
  if (native) {
    // The parent's manifest exactly as the server wrote it (its checksum is checked).
    PGM_ASSIGN_OR_RETURN(std::string parent_manifest,
                         io::read_file(o.parent_dir + "/data/backup_manifest"));
    PGM_TRY(upload_manifest(repl, parent_manifest));
  }
  PGM_ASSIGN_OR_RETURN(std::string command, base_backup_command(repl.server_version(), bo));
  log::debug("backup {}: {}", o.label, command);

  Consumer consumer(o, *store, facts);
  consumer.set_native(native);
  auto bb_started = Clock::now();
  PGM_ASSIGN_OR_RETURN(BaseBackupEnd end, run_base_backup(repl, command, consumer));
  PGM_TRY(consumer.close_manifest());
  repl.close();
  consumer.set_phase(BackupProgress::Phase::kFinishing);
  PGM_ASSIGN_OR_RETURN(const StoredFileList files, store->finish());
  identical.reset();  // no more lookups; its memory goes back before the manifests load
  uint64_t linked_while_streaming = 0;
  uint64_t linked_bytes_while_streaming = 0;
  for (size_t i = 0; i < files.size(); ++i) {
    if (files.linked(i)) {
      ++linked_while_streaming;
      linked_bytes_while_streaming += files.stored_size(i);
    }
  }
  Seconds basebackup_elapsed = Clock::now() - bb_started;

  // PostgreSQL's manifest against our hashes. It lists neither itself nor the WAL streamed
  // into pg_wal (it has WAL-Ranges for that).
  auto manifest_started = Clock::now();
  // Views of `files` and of the outcomes; a full backup's are in path order, compared in place.
  std::vector<ManifestDigestRef> ours;
  ours.reserve(files.size() + consumer.outcomes().size());
  // A native incremental is checked file for file (the server's manifest lists its
  // INCREMENTAL files and its backup_label as sent); a block delta as the whole files.
  const bool block_delta = incremental && !native;
  LabelChecksums sent_label;  // PostgreSQL's manifest has the label without our INCREMENTAL lines
  if (block_delta) {
    sent_label = label_checksums(consumer.backup_label(), o.crc32c_manifest);
  }
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string_view name = files.manifest_path(i);
    if (name == "backup_manifest" || (block_delta && incremental::strip_incremental(name))) {
      continue;  // an INCREMENTAL file is checked as the whole file it stands for, below
    }
    if (block_delta && name == "backup_label") {
      ours.push_back({name, &sent_label.sha512, sent_label.crc32c});
      continue;
    }
    ours.push_back({name, &files.sha512(i), files.crc32c(i)});
  }
  for (const DeltaOutcome& d : consumer.outcomes()) {
    if (d.incremental && block_delta) {
      ours.push_back({d.manifest_path, &d.sha512, d.crc32c});
    }
  }
  // Read back from the stored copy, as a stream: the manifest is never held in memory.
  PGM_ASSIGN_OR_RETURN(
      std::vector<ManifestMismatch> mismatches,
      compare_with_postgres_manifest_file(ours, o.backup_dir + "/data/backup_manifest"));
  std::vector<ManifestDigestRef>().swap(ours);
  // WAL segments streamed into pg_wal are covered by the manifest's WAL-Ranges, not listed.
  std::erase_if(mismatches, [](const ManifestMismatch& m) {
    return m.kind == ManifestMismatch::Kind::kMissingInPostgres && m.path.rfind("pg_wal/", 0) == 0;
  });
  if (!mismatches.empty()) {
    const ManifestMismatch& m = mismatches.front();
    std::string what = m.kind == ManifestMismatch::Kind::kMissingInOurs ? "missing here"
                       : m.kind == ManifestMismatch::Kind::kMissingInPostgres
                           ? "not in PostgreSQL's manifest"
                           : "checksum differs";
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup_manifest check failed for {} file(s); first: {} ({})",
                                  mismatches.size(), m.path, what));
  }
  PGM_ASSIGN_OR_RETURN(const std::string manifest_sha512,
                       write_backup_manifest(o.backup_dir + "/backup.manifest", files));
  Seconds manifest_elapsed = Clock::now() - manifest_started;

  // The new backup's logical map: whole files as stored, delta files as the whole file.
  FullBackupResult result;
  std::vector<std::string> incremental_names;  // INCREMENTAL.<name> of the delta files
  for (DeltaOutcome& d : consumer.outcomes()) {
    if (d.incremental) {
      incremental_names.push_back(incremental::incremental_path(d.manifest_path));
      ++result.incremental_files;
      result.changed_blocks += d.changed_blocks;
    }
  }
  std::sort(incremental_names.begin(), incremental_names.end());
  PGM_ASSIGN_OR_RETURN(
      const std::string block_map_sha512,
      write_block_map(o.backup_dir + "/" + incremental::kBlockMapFile, files, consumer.outcomes()));
  for (DeltaOutcome& d : consumer.outcomes()) {
    std::vector<incremental::BlockHash>().swap(d.block_hashes);
  }

  BackupInfo info;
  info.pgmoneta_version = o.version;
  info.valid = false;
  info.label = o.label;
  const BaseBackupStart& start = consumer.start_info();
  info.wal = wal::segment_name(wal::TimelineId(start.timeline), wal::Lsn(start.start_lsn),
                               facts.segment_size);
  // An INCREMENTAL file restores as the whole file it stands for.
  for (size_t i = 0; i < files.size(); ++i) {
    info.backup_size += files.stored_size(i);
    if (!std::binary_search(incremental_names.begin(), incremental_names.end(),
                            files.manifest_path(i))) {
      info.restore_size += files.file_size(i);
      info.biggest_file_size = std::max(info.biggest_file_size, files.file_size(i));
    }
  }
  for (const DeltaOutcome& d : consumer.outcomes()) {
    if (d.incremental) {
      info.restore_size += d.size;
      info.biggest_file_size = std::max(info.biggest_file_size, d.size);
    }
  }
  info.basebackup_elapsed = basebackup_elapsed;
  info.hash_elapsed = store->timings().hash;
  set_compression_elapsed(info, o.algorithm, store->timings().compression);
  info.encryption_elapsed = store->timings().encryption;
  info.manifest_elapsed = manifest_elapsed;
  info.major_version = facts.version / 10000;
  info.minor_version = facts.version % 10000;
  info.compression = o.compression_type;
  info.encryption = static_cast<uint8_t>(o.encryption);
  for (const Tablespace& t : facts.tablespaces) {
    info.tablespaces.push_back({"tblspc_" + t.name, std::to_string(t.oid), t.location});
  }
  info.start_lsn = start.start_lsn;
  info.end_lsn = end.end_lsn;
  info.checkpoint_lsn = checkpoint_from_label(consumer.backup_label());
  info.start_timeline = start.timeline;
  info.end_timeline = end.timeline;
  info.type = incremental ? BackupType::kIncremental : BackupType::kFull;
  if (incremental) {
    info.parent = o.parent->label;
  }
  // A first backup.info with STATUS=0: from here on, a crash leaves a backup marked invalid.
  PGM_TRY(io::write_file_atomic(o.backup_dir + "/backup.info", format_backup_info(info), 0600));

  std::map<std::string, std::string> previous_hashes;  // of the files link_unchanged linked
  if (!o.previous_dir.empty()) {
    auto link_started = Clock::now();
    auto linked = link_unchanged(o.previous_dir, o.backup_dir);
    result.linked_files = linked_while_streaming;
    result.linked_bytes = linked_bytes_while_streaming;
    if (!linked) {
      // Linking only saves space; the backup is complete without it.
      log::warn("backup {}: linking with {} failed: {}", o.label, o.previous_dir,
                linked.error().message());
    } else {
      result.linked_files += linked->files_linked;
      result.linked_bytes += linked->bytes_saved;
    }
    // Files linked while streaming already carry the previous backup's stored hash; only those
    // link_unchanged replaced need its backup.sha512 lines.
    if (linked && !linked->linked.empty()) {
      previous_hashes = previous_stored_hashes(o.previous_dir, linked->linked);
    }
    info.linking_elapsed = Clock::now() - link_started;
    info.backup_size -= std::min(info.backup_size, result.linked_bytes);
  }

  auto sync_started = Clock::now();
  PGM_TRY(io::sync_filesystem(o.backup_dir));
  result.sync_elapsed = Clock::now() - sync_started;

  PGM_ASSIGN_OR_RETURN(HashedFile sha, HashedFile::create(o.backup_dir + "/backup.sha512"));
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string stored = files.stored_path(i);
    PGM_ASSIGN_OR_RETURN(const crypto::Sha512Digest stored_digest, files.stored_sha512(i));
    std::string hex = crypto::Sha512::hex(stored_digest);
    if (!previous_hashes.empty()) {
      auto it = previous_hashes.find(stored);
      if (it != previous_hashes.end() &&
          same_inode(o.backup_dir + "/" + stored, o.previous_dir + "/" + stored)) {
        hex = it->second;
      }
    }
    PGM_TRY(sha.append(hex));
    PGM_TRY(sha.append(" *./"));
    PGM_TRY(sha.append(stored));
    PGM_TRY(sha.append("\n"));
  }
  PGM_TRY(sha.append(format_sha512_line({"backup.manifest", manifest_sha512})));
  PGM_TRY(sha.append(format_sha512_line({incremental::kBlockMapFile, block_map_sha512})));
  info.valid = true;
  info.elapsed = Clock::now() - started;
  std::string info_text = format_backup_info(info);
  {
    PGM_ASSIGN_OR_RETURN(crypto::Sha512 h, crypto::Sha512::create());
    h.update(info_text);
    PGM_TRY(sha.append(format_sha512_line({"backup.info", crypto::Sha512::hex(h.final())})));
  }
  PGM_TRY(sha.commit());
  // Last: the backup becomes valid.
  PGM_TRY(io::write_file_atomic(o.backup_dir + "/backup.info", info_text, 0600));
  result.native_incremental = native;
  result.info = std::move(info);
  return result;
}

}  // namespace

namespace {

Result<FullBackupResult> attempt(const FullBackupOptions& o) {
  if (::mkdir(o.backup_dir.c_str(), 0700) != 0) {
    return make_errno_error(fmt::format("create {}", o.backup_dir), errno);
  }
  PGM_TRY(io::make_directories(o.backup_dir + "/data", 0700));
  PGM_TRY(io::fsync_directory(io::parent_directory(o.backup_dir)));
  Result<FullBackupResult> r = perform(o);
  if (!r) {
    Result<void> removed = remove_backup_directory(o.backup_dir);
    if (!removed) {
      log::error("backup {}: could not remove the failed backup: {}", o.label,
                 removed.error().message());
    }
  }
  return r;
}

}  // namespace

Result<FullBackupResult> run_full_backup(const FullBackupOptions& o) {
  Result<FullBackupResult> r = attempt(o);
  // PostgreSQL refuses a native incremental when its WAL summaries do not reach back to the
  // parent's start (summarize_wal turned on later, summaries removed): a block delta needs none.
  if (!r && o.parent_map != nullptr && o.allow_native && r.error().code() == ErrorCode::kServer &&
      (r.error().message().find("WAL summar") != std::string::npos ||
       r.error().message().find("summarize_wal") != std::string::npos)) {
    log::warn(
        "backup {}: PostgreSQL cannot take it incrementally ({}); comparing every block instead",
        o.label, r.error().message());
    FullBackupOptions again = o;
    again.allow_native = false;
    return attempt(again);
  }
  return r;
}

}  // namespace pgm::backup
