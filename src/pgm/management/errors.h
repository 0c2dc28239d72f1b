// Management error codes (Outcome.Error), grouped in hundreds by command family exactly as
// pgmoneta's src/include/management.h (newest; reference §4.2). Constants only; thread-safe.
//
// Our choices, documented here once:
// - A command this build does not implement yet answers kErrorUnknownCommand (2) with a
//   Message saying it is not available; pgmoneta-cli then shows "Error 2".
// - pgmoneta has no reload family; kErrorReloadError (9000) is ours, outside every pgmoneta
//   family so that a future pgmoneta family cannot collide with it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace pgm::management {

inline constexpr int32_t kErrorBadPayload = 1;
inline constexpr int32_t kErrorUnknownCommand = 2;
inline constexpr int32_t kErrorAllocation = 3;

// 1xx backup.
inline constexpr int32_t kErrorBackupInvalid = 100;
inline constexpr int32_t kErrorBackupWal = 101;
inline constexpr int32_t kErrorBackupActive = 102;
inline constexpr int32_t kErrorBackupNoBackups = 103;
inline constexpr int32_t kErrorBackupNoChild = 104;
inline constexpr int32_t kErrorBackupAlreadyChild = 105;
inline constexpr int32_t kErrorBackupSetup = 106;
inline constexpr int32_t kErrorBackupExecute = 107;
inline constexpr int32_t kErrorBackupTeardown = 108;
inline constexpr int32_t kErrorBackupNetwork = 109;
inline constexpr int32_t kErrorBackupOffline = 110;
inline constexpr int32_t kErrorBackupNoServer = 111;
inline constexpr int32_t kErrorBackupNoFork = 112;
inline constexpr int32_t kErrorBackupError = 113;
// 2xx incremental backup.
inline constexpr int32_t kErrorIncrementalSetup = 200;
inline constexpr int32_t kErrorIncrementalExecute = 201;
inline constexpr int32_t kErrorIncrementalTeardown = 202;
// 3xx list-backup.
inline constexpr int32_t kErrorListBackupDequeCreate = 300;
inline constexpr int32_t kErrorListBackupBackups = 301;
inline constexpr int32_t kErrorListBackupJsonValue = 302;
inline constexpr int32_t kErrorListBackupNetwork = 303;
inline constexpr int32_t kErrorListBackupNoServer = 304;
inline constexpr int32_t kErrorListBackupNoFork = 305;
inline constexpr int32_t kErrorListBackupInvalidSort = 306;
inline constexpr int32_t kErrorListBackupError = 307;
// 4xx delete (the command), 5xx delete-backup (the workflow).
inline constexpr int32_t kErrorDeleteSetup = 400;
inline constexpr int32_t kErrorDeleteExecute = 401;
inline constexpr int32_t kErrorDeleteTeardown = 402;
inline constexpr int32_t kErrorDeleteNoServer = 403;
inline constexpr int32_t kErrorDeleteNoFork = 404;
inline constexpr int32_t kErrorDeleteNetwork = 405;
inline constexpr int32_t kErrorDeleteError = 406;
inline constexpr int32_t kErrorDeleteBackupSetup = 500;
inline constexpr int32_t kErrorDeleteBackupExecute = 501;
inline constexpr int32_t kErrorDeleteBackupTeardown = 502;
inline constexpr int32_t kErrorDeleteBackupActive = 503;
inline constexpr int32_t kErrorDeleteBackupNoBackups = 504;
inline constexpr int32_t kErrorDeleteBackupNoBackup = 505;
inline constexpr int32_t kErrorDeleteBackupRetained = 506;
inline constexpr int32_t kErrorDeleteBackupRollup = 507;
inline constexpr int32_t kErrorDeleteBackupFull = 508;
inline constexpr int32_t kErrorDeleteBackupError = 509;
// 6xx restore.
inline constexpr int32_t kErrorRestoreNoBackup = 600;
inline constexpr int32_t kErrorRestoreNoDisk = 601;
inline constexpr int32_t kErrorRestoreActive = 602;
inline constexpr int32_t kErrorRestoreNoServer = 603;
inline constexpr int32_t kErrorRestoreSetup = 604;
inline constexpr int32_t kErrorRestoreExecute = 605;
inline constexpr int32_t kErrorRestoreTeardown = 606;
inline constexpr int32_t kErrorRestoreNoFork = 607;
inline constexpr int32_t kErrorRestoreNetwork = 608;
inline constexpr int32_t kErrorRestoreError = 609;
// 7xx combine.
inline constexpr int32_t kErrorCombineSetup = 700;
inline constexpr int32_t kErrorCombineExecute = 701;
inline constexpr int32_t kErrorCombineTeardown = 702;
// 8xx verify.
inline constexpr int32_t kErrorVerifyNoServer = 800;
inline constexpr int32_t kErrorVerifySetup = 801;
inline constexpr int32_t kErrorVerifyExecute = 802;
inline constexpr int32_t kErrorVerifyTeardown = 803;
inline constexpr int32_t kErrorVerifyNoFork = 804;
inline constexpr int32_t kErrorVerifyNetwork = 805;
inline constexpr int32_t kErrorVerifyError = 806;
// Ours (pgmoneta's verify takes no lock): the server's repository lock is held by another
// operation.
inline constexpr int32_t kErrorVerifyActive = 807;
// 9xx archive.
inline constexpr int32_t kErrorArchiveNoBackup = 900;
inline constexpr int32_t kErrorArchiveNoServer = 901;
inline constexpr int32_t kErrorArchiveActive = 902;
inline constexpr int32_t kErrorArchiveSetup = 903;
inline constexpr int32_t kErrorArchiveExecute = 904;
inline constexpr int32_t kErrorArchiveTeardown = 905;
inline constexpr int32_t kErrorArchiveNoFork = 906;
inline constexpr int32_t kErrorArchiveNetwork = 907;
inline constexpr int32_t kErrorArchiveError = 908;
// 10xx status, 11xx status details.
inline constexpr int32_t kErrorStatusNoFork = 1000;
inline constexpr int32_t kErrorStatusNetwork = 1001;
inline constexpr int32_t kErrorStatusDetailsNoFork = 1100;
inline constexpr int32_t kErrorStatusDetailsNetwork = 1101;
// 12xx retain, 13xx expunge.
inline constexpr int32_t kErrorRetainNoBackup = 1200;
inline constexpr int32_t kErrorRetainNoServer = 1201;
inline constexpr int32_t kErrorRetainNoFork = 1202;
inline constexpr int32_t kErrorRetainNetwork = 1203;
inline constexpr int32_t kErrorRetainError = 1204;
inline constexpr int32_t kErrorExpungeNoBackup = 1300;
inline constexpr int32_t kErrorExpungeNoServer = 1301;
inline constexpr int32_t kErrorExpungeNoFork = 1302;
inline constexpr int32_t kErrorExpungeNetwork = 1303;
inline constexpr int32_t kErrorExpungeError = 1304;
// 14xx decrypt, 15xx encrypt; 16xx-19xx gzip, zstd, lz4, bzip2 (+0 nofile, +1 nofork,
// +2 network, +3 error).
inline constexpr int32_t kErrorDecryptNoFile = 1400;
inline constexpr int32_t kErrorDecryptError = 1403;
inline constexpr int32_t kErrorEncryptNoFile = 1500;
inline constexpr int32_t kErrorEncryptError = 1503;
inline constexpr int32_t kErrorGzipNoFile = 1600;
inline constexpr int32_t kErrorGzipError = 1603;
inline constexpr int32_t kErrorZstdNoFile = 1700;
inline constexpr int32_t kErrorZstdError = 1703;
inline constexpr int32_t kErrorLz4NoFile = 1800;
inline constexpr int32_t kErrorLz4Error = 1803;
inline constexpr int32_t kErrorBzip2NoFile = 1900;
inline constexpr int32_t kErrorBzip2Error = 1903;
// 20xx decompress, 21xx compress.
inline constexpr int32_t kErrorDecompressNoFork = 2000;
inline constexpr int32_t kErrorDecompressUnknown = 2001;
inline constexpr int32_t kErrorCompressNoFork = 2100;
inline constexpr int32_t kErrorCompressUnknown = 2101;
// 22xx info.
inline constexpr int32_t kErrorInfoNoBackup = 2200;
inline constexpr int32_t kErrorInfoNoServer = 2201;
inline constexpr int32_t kErrorInfoNoFork = 2202;
inline constexpr int32_t kErrorInfoNetwork = 2203;
inline constexpr int32_t kErrorInfoError = 2204;
// 23xx retention, 24xx WAL shipping.
inline constexpr int32_t kErrorRetentionSetup = 2302;
inline constexpr int32_t kErrorRetentionExecute = 2303;
inline constexpr int32_t kErrorRetentionTeardown = 2304;
inline constexpr int32_t kErrorRetentionError = 2305;
inline constexpr int32_t kErrorWalShippingSetup = 2402;
inline constexpr int32_t kErrorWalShippingExecute = 2403;
inline constexpr int32_t kErrorWalShippingTeardown = 2404;
// 25xx annotate.
inline constexpr int32_t kErrorAnnotateNoBackup = 2500;
inline constexpr int32_t kErrorAnnotateNoServer = 2501;
inline constexpr int32_t kErrorAnnotateNoFork = 2502;
inline constexpr int32_t kErrorAnnotateFailed = 2503;
inline constexpr int32_t kErrorAnnotateNetwork = 2504;
inline constexpr int32_t kErrorAnnotateError = 2505;
inline constexpr int32_t kErrorAnnotateUnknownAction = 2506;
// 26xx conf get, 27xx conf set.
inline constexpr int32_t kErrorConfGetNoFork = 2600;
inline constexpr int32_t kErrorConfGetNetwork = 2602;
inline constexpr int32_t kErrorConfGetError = 2603;
inline constexpr int32_t kErrorConfSetNoFork = 2700;
inline constexpr int32_t kErrorConfSetNoRequest = 2701;
inline constexpr int32_t kErrorConfSetNoKey = 2702;  // no ConfigKey or ConfigValue
inline constexpr int32_t kErrorConfSetNoResponse = 2703;
inline constexpr int32_t kErrorConfSetUnknownKey = 2704;
inline constexpr int32_t kErrorConfSetUnknownServer = 2705;
inline constexpr int32_t kErrorConfSetNetwork = 2706;
inline constexpr int32_t kErrorConfSetError = 2707;
// 28xx mode.
inline constexpr int32_t kErrorModeNoServer = 2800;
inline constexpr int32_t kErrorModeNoFork = 2801;
inline constexpr int32_t kErrorModeFailed = 2802;
inline constexpr int32_t kErrorModeNetwork = 2803;
inline constexpr int32_t kErrorModeError = 2804;
inline constexpr int32_t kErrorModeUnknownAction = 2805;
// 29xx s3 ls, 30xx progress, 31xx s3 restore: family bases (members per the workflows).
inline constexpr int32_t kErrorS3LsBase = 2900;
inline constexpr int32_t kErrorProgressBase = 3000;
// Ours: the members of the progress family.
inline constexpr int32_t kErrorProgressNoServer = 3000;
inline constexpr int32_t kErrorProgressNotTracked = 3001;  // an operation progress does not track
inline constexpr int32_t kErrorProgressOff = 3002;         // progress = off for the server
inline constexpr int32_t kErrorS3RestoreBase = 3100;
// Ours: the azure and ssh counterparts of s3 ls / s3 restore, outside pgmoneta's families
// (like kErrorReloadError) so that a future pgmoneta family cannot collide with them.
inline constexpr int32_t kErrorAzureLsBase = 9100;
inline constexpr int32_t kErrorAzureRestoreBase = 9200;
inline constexpr int32_t kErrorSshLsBase = 9300;
inline constexpr int32_t kErrorSshRestoreBase = 9400;
// Ours: the members of the six off-site families, as offsets from the family base.
// <engine> ls:
inline constexpr int32_t kOffsiteLsNoServer = 0;  // unknown server
inline constexpr int32_t kOffsiteLsEngine = 1;    // engine not built, misconfigured, refused
inline constexpr int32_t kOffsiteLsError = 2;     // the listing failed
// <engine> restore (members 0-6 mirror 6xx restore):
inline constexpr int32_t kOffsiteRestoreNoServer = 0;
inline constexpr int32_t kOffsiteRestoreNoBackup = 1;  // no such complete remote backup
inline constexpr int32_t kOffsiteRestoreActive = 2;    // the repository lock is held
inline constexpr int32_t kOffsiteRestoreSetup = 3;     // bad directory, staging, master key
inline constexpr int32_t kOffsiteRestoreNoDisk = 4;
inline constexpr int32_t kOffsiteRestoreExecute = 5;  // the restore from the staged copy failed
inline constexpr int32_t kOffsiteRestoreError = 6;
inline constexpr int32_t kOffsiteRestoreEngine = 7;     // engine not built, misconfigured, refused
inline constexpr int32_t kOffsiteRestoreDownload = 8;   // a download failed (network, I/O)
inline constexpr int32_t kOffsiteRestoreCorrupted = 9;  // SHA-512 mismatch, staged copy not valid
// Ours (see the file comment).
inline constexpr int32_t kErrorReloadError = 9000;

