// Management protocol vocabulary shared by the daemon and pgmoneta-cli: command codes,
// output formats and the JSON key names of the document (reference §4). Constants only,
// plus pure lookups; thread-safe. Error codes live in errors.h (included here).
//
// Codes and names were checked against pgmoneta's src/include/management.h and src/cli.c;
// where old pgmoneta versions disagree, reference §4.2 wins (admin-tool codes moved to 100+,
// mode is 24, progress 25, s3 ls 200, s3 restore 201).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "pgm/management/command_table.h"
#include "pgm/management/errors.h"

namespace pgm::management {

// The commands the daemon answers are the rows of command_table.h; the pgmoneta-admin codes
// below are never sent to the daemon.
#define PGM_COMMAND_ENUMERATOR(id, code, ...) id = code,
enum class Command : int32_t {
  PGM_COMMANDS(PGM_COMMAND_ENUMERATOR)
  // pgmoneta-admin internal codes (never sent to the daemon by pgmoneta-cli).
  kMasterKey = 100,
  kAddUser = 101,
  kUpdateUser = 102,
  kRemoveUser = 103,
  kListUsers = 104,
};
#undef PGM_COMMAND_ENUMERATOR

// The command as pgmoneta-cli spells it: "backup", "status details", "clear prometheus",
// "conf reload", "s3 ls", ... ; "unknown" for a code that is not a command.
std::string_view command_name(Command command);
// nullopt for codes that are not commands (of the daemon or of pgmoneta-admin).
std::optional<Command> command_from_code(int32_t code);
// The command of that name ("status details"); nullopt for an unknown name.
std::optional<Command> command_from_name(std::string_view name);

// Header.Output: how the CLI renders the response.
enum class OutputFormat : uint8_t { kText = 0, kJson = 1, kRaw = 2 };
std::string_view output_format_name(OutputFormat format);  // "text", "json", "raw"
std::optional<OutputFormat> parse_output_format(std::string_view name);

// Frame: u8 compression, u8 encryption, u32 big-endian payload length.
inline constexpr size_t kFrameHeaderSize = 6;
// Largest payload we accept by default, on either side.
inline constexpr uint32_t kDefaultMaxFrameLength = 16u << 20;

// Name of the daemon's unix socket inside unix_socket_dir.
inline constexpr std::string_view kSocketName = ".s.pgmoneta";

// JSON key names (pgmoneta's MANAGEMENT_CATEGORY_* and MANAGEMENT_ARGUMENT_*).
namespace key {
// Categories.
inline constexpr const char* kHeader = "Header";
inline constexpr const char* kRequest = "Request";
inline constexpr const char* kOutcome = "Outcome";
inline constexpr const char* kResponse = "Response";
// Header.
inline constexpr const char* kCommand = "Command";
inline constexpr const char* kClientVersion = "ClientVersion";
inline constexpr const char* kOutput = "Output";
inline constexpr const char* kTimestamp = "Timestamp";
inline constexpr const char* kCompression = "Compression";
inline constexpr const char* kEncryption = "Encryption";
// Outcome.
inline constexpr const char* kStatus = "Status";
inline constexpr const char* kTime = "Time";
inline constexpr const char* kError = "Error";
inline constexpr const char* kWorkflow = "Workflow";
inline constexpr const char* kWorkerErrors = "WorkerErrors";
inline constexpr const char* kMessage = "Message";  // ours: one-line reason; pgmoneta ignores it
// Request.
inline constexpr const char* kServer = "Server";
inline constexpr const char* kBackup = "Backup";
inline constexpr const char* kSort = "Sort";
inline constexpr const char* kPosition = "Position";
inline constexpr const char* kDirectory = "Directory";
inline constexpr const char* kFiles = "Files";
// verify: run a proven restore after the checksums (ours; pgmoneta ignores it).
inline constexpr const char* kStart = "Start";
inline constexpr const char* kForce = "Force";
inline constexpr const char* kCascade = "Cascade";
inline constexpr const char* kSourceFile = "SourceFile";
inline constexpr const char* kAction = "Action";
inline constexpr const char* kKey = "Key";
inline constexpr const char* kComment = "Comment";
inline constexpr const char* kConfigKey = "ConfigKey";
inline constexpr const char* kConfigValue = "ConfigValue";
inline constexpr const char* kS3Prefix = "S3Prefix";
inline constexpr const char* kPrefix = "Prefix";  // ours: azure ls, ssh ls
// Response.
inline constexpr const char* kServerVersion = "ServerVersion";
inline constexpr const char* kMajorVersion = "MajorVersion";
inline constexpr const char* kMinorVersion = "MinorVersion";
inline constexpr const char* kServers = "Servers";
inline constexpr const char* kBackups = "Backups";
inline constexpr const char* kBackupSize = "BackupSize";
inline constexpr const char* kRestoreSize = "RestoreSize";
inline constexpr const char* kBiggestFileSize = "BiggestFileSize";
inline constexpr const char* kWal = "WAL";
inline constexpr const char* kDelta = "Delta";
inline constexpr const char* kValid = "Valid";
inline constexpr const char* kKeep = "Keep";
inline constexpr const char* kRestart = "Restart";
inline constexpr const char* kDestinationFile = "DestinationFile";
inline constexpr const char* kFreeSpace = "FreeSpace";
inline constexpr const char* kUsedSpace = "UsedSpace";
inline constexpr const char* kTotalSpace = "TotalSpace";
inline constexpr const char* kWorkspaceFreeSpace = "WorkspaceFreeSpace";
inline constexpr const char* kServerSize = "ServerSize";
inline constexpr const char* kHotStandbySize = "HotStandbySize";
inline constexpr const char* kNumberOfBackups = "NumberOfBackups";
inline constexpr const char* kNumberOfServers = "NumberOfServers";
// conf ls (pgmoneta's CONFIGURATION_ARGUMENT_*_CONF_PATH).
inline constexpr const char* kMainConfPath = "main_configuration_path";
inline constexpr const char* kUsersConfPath = "users_configuration_path";
inline constexpr const char* kAdminsConfPath = "admin_configuration_path";
}  // namespace key

}  // namespace pgm::management
