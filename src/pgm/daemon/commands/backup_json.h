// The management protocol's JSON for stored backups: list-backup elements and the info answer,
// with pgmoneta's exact keys. Pure functions of a catalog entry; thread-safe.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "pgm/backup/repository.h"

namespace pgm::daemon {

// One list-backup element with exactly pgmoneta's keys: Backup, BackupSize, BiggestFileSize,
// Comments, Compression (backup.info type byte), Delta, Encryption (0-3), Incremental (bool),
// IncrementalParent, Keep (bool), RestoreSize, Server, Valid (bool), WAL. Sizes in bytes from
// backup.info. An entry without info gives Valid false and zero/empty values.
nlohmann::json list_entry_json(const std::string& server, const backup::BackupEntry& entry,
                               const backup::WalFigures& wal = {});

// info: Server, Backup, Valid (bool), WAL (first segment name, a string: never a size),
// BackupSize, RestoreSize, BiggestFileSize, Elapsed, BasebackupElapsed, HashElapsed,
// CompressionZstdElapsed, CompressionGzipElapsed, CompressionBzip2Elapsed,
// CompressionLz4Elapsed, EncryptionElapsed, LinkingElapsed, ManifestElapsed, RemoteSshElapsed,
// RemoteS3Elapsed, RemoteAzureElapsed (seconds, double), PgmonetaVersion, MajorVersion,
// MinorVersion, Keep (bool), NumberOfTablespaces, Compression, Encryption, StartHiLSN,
// StartLoLSN, EndHiLSN, EndLoLSN, CheckpointHiLSN, CheckpointLoLSN (uint32 halves),
// StartTimeline, EndTimeline, Incremental (bool), IncrementalParent, Comments (raw
// "k|v,k|v"), Extra, Tablespaces [{TablespaceName, TablespaceOid, TablespacePath}]; ours, once a
// proven restore ran: ProvenRestore (bool), ProvenRestoreTime (label-style local time),
// ProvenRestoreElapsed (seconds), ProvenRestoreReason. An entry without info gives Server,
// Backup, Valid false and Problem.
nlohmann::json info_json(const std::string& server, const backup::BackupEntry& entry);

}  // namespace pgm::daemon