// A family of error codes: the hundreds block of one command or workflow (pgmoneta's
// numbering; 91xx-94xx and 9000 are ours). Each command's row in command_table.h names its
// family.
enum class Family : int32_t {
  kNone = 0,  // commands that cannot fail (ping, shutdown, conf ls)
  kBackup = 100,
  kIncremental = 200,
  kListBackup = 300,
  kDelete = 400,
  kDeleteBackup = 500,
  kRestore = 600,
  kCombine = 700,
  kVerify = 800,
  kArchive = 900,
  kStatus = 1000,
  kStatusDetails = 1100,
  kRetain = 1200,
  kExpunge = 1300,
  kDecrypt = 1400,
  kEncrypt = 1500,
  kGzip = 1600,
  kZstd = 1700,
  kLz4 = 1800,
  kBzip2 = 1900,
  kDecompress = 2000,
  kCompress = 2100,
  kInfo = 2200,
  kRetention = 2300,
  kWalShipping = 2400,
  kAnnotate = 2500,
  kConfGet = 2600,
  kConfSet = 2700,
  kMode = 2800,
  kS3Ls = 2900,
  kProgress = 3000,
  kS3Restore = 3100,
  kReload = 9000,
  kAzureLs = 9100,
  kAzureRestore = 9200,
  kSshLs = 9300,
  kSshRestore = 9400,
};

