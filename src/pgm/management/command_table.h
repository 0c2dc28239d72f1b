// The command table: one row per management command. Everything that differs between
// commands is here, once: the protocol code, the name, how pgmoneta-cli spells it, where the
// daemon runs it, its family of error codes, how the CLI lays out its answer, and the daemon's
// handler. The rows are expanded by registry.h (codes, names, CLI verbs, output layout) and by
// the daemon's handler table (daemon/commands/handlers.cc), so none of them is written twice.
//
// Columns of PGM_COMMAND(id, code, name, verb, placement, family, layout, handler, usage, help):
//   id         the enumerator of management::Command (kBackup)
//   code       the protocol code (Header.Command); pgmoneta's where it has one (reference §4.2)
//   name       the command as pgmoneta-cli names it in output and logs ("status details")
//   verb       the first word on pgmoneta-cli's command line ("status")
//   placement  kInline: the daemon's main loop answers at once (must not block);
//              kForked: a forked child runs it and may block (network, disk)
//   family     Family enumerator naming its error codes (errors.h); kNone when it cannot fail
//   layout     how the CLI translates the Response for text and json output (output.h)
//   handler    the daemon's handler function in pgm::daemon::commands (commands/handlers.h)
//   usage      the CLI arguments after the verb; the verb's first row carries them for all
//              rows of the verb ("" on the others)
//   help       one line for `pgmoneta-cli --help`; "" on the verb's other rows
//
// Rows are in the order `pgmoneta-cli --help` lists the verbs.
//
// To add a command: add a row here, write its handler in src/pgm/daemon/commands/, and teach
// pgmoneta-cli's argument builder (cli/cli.cc, build()) the verb's arguments; the registry
// unit tests check that the three agree.
#pragma once

