#include "pgm/management/protocol.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "pgm/management/errors.h"

namespace pgm::management {

namespace {

struct CommandEntry {
  Command command;
  std::string_view name;
};

constexpr std::array<CommandEntry, 36> kCommands = {{
    {Command::kBackup, "backup"},       {Command::kListBackup, "list-backup"},
    {Command::kRestore, "restore"},     {Command::kArchive, "archive"},
    {Command::kDelete, "delete"},       {Command::kShutdown, "shutdown"},
    {Command::kStatus, "status"},       {Command::kStatusDetails, "status details"},
    {Command::kPing, "ping"},           {Command::kReset, "clear prometheus"},
    {Command::kReload, "conf reload"},  {Command::kRetain, "retain"},
    {Command::kExpunge, "expunge"},     {Command::kDecrypt, "decrypt"},
    {Command::kEncrypt, "encrypt"},     {Command::kDecompress, "decompress"},
    {Command::kCompress, "compress"},   {Command::kInfo, "info"},
    {Command::kVerify, "verify"},       {Command::kAnnotate, "annotate"},
    {Command::kConfLs, "conf ls"},      {Command::kConfGet, "conf get"},
    {Command::kConfSet, "conf set"},    {Command::kMode, "mode"},
    {Command::kProgress, "progress"},   {Command::kMasterKey, "master-key"},
    {Command::kAddUser, "user add"},    {Command::kUpdateUser, "user edit"},
    {Command::kRemoveUser, "user del"}, {Command::kListUsers, "user ls"},
    {Command::kS3Ls, "s3 ls"},          {Command::kS3Restore, "s3 restore"},
    {Command::kAzureLs, "azure ls"},    {Command::kAzureRestore, "azure restore"},
    {Command::kSshLs, "ssh ls"},        {Command::kSshRestore, "ssh restore"},
}};

}  // namespace

std::string_view command_name(Command command) {
  for (const CommandEntry& e : kCommands) {
    if (e.command == command) {
      return e.name;
    }
  }
  return "unknown";
}

std::optional<Command> command_from_code(int32_t code) {
  for (const CommandEntry& e : kCommands) {
    if (static_cast<int32_t>(e.command) == code) {
      return e.command;
    }
  }
  return std::nullopt;
}

std::string_view output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::kText:
      return "text";
    case OutputFormat::kJson:
      return "json";
    case OutputFormat::kRaw:
      return "raw";
  }
  return "text";
}

std::optional<OutputFormat> parse_output_format(std::string_view name) {
  if (name == "text") {
    return OutputFormat::kText;
  }
  if (name == "json") {
    return OutputFormat::kJson;
  }
  if (name == "raw") {
    return OutputFormat::kRaw;
  }
  return std::nullopt;
}

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

constexpr std::pair<int32_t, std::string_view> kFamilies[] = {
    {1, "Backup"},
    {2, "Incremental backup"},
    {3, "List backup"},
    {4, "Delete"},
    {5, "Delete backup"},
    {6, "Restore"},
    {7, "Combine"},
    {8, "Verify"},
    {9, "Archive"},
    {10, "Status"},
    {11, "Status details"},
    {12, "Retain"},
    {13, "Expunge"},
    {14, "Decrypt"},
    {15, "Encrypt"},
    {16, "Gzip"},
    {17, "Zstd"},
    {18, "Lz4"},
    {19, "Bzip2"},
    {20, "Decompress"},
    {21, "Compress"},
    {22, "Info"},
    {23, "Retention"},
    {24, "WAL shipping"},
    {25, "Annotate"},
    {26, "Conf get"},
    {27, "Conf set"},
    {28, "Mode"},
    {29, "S3 ls"},
    {30, "Progress"},
    {31, "S3 restore"},
    // Ours: the Azure and SFTP counterparts of s3 ls / s3 restore (errors.h).
    {91, "Azure ls"},
    {92, "Azure restore"},
    {93, "SSH ls"},
    {94, "SSH restore"},
};

}  // namespace

std::string error_description(int32_t code) {
  for (const ErrorEntry& e : kErrors) {
    if (e.code == code) {
      return std::string(e.text);
    }
  }
  for (const auto& [family, name] : kFamilies) {
    if (code / 100 == family) {
      return fmt::format("{}: error {}", name, code);
    }
  }
  return "Unknown error";
}

}  // namespace pgm::management
