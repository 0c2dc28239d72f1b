#include "pgm/daemon/commands/backup_json.h"

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace pgm::daemon {

using nlohmann::json;

json list_entry_json(const std::string& server, const backup::BackupEntry& entry,
                     const backup::WalFigures& wal) {
  const backup::BackupInfo empty;
  const backup::BackupInfo& i = entry.info ? *entry.info : empty;
  json j = json::object();
  j["Backup"] = entry.label;
  j["BackupSize"] = i.backup_size;
  j["BiggestFileSize"] = i.biggest_file_size;
  j["Comments"] = i.comments;
  j["Compression"] = i.compression;
  j["Delta"] = wal.delta;
  j["Encryption"] = i.encryption;
  j["Incremental"] = i.type == backup::BackupType::kIncremental;
  j["IncrementalParent"] = i.parent;
  j["Keep"] = i.keep;
  // Ours, only when a remote engine holds a copy: pgmoneta's entries keep their exact keys.
  if (std::vector<std::string> remote = backup::remote_copies(i); !remote.empty()) {
    j["Remote"] = remote;
  }
  j["RestoreSize"] = i.restore_size;
  j["Server"] = server;
  j["Valid"] = entry.valid();
  j["WAL"] = wal.wal;
  return j;
}

json info_json(const std::string& server, const backup::BackupEntry& entry) {
  json j = json::object();
  j["Server"] = server;
  j["Backup"] = entry.label;
  j["Valid"] = entry.valid();
  if (!entry.info) {
    j["Problem"] = entry.problem;
    return j;
  }
  const backup::BackupInfo& i = *entry.info;
  auto hi = [](uint64_t lsn) { return static_cast<uint32_t>(lsn >> 32); };
  auto lo = [](uint64_t lsn) { return static_cast<uint32_t>(lsn & 0xFFFFFFFFU); };
  j["WAL"] = i.wal;
  j["BackupSize"] = i.backup_size;
  j["RestoreSize"] = i.restore_size;
  j["BiggestFileSize"] = i.biggest_file_size;
  j["Elapsed"] = i.elapsed.count();
  j["BasebackupElapsed"] = i.basebackup_elapsed.count();
  j["HashElapsed"] = i.hash_elapsed.count();
  j["CompressionZstdElapsed"] = i.compression_zstd_elapsed.count();
  j["CompressionGzipElapsed"] = i.compression_gzip_elapsed.count();
  j["CompressionBzip2Elapsed"] = i.compression_bzip2_elapsed.count();
  j["CompressionLz4Elapsed"] = i.compression_lz4_elapsed.count();
  j["EncryptionElapsed"] = i.encryption_elapsed.count();
  j["LinkingElapsed"] = i.linking_elapsed.count();
  j["ManifestElapsed"] = i.manifest_elapsed.count();
  j["RemoteSshElapsed"] = i.remote_ssh_elapsed.count();
  j["RemoteS3Elapsed"] = i.remote_s3_elapsed.count();
  j["RemoteAzureElapsed"] = i.remote_azure_elapsed.count();
  j["PgmonetaVersion"] = i.pgmoneta_version;
  j["MajorVersion"] = i.major_version;
  j["MinorVersion"] = i.minor_version;
  j["Keep"] = i.keep;
  j["NumberOfTablespaces"] = i.tablespaces.size();
  j["Compression"] = i.compression;
  j["Encryption"] = i.encryption;
  j["StartHiLSN"] = hi(i.start_lsn);
  j["StartLoLSN"] = lo(i.start_lsn);
  j["EndHiLSN"] = hi(i.end_lsn);
  j["EndLoLSN"] = lo(i.end_lsn);
  j["CheckpointHiLSN"] = hi(i.checkpoint_lsn);
  j["CheckpointLoLSN"] = lo(i.checkpoint_lsn);
  j["StartTimeline"] = i.start_timeline;
  j["EndTimeline"] = i.end_timeline;
  j["Incremental"] = i.type == backup::BackupType::kIncremental;
  j["IncrementalParent"] = i.parent;
  j["Comments"] = i.comments;
  j["Extra"] = i.extra;
  json spcs = json::array();
  for (const backup::TablespaceInfo& t : i.tablespaces) {
    spcs.push_back(
        {{"TablespaceName", t.name}, {"TablespaceOid", t.oid}, {"TablespacePath", t.path}});
  }
  j["Tablespaces"] = std::move(spcs);
  j["Remote"] = json(backup::remote_copies(i));
  // Proven restores (ours, restore/proven.h), present once a proof ran.
  for (const auto& [k, v] : i.extra_keys) {
    if (k == "PROVEN_RESTORE") {
      j["ProvenRestore"] = v == "1";
    } else if (k == "PROVEN_RESTORE_TIME") {
      j["ProvenRestoreTime"] = v;
    } else if (k == "PROVEN_RESTORE_ELAPSED") {
      j["ProvenRestoreElapsed"] = std::strtod(v.c_str(), nullptr);
    } else if (k == "PROVEN_RESTORE_REASON") {
      j["ProvenRestoreReason"] = v;
    } else if (k.rfind("STORAGE_", 0) == 0) {
      // STORAGE_S3 -> RemoteS3Stored, STORAGE_SSH -> RemoteSshStored (like RemoteSshElapsed)
      std::string name = k.substr(8);
      for (size_t n = 1; n < name.size(); ++n) {
        name[n] = static_cast<char>(std::tolower(static_cast<unsigned char>(name[n])));
      }
      j["Remote" + name + "Stored"] = v;
    }
  }
  return j;
}

}  // namespace pgm::daemon