// clang-format off
#define PGM_COMMANDS(PGM_COMMAND)                                                                  \
  PGM_COMMAND(kBackup, 1, "backup", "backup", kForked, kBackup, kBackup, backup,                   \
              "<server> [parent]", "Back up a server (with a parent: incremental)")               \
  PGM_COMMAND(kListBackup, 2, "list-backup", "list-backup", kForked, kListBackup, kBackupList,     \
              list_backup, "<server>", "List the backups of a server (-s asc|desc)")              \
  PGM_COMMAND(kRestore, 3, "restore", "restore", kForked, kRestore, kBackup, restore,              \
              "<server> <id> [position] <directory>", "Restore a backup")                         \
  PGM_COMMAND(kVerify, 19, "verify", "verify", kForked, kVerify, kPlain, verify,                   \
              "<server> <id> <directory> [failed|all] [--start]",                                  \
              "Verify a backup (--start: also restore it and start PostgreSQL on the copy)")      \
  PGM_COMMAND(kArchive, 4, "archive", "archive", kForked, kArchive, kPlain, archive,               \
              "<server> <id> [position] <directory>", "Archive a backup as a tar file")           \
  PGM_COMMAND(kDelete, 5, "delete", "delete", kForked, kDelete, kPlain, delete_backup,             \
              "<server> <id>", "Delete a backup (--force for retained ones)")                     \
  PGM_COMMAND(kRetain, 12, "retain", "retain", kForked, kRetain, kBackup, retain,                  \
              "<server> <id>", "Retain a backup (--cascade for its chain)")                       \
  PGM_COMMAND(kExpunge, 13, "expunge", "expunge", kForked, kExpunge, kBackup, expunge,             \
              "<server> <id>", "Expunge a backup (--cascade for its chain)")                      \
  PGM_COMMAND(kEncrypt, 15, "encrypt", "encrypt", kForked, kEncrypt, kPlain, encrypt,              \
              "<file>", "Encrypt a file with the master key")                                     \
  PGM_COMMAND(kDecrypt, 14, "decrypt", "decrypt", kForked, kDecrypt, kPlain, decrypt,              \
              "<file>", "Decrypt a file with the master key")                                     \
  PGM_COMMAND(kCompress, 17, "compress", "compress", kForked, kCompress, kPlain, compress,         \
              "<file>", "Compress a file with the configured method")                             \
  PGM_COMMAND(kDecompress, 16, "decompress", "decompress", kForked, kDecompress, kPlain,           \
              decompress, "<file>", "Decompress a file")                                          \
  PGM_COMMAND(kInfo, 18, "info", "info", kForked, kInfo, kBackup, info,                            \
              "<server> <id>", "Information about a backup")                                      \
  PGM_COMMAND(kAnnotate, 20, "annotate", "annotate", kForked, kAnnotate, kBackup, annotate,        \
              "<server> <id> add|update|remove <key> [comment]", "Annotate a backup")             \
  PGM_COMMAND(kPing, 9, "ping", "ping", kInline, kNone, kPlain, ping,                              \
              "", "Check if pgmoneta is alive")                                                   \
  PGM_COMMAND(kStatus, 7, "status", "status", kForked, kStatus, kStatus, status,                   \
              "[details]", "Status of pgmoneta, with optional details")                           \
  PGM_COMMAND(kStatusDetails, 8, "status details", "status", kForked, kStatusDetails, kStatus,     \
              status_details, "", "")                                                             \
  PGM_COMMAND(kMode, 24, "mode", "mode", kForked, kMode, kPlain, mode,                             \
              "<server> online|offline", "Switch a server online or offline")                     \
  PGM_COMMAND(kProgress, 25, "progress", "progress", kForked, kProgress, kPlain, progress,         \
              "<server> backup", "Progress of the running operation")                             \
  PGM_COMMAND(kShutdown, 6, "shutdown", "shutdown", kInline, kNone, kPlain, shutdown,              \
              "", "Shut pgmoneta down")                                                           \
  PGM_COMMAND(kReset, 10, "clear prometheus", "clear", kInline, kNone, kPlain, clear_prometheus,   \
              "prometheus", "Reset the Prometheus statistics")                                    \
  PGM_COMMAND(kReload, 11, "conf reload", "conf", kInline, kReload, kPlain, conf_reload,           \
              "reload | ls | get [key] | set <key> <value>", "Manage the configuration")          \
  PGM_COMMAND(kConfLs, 21, "conf ls", "conf", kInline, kNone, kPlain, conf_ls, "", "")             \
  PGM_COMMAND(kConfGet, 22, "conf get", "conf", kInline, kConfGet, kConfiguration, conf_get,       \
              "", "")                                                                             \
  PGM_COMMAND(kConfSet, 23, "conf set", "conf", kInline, kConfSet, kPlain, conf_set, "", "")       \
  PGM_COMMAND(kS3Ls, 200, "s3 ls", "s3", kForked, kS3Ls, kObjects, s3_ls,                          \
              "ls <server> [prefix] | restore <server> <id> [position] <directory>",               \
              "S3 storage: list a server's objects, restore a backup from the bucket")            \
  PGM_COMMAND(kS3Restore, 201, "s3 restore", "s3", kForked, kS3Restore, kBackup, s3_restore,       \
              "", "")                                                                             \
  PGM_COMMAND(kAzureLs, 202, "azure ls", "azure", kForked, kAzureLs, kObjects, azure_ls,           \
              "ls <server> [prefix] | restore <server> <id> [position] <directory>",               \
              "Azure Blob storage: list a server's blobs, restore a backup from the container")    \
  PGM_COMMAND(kAzureRestore, 203, "azure restore", "azure", kForked, kAzureRestore, kBackup,       \
              azure_restore, "", "")                                                              \
  PGM_COMMAND(kSshLs, 204, "ssh ls", "ssh", kForked, kSshLs, kObjects, ssh_ls,                     \
              "ls <server> [prefix] | restore <server> <id> [position] <directory>",               \
              "SFTP storage: list a server's files, restore a backup from the SFTP server")       \
  PGM_COMMAND(kSshRestore, 205, "ssh restore", "ssh", kForked, kSshRestore, kBackup, ssh_restore,  \
              "", "")
// clang-format on
