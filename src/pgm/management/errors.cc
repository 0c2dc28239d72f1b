// The management error codes' descriptions and the one table from failures to codes.
#include "pgm/management/errors.h"

#include <optional>
#include <utility>

#include <fmt/format.h>

namespace pgm::management {

namespace {

struct ErrorEntry {
  int32_t code;
  std::string_view text;
};

constexpr ErrorEntry kErrors[] = {
    {kErrorBadPayload, "Bad request payload"},
    {kErrorUnknownCommand, "Unknown command"},
    {kErrorAllocation, "Allocation failure"},
    {kErrorBackupInvalid, "Backup: invalid request"},
    {kErrorBackupWal, "Backup: WAL streaming is not active"},
    {kErrorBackupActive, "Backup: another operation is active on the server"},
    {kErrorBackupNoBackups, "Backup: no backups"},
    {kErrorBackupNoChild, "Backup: no child backup"},
    {kErrorBackupAlreadyChild, "Backup: the parent already has a child"},
    {kErrorBackupSetup, "Backup: setup failed"},
    {kErrorBackupExecute, "Backup: execution failed"},
    {kErrorBackupTeardown, "Backup: teardown failed"},
    {kErrorBackupNetwork, "Backup: network error"},
    {kErrorBackupOffline, "Backup: server offline"},
    {kErrorBackupNoServer, "Backup: no such server"},
    {kErrorBackupNoFork, "Backup: could not fork"},
    {kErrorBackupError, "Backup: error"},
    {kErrorListBackupNoServer, "List backup: no such server"},
    {kErrorListBackupInvalidSort, "List backup: invalid sort order"},
    {kErrorDeleteNoServer, "Delete: no such server"},
    {kErrorDeleteBackupActive, "Delete: another operation is active on the server"},
    {kErrorDeleteBackupNoBackup, "Delete: no such backup"},
    {kErrorDeleteBackupRetained, "Delete: the backup is retained (use --force)"},
    {kErrorDeleteBackupRollup, "Delete: roll-up into the child backup failed"},
    {kErrorDeleteBackupFull, "Delete: a full backup is required"},
    {kErrorRestoreNoBackup, "Restore: no such backup"},
    {kErrorRestoreNoDisk, "Restore: not enough disk space"},
    {kErrorRestoreActive, "Restore: another operation is active on the server"},
    {kErrorRestoreNoServer, "Restore: no such server"},
    {kErrorVerifyNoServer, "Verify: no such server"},
    {kErrorArchiveNoBackup, "Archive: no such backup"},
    {kErrorArchiveNoServer, "Archive: no such server"},
    {kErrorArchiveActive, "Archive: another operation is active on the server"},
    {kErrorRetainNoBackup, "Retain: no such backup"},
    {kErrorRetainNoServer, "Retain: no such server"},
    {kErrorExpungeNoBackup, "Expunge: no such backup"},
    {kErrorExpungeNoServer, "Expunge: no such server"},
    {kErrorDecryptNoFile, "Decrypt: no such file"},
    {kErrorEncryptNoFile, "Encrypt: no such file"},
    {kErrorDecompressUnknown, "Decompress: unknown format"},
    {kErrorCompressUnknown, "Compress: unknown format"},
    {kErrorInfoNoBackup, "Info: no such backup"},
    {kErrorInfoNoServer, "Info: no such server"},
    {kErrorAnnotateNoBackup, "Annotate: no such backup"},
    {kErrorAnnotateNoServer, "Annotate: no such server"},
    {kErrorAnnotateFailed, "Annotate: failed"},
    {kErrorAnnotateUnknownAction, "Annotate: unknown action"},
    {kErrorConfSetNoKey, "Conf set: missing key or value"},
    {kErrorConfSetUnknownKey, "Conf set: unknown configuration key"},
    {kErrorConfSetUnknownServer, "Conf set: unknown server"},
    {kErrorConfSetError, "Conf set: error"},
    {kErrorModeNoServer, "Mode: no such server"},
    {kErrorModeFailed, "Mode: failed"},
    {kErrorModeError, "Mode: error"},
    {kErrorModeUnknownAction, "Mode: unknown action"},
    {kErrorReloadError, "Conf reload: error"},
};

constexpr std::pair<Family, std::string_view> kFamilies[] = {
    {Family::kBackup, "Backup"},
    {Family::kIncremental, "Incremental backup"},
    {Family::kListBackup, "List backup"},
    {Family::kDelete, "Delete"},
    {Family::kDeleteBackup, "Delete backup"},
    {Family::kRestore, "Restore"},
    {Family::kCombine, "Combine"},
    {Family::kVerify, "Verify"},
    {Family::kArchive, "Archive"},
    {Family::kStatus, "Status"},
    {Family::kStatusDetails, "Status details"},
    {Family::kRetain, "Retain"},
    {Family::kExpunge, "Expunge"},
    {Family::kDecrypt, "Decrypt"},
    {Family::kEncrypt, "Encrypt"},
    {Family::kGzip, "Gzip"},
    {Family::kZstd, "Zstd"},
    {Family::kLz4, "Lz4"},
    {Family::kBzip2, "Bzip2"},
    {Family::kDecompress, "Decompress"},
    {Family::kCompress, "Compress"},
    {Family::kInfo, "Info"},
    {Family::kRetention, "Retention"},
    {Family::kWalShipping, "WAL shipping"},
    {Family::kAnnotate, "Annotate"},
    {Family::kConfGet, "Conf get"},
    {Family::kConfSet, "Conf set"},
    {Family::kMode, "Mode"},
    {Family::kS3Ls, "S3 ls"},
    {Family::kProgress, "Progress"},
    {Family::kS3Restore, "S3 restore"},
    {Family::kReload, "Conf reload"},
    // Ours: the Azure and SFTP counterparts of s3 ls / s3 restore (errors.h).
    {Family::kAzureLs, "Azure ls"},
    {Family::kAzureRestore, "Azure restore"},
    {Family::kSshLs, "SSH ls"},
    {Family::kSshRestore, "SSH restore"},
};

// The one table from failures to codes: (family, failure) -> code. A failure a family has no
// member for falls back to the family's generic code (kGeneric below).
struct FailureEntry {
  Family family;
  Failure failure;
  int32_t code;
};

constexpr FailureEntry kFailureCodes[] = {
    {Family::kBackup, Failure::kInvalid, kErrorBackupInvalid},
    {Family::kBackup, Failure::kAlreadyChild, kErrorBackupAlreadyChild},
    {Family::kBackup, Failure::kActive, kErrorBackupActive},
    {Family::kBackup, Failure::kNoBackup, kErrorBackupNoBackups},
    {Family::kBackup, Failure::kSetup, kErrorBackupSetup},
    {Family::kBackup, Failure::kExecute, kErrorBackupExecute},
    {Family::kBackup, Failure::kTeardown, kErrorBackupTeardown},
    {Family::kBackup, Failure::kNetwork, kErrorBackupNetwork},
    {Family::kBackup, Failure::kOffline, kErrorBackupOffline},
    {Family::kBackup, Failure::kNoServer, kErrorBackupNoServer},
    {Family::kBackup, Failure::kNoFork, kErrorBackupNoFork},
    {Family::kBackup, Failure::kError, kErrorBackupError},
    {Family::kIncremental, Failure::kSetup, kErrorIncrementalSetup},
    {Family::kIncremental, Failure::kExecute, kErrorIncrementalExecute},
    {Family::kIncremental, Failure::kTeardown, kErrorIncrementalTeardown},
    {Family::kListBackup, Failure::kExecute, kErrorListBackupBackups},
    {Family::kListBackup, Failure::kNetwork, kErrorListBackupNetwork},
    {Family::kListBackup, Failure::kNoServer, kErrorListBackupNoServer},
    {Family::kListBackup, Failure::kNoFork, kErrorListBackupNoFork},
    {Family::kListBackup, Failure::kInvalidSort, kErrorListBackupInvalidSort},
    {Family::kListBackup, Failure::kError, kErrorListBackupError},
    {Family::kDelete, Failure::kSetup, kErrorDeleteSetup},
    {Family::kDelete, Failure::kExecute, kErrorDeleteExecute},
    {Family::kDelete, Failure::kTeardown, kErrorDeleteTeardown},
    {Family::kDelete, Failure::kNoServer, kErrorDeleteNoServer},
    {Family::kDelete, Failure::kNoFork, kErrorDeleteNoFork},
    {Family::kDelete, Failure::kNetwork, kErrorDeleteNetwork},
    {Family::kDelete, Failure::kError, kErrorDeleteError},
    {Family::kDeleteBackup, Failure::kSetup, kErrorDeleteBackupSetup},
    {Family::kDeleteBackup, Failure::kExecute, kErrorDeleteBackupExecute},
    {Family::kDeleteBackup, Failure::kTeardown, kErrorDeleteBackupTeardown},
    {Family::kDeleteBackup, Failure::kActive, kErrorDeleteBackupActive},
    {Family::kDeleteBackup, Failure::kNoBackup, kErrorDeleteBackupNoBackup},
    {Family::kDeleteBackup, Failure::kRetained, kErrorDeleteBackupRetained},
    {Family::kDeleteBackup, Failure::kRollup, kErrorDeleteBackupRollup},
    {Family::kDeleteBackup, Failure::kError, kErrorDeleteBackupError},
    {Family::kRestore, Failure::kNoBackup, kErrorRestoreNoBackup},
    {Family::kRestore, Failure::kNoDisk, kErrorRestoreNoDisk},
    {Family::kRestore, Failure::kActive, kErrorRestoreActive},
    {Family::kRestore, Failure::kNoServer, kErrorRestoreNoServer},
    {Family::kRestore, Failure::kSetup, kErrorRestoreSetup},
    {Family::kRestore, Failure::kExecute, kErrorRestoreExecute},
    {Family::kRestore, Failure::kTeardown, kErrorRestoreTeardown},
    {Family::kRestore, Failure::kNoFork, kErrorRestoreNoFork},
    {Family::kRestore, Failure::kNetwork, kErrorRestoreNetwork},
    {Family::kRestore, Failure::kError, kErrorRestoreError},
    {Family::kCombine, Failure::kSetup, kErrorCombineSetup},
    {Family::kCombine, Failure::kExecute, kErrorCombineExecute},
    {Family::kCombine, Failure::kTeardown, kErrorCombineTeardown},
    {Family::kVerify, Failure::kNoServer, kErrorVerifyNoServer},
    {Family::kVerify, Failure::kSetup, kErrorVerifySetup},
    {Family::kVerify, Failure::kExecute, kErrorVerifyExecute},
    {Family::kVerify, Failure::kTeardown, kErrorVerifyTeardown},
    {Family::kVerify, Failure::kNoFork, kErrorVerifyNoFork},
    {Family::kVerify, Failure::kNetwork, kErrorVerifyNetwork},
    {Family::kVerify, Failure::kError, kErrorVerifyError},
    {Family::kVerify, Failure::kActive, kErrorVerifyActive},
    {Family::kArchive, Failure::kNoBackup, kErrorArchiveNoBackup},
    {Family::kArchive, Failure::kNoServer, kErrorArchiveNoServer},
    {Family::kArchive, Failure::kActive, kErrorArchiveActive},
    {Family::kArchive, Failure::kSetup, kErrorArchiveSetup},
    {Family::kArchive, Failure::kExecute, kErrorArchiveExecute},
    {Family::kArchive, Failure::kTeardown, kErrorArchiveTeardown},
    {Family::kArchive, Failure::kNoFork, kErrorArchiveNoFork},
    {Family::kArchive, Failure::kNetwork, kErrorArchiveNetwork},
    {Family::kArchive, Failure::kError, kErrorArchiveError},
    // archive has no "no disk" member: running out of space is an execution failure.
    {Family::kArchive, Failure::kNoDisk, kErrorArchiveExecute},
    {Family::kStatus, Failure::kNoFork, kErrorStatusNoFork},
    {Family::kStatus, Failure::kNetwork, kErrorStatusNetwork},
    {Family::kStatusDetails, Failure::kNoFork, kErrorStatusDetailsNoFork},
    {Family::kStatusDetails, Failure::kNetwork, kErrorStatusDetailsNetwork},
    {Family::kRetain, Failure::kNoBackup, kErrorRetainNoBackup},
    {Family::kRetain, Failure::kNoServer, kErrorRetainNoServer},
    {Family::kRetain, Failure::kNoFork, kErrorRetainNoFork},
    {Family::kRetain, Failure::kNetwork, kErrorRetainNetwork},
    {Family::kRetain, Failure::kError, kErrorRetainError},
    {Family::kExpunge, Failure::kNoBackup, kErrorExpungeNoBackup},
    {Family::kExpunge, Failure::kNoServer, kErrorExpungeNoServer},
    {Family::kExpunge, Failure::kNoFork, kErrorExpungeNoFork},
    {Family::kExpunge, Failure::kNetwork, kErrorExpungeNetwork},
    {Family::kExpunge, Failure::kError, kErrorExpungeError},
    {Family::kDecompress, Failure::kNoFork, kErrorDecompressNoFork},
    {Family::kDecompress, Failure::kUnknownFormat, kErrorDecompressUnknown},
    {Family::kCompress, Failure::kNoFork, kErrorCompressNoFork},
    {Family::kCompress, Failure::kUnknownFormat, kErrorCompressUnknown},
    {Family::kInfo, Failure::kNoBackup, kErrorInfoNoBackup},
    {Family::kInfo, Failure::kNoServer, kErrorInfoNoServer},
    {Family::kInfo, Failure::kNoFork, kErrorInfoNoFork},
    {Family::kInfo, Failure::kNetwork, kErrorInfoNetwork},
    {Family::kInfo, Failure::kError, kErrorInfoError},
    {Family::kRetention, Failure::kSetup, kErrorRetentionSetup},
    {Family::kRetention, Failure::kExecute, kErrorRetentionExecute},
    {Family::kRetention, Failure::kTeardown, kErrorRetentionTeardown},
    {Family::kRetention, Failure::kError, kErrorRetentionError},
    {Family::kWalShipping, Failure::kSetup, kErrorWalShippingSetup},
    {Family::kWalShipping, Failure::kExecute, kErrorWalShippingExecute},
    {Family::kWalShipping, Failure::kTeardown, kErrorWalShippingTeardown},
    {Family::kAnnotate, Failure::kNoBackup, kErrorAnnotateNoBackup},
    {Family::kAnnotate, Failure::kNoServer, kErrorAnnotateNoServer},
    {Family::kAnnotate, Failure::kNoFork, kErrorAnnotateNoFork},
    {Family::kAnnotate, Failure::kFailed, kErrorAnnotateFailed},
    {Family::kAnnotate, Failure::kNetwork, kErrorAnnotateNetwork},
    {Family::kAnnotate, Failure::kError, kErrorAnnotateError},
    {Family::kAnnotate, Failure::kUnknownAction, kErrorAnnotateUnknownAction},
    {Family::kConfGet, Failure::kNoFork, kErrorConfGetNoFork},
    {Family::kConfGet, Failure::kNetwork, kErrorConfGetNetwork},
    {Family::kConfGet, Failure::kError, kErrorConfGetError},
    {Family::kConfSet, Failure::kNoFork, kErrorConfSetNoFork},
    {Family::kConfSet, Failure::kMissingArgument, kErrorConfSetNoKey},
    {Family::kConfSet, Failure::kUnknownKey, kErrorConfSetUnknownKey},
    {Family::kConfSet, Failure::kUnknownServer, kErrorConfSetUnknownServer},
    {Family::kConfSet, Failure::kNetwork, kErrorConfSetNetwork},
    {Family::kConfSet, Failure::kError, kErrorConfSetError},
    {Family::kMode, Failure::kNoServer, kErrorModeNoServer},
    {Family::kMode, Failure::kNoFork, kErrorModeNoFork},
    {Family::kMode, Failure::kFailed, kErrorModeFailed},
    {Family::kMode, Failure::kNetwork, kErrorModeNetwork},
    {Family::kMode, Failure::kError, kErrorModeError},
    {Family::kMode, Failure::kUnknownAction, kErrorModeUnknownAction},
    {Family::kProgress, Failure::kNoServer, kErrorProgressNoServer},
    {Family::kProgress, Failure::kUnknownAction, kErrorProgressNotTracked},
    {Family::kProgress, Failure::kInvalid, kErrorProgressOff},
    {Family::kReload, Failure::kError, kErrorReloadError},
};

// The file-verb families share one layout: +0 no such file, +1 no fork, +2 network, +3 error.
constexpr Family kFileFamilies[] = {Family::kDecrypt, Family::kEncrypt, Family::kGzip,
                                    Family::kZstd,    Family::kLz4,     Family::kBzip2};
constexpr std::pair<Failure, int32_t> kFileMembers[] = {
    {Failure::kNoFile, 0}, {Failure::kNoFork, 1}, {Failure::kNetwork, 2}, {Failure::kError, 3}};

// The off-site families (<engine> ls, <engine> restore) share the members of errors.h.
constexpr Family kOffsiteLsFamilies[] = {Family::kS3Ls, Family::kAzureLs, Family::kSshLs};
constexpr std::pair<Failure, int32_t> kOffsiteLsMembers[] = {
    {Failure::kNoServer, kOffsiteLsNoServer},
    {Failure::kEngine, kOffsiteLsEngine},
    {Failure::kError, kOffsiteLsError}};
constexpr Family kOffsiteRestoreFamilies[] = {Family::kS3Restore, Family::kAzureRestore,
                                              Family::kSshRestore};
constexpr std::pair<Failure, int32_t> kOffsiteRestoreMembers[] = {
    {Failure::kNoServer, kOffsiteRestoreNoServer}, {Failure::kNoBackup, kOffsiteRestoreNoBackup},
    {Failure::kActive, kOffsiteRestoreActive},     {Failure::kSetup, kOffsiteRestoreSetup},
    {Failure::kNoDisk, kOffsiteRestoreNoDisk},     {Failure::kExecute, kOffsiteRestoreExecute},
    {Failure::kError, kOffsiteRestoreError},       {Failure::kEngine, kOffsiteRestoreEngine},
    {Failure::kDownload, kOffsiteRestoreDownload}, {Failure::kCorrupted, kOffsiteRestoreCorrupted}};

template <size_t NF, size_t NM>
std::optional<int32_t> member_code(const Family (&families)[NF],
                                   const std::pair<Failure, int32_t> (&members)[NM], Family family,
                                   Failure failure) {
  for (Family f : families) {
    if (f != family) {
      continue;
    }
    for (const auto& [member, offset] : members) {
      if (member == failure) {
        return static_cast<int32_t>(family) + offset;
      }
    }
  }
  return std::nullopt;
}

std::optional<int32_t> lookup(Family family, Failure failure) {
  for (const FailureEntry& e : kFailureCodes) {
    if (e.family == family && e.failure == failure) {
      return e.code;
    }
  }
  if (auto c = member_code(kFileFamilies, kFileMembers, family, failure)) {
    return c;
  }
  if (auto c = member_code(kOffsiteLsFamilies, kOffsiteLsMembers, family, failure)) {
    return c;
  }
  return member_code(kOffsiteRestoreFamilies, kOffsiteRestoreMembers, family, failure);
}

}  // namespace

int32_t error_code(Family family, Failure failure) {
  if (family == Family::kNone) {
    return kErrorUnknownCommand;
  }
  if (auto c = lookup(family, failure)) {
    return *c;
  }
  if (auto c = lookup(family, Failure::kError)) {
    return *c;
  }
  // Families without an error member (status, progress, the block-only ones): their base.
  return static_cast<int32_t>(family);
}

Family family_of(int32_t code) {
  for (const auto& [family, name] : kFamilies) {
    if (code / 100 == static_cast<int32_t>(family) / 100) {
      return family;
    }
  }
  return Family::kNone;
}

std::string_view family_name(Family family) {
  for (const auto& [f, name] : kFamilies) {
    if (f == family) {
      return name;
    }
  }
  return "";
}

std::string error_description(int32_t code) {
  for (const ErrorEntry& e : kErrors) {
    if (e.code == code) {
      return std::string(e.text);
    }
  }
  if (Family family = family_of(code); family != Family::kNone) {
    return fmt::format("{}: error {}", family_name(family), code);
  }
  return "Unknown error";
}

}  // namespace pgm::management