// What went wrong, in words that do not depend on the command. A handler names the failure;
// error_code() turns it into its family's code through one table (errors.cc).
enum class Failure {
  kError,            // anything else: the family's generic code
  kNoServer,         // unknown server
  kNoBackup,         // no such backup (or none at all)
  kActive,           // the server's repository lock is held by another operation
  kOffline,          // the server is offline
  kInvalid,          // the request cannot be carried out as asked
  kSetup,            // preparing failed (bad directory, missing key, ...)
  kExecute,          // the work itself failed
  kTeardown,         // finishing failed
  kNoDisk,           // not enough disk space
  kNetwork,          // talking to the client failed
  kNoFork,           // no worker process could be started
  kFailed,           // the operation was refused (annotate, mode)
  kUnknownAction,    // an Action argument that is not one of the allowed words
  kInvalidSort,      // list-backup's Sort
  kMissingArgument,  // a required argument is absent or not a string
  kUnknownKey,       // conf set of an unknown key
  kUnknownServer,    // conf set of a key of an unknown server
  kNoFile,           // the file verbs: no such file
  kUnknownFormat,    // compress/decompress: unknown format
  kRetained,         // delete of a retained backup without --force
  kEngine,           // off-site: engine not built, misconfigured or refusing
  kDownload,         // off-site: a download failed
  kCorrupted,        // off-site: a downloaded object or the staged copy is not valid
  kAlreadyChild,     // backup: the parent of an incremental already has a child
  kRollup,           // delete: rolling the backup into its incremental child failed
};

// The management code of `failure` in `family`: the family's own member where it has one,
// else the family's generic code. kErrorUnknownCommand for Family::kNone.
int32_t error_code(Family family, Failure failure);

// The family of a code ("error 612" is in Family::kRestore); kNone for 1-3 and unknown codes.
Family family_of(int32_t code);

// The family's name as pgmoneta prints it ("List backup", "S3 restore").
std::string_view family_name(Family family);

// A short English description ("Backup: another backup is active"); for a code we do not
// know, the family's name ("Restore: error 699") or "Unknown error".
std::string error_description(int32_t code);

}  // namespace pgm::management
