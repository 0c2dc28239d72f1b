// The forked commands' handlers. For now each one hands the request to the workflow's
// command function (commands/backup.h, restore.h, ...).
#include "pgm/daemon/commands/backup.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/files.h"
#include "pgm/daemon/commands/offsite.h"
#include "pgm/daemon/commands/restore.h"
#include "pgm/daemon/commands/verify.h"

namespace pgm::daemon::commands {

CommandResult backup(const Call& c) { return backup_command(c.ctx, c.request); }
CommandResult list_backup(const Call& c) { return list_backup_command(c.ctx, c.request); }
CommandResult info(const Call& c) { return info_command(c.ctx, c.request); }
CommandResult delete_backup(const Call& c) { return delete_command(c.ctx, c.request); }
CommandResult retain(const Call& c) { return keep_command(c.ctx, c.request, true); }
CommandResult expunge(const Call& c) { return keep_command(c.ctx, c.request, false); }
CommandResult annotate(const Call& c) { return annotate_command(c.ctx, c.request); }
CommandResult progress(const Call& c) { return progress_command(c.ctx, c.request); }
CommandResult restore(const Call& c) { return restore_command(c.ctx, c.request); }
CommandResult archive(const Call& c) { return archive_command(c.ctx, c.request); }
CommandResult verify(const Call& c) { return verify_command(c.ctx, c.request); }
CommandResult encrypt(const Call& c) { return encrypt_command(c.ctx, c.request); }
CommandResult decrypt(const Call& c) { return decrypt_command(c.ctx, c.request); }
CommandResult compress(const Call& c) { return compress_command(c.ctx, c.request); }
CommandResult decompress(const Call& c) { return decompress_command(c.ctx, c.request); }
CommandResult status(const Call& c) { return status_response(c.ctx, false); }
CommandResult status_details(const Call& c) { return status_response(c.ctx, true); }
CommandResult mode(const Call& c) { return mode_command(c.ctx, c.request); }
CommandResult s3_ls(const Call& c) {
  return offsite_ls_command(c.ctx, storage::Engine::kS3, c.request);
}
CommandResult s3_restore(const Call& c) {
  return offsite_restore_command(c.ctx, storage::Engine::kS3, c.request);
}
CommandResult azure_ls(const Call& c) {
  return offsite_ls_command(c.ctx, storage::Engine::kAzure, c.request);
}
CommandResult azure_restore(const Call& c) {
  return offsite_restore_command(c.ctx, storage::Engine::kAzure, c.request);
}
CommandResult ssh_ls(const Call& c) {
  return offsite_ls_command(c.ctx, storage::Engine::kSsh, c.request);
}
CommandResult ssh_restore(const Call& c) {
  return offsite_restore_command(c.ctx, storage::Engine::kSsh, c.request);
}

}  // namespace pgm::daemon::commands
