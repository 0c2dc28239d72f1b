#include "pgm/daemon/commands/offsite.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include <fmt/format.h>

#include "pgm/core/scope_exit.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/daemon/commands/restore.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/offsite/staging.h"
#include "pgm/storage/storage.h"
#include "pgm/storage/transfer.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
namespace fs = std::filesystem;
using nlohmann::json;
using storage::Engine;

namespace {

mgmt::Family ls_family(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return mgmt::Family::kS3Ls;
    case Engine::kAzure:
      return mgmt::Family::kAzureLs;
    case Engine::kSsh:
      return mgmt::Family::kSshLs;
  }
  return mgmt::Family::kS3Ls;
}

mgmt::Family restore_family(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return mgmt::Family::kS3Restore;
    case Engine::kAzure:
      return mgmt::Family::kAzureRestore;
    case Engine::kSsh:
      return mgmt::Family::kSshRestore;
  }
  return mgmt::Family::kS3Restore;
}

const char* ls_workflow(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return "s3 ls";
    case Engine::kAzure:
      return "azure ls";
    case Engine::kSsh:
      return "ssh ls";
  }
  return "s3 ls";
}

const char* restore_workflow(Engine engine) {
  switch (engine) {
    case Engine::kS3:
      return "s3 restore";
    case Engine::kAzure:
      return "azure restore";
    case Engine::kSsh:
      return "ssh restore";
  }
  return "s3 restore";
}

RestoreCodes restore_codes(Engine engine) {
  return RestoreCodes{restore_family(engine), restore_workflow(engine), "restored"};
}

// Peak resident set of this process in kB (VmHWM), 0 when /proc cannot tell: logged so that
// tests and operators can see that memory stays bounded whatever the object sizes.
uint64_t peak_rss_kb() {
  auto status = io::read_file("/proc/self/status");
  if (!status) {
    return 0;
  }
  size_t at = status->find("VmHWM:");
  if (at == std::string::npos) {
    return 0;
  }
  size_t digits = status->find_first_of("0123456789", at);
  if (digits == std::string::npos) {
    return 0;
  }
  uint64_t kb = 0;
  std::from_chars(status->data() + digits, status->data() + status->size(), kb);
  return kb;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- ls ---------------------------------------------------------------------------------------

// The prefix of an ls request: pgmoneta's S3Prefix, or Prefix (azure, ssh).
std::string requested_prefix(const json& request) {
  std::string prefix = string_arg(request, mgmt::key::kS3Prefix);
  return prefix.empty() ? string_arg(request, mgmt::key::kPrefix) : prefix;
}

}  // namespace

offsite::OffsiteContext offsite_context(const DaemonContext& ctx) {
  offsite::OffsiteContext o;
  o.config = ctx.config.get();
  for (size_t i = 0; i < ctx.config->servers.size(); ++i) {
    o.states.push_back(&ctx.shared->servers[i]);
  }
  return o;
}

void run_offsite(const DaemonContext& ctx) { offsite::run_offsite(offsite_context(ctx)); }

CommandResult offsite_ls_command(const DaemonContext& ctx, Engine engine, const json& request) {
  const char* workflow = ls_workflow(engine);
  mgmt::Family family = ls_family(engine);
  ServerLookup l = find_server(ctx, request);
  if (l.server == nullptr) {
    return CommandResult::failure(family, mgmt::Failure::kNoServer, unknown_server(request),
                                  workflow);
  }
  const std::string& server = l.server->name;
  auto fail = [&](mgmt::Failure member, const Error& e) {
    std::string message = fmt::format("{} of server {}: {}", workflow, server, e.message());
    log::error("{}", message);
    return CommandResult::failure(family, member, message, workflow);
  };
  auto opened = offsite::open_storage(engine, *ctx.config, *l.server);
  if (!opened) {
    return fail(mgmt::Failure::kEngine, opened.error());
  }
  storage::Storage& store = **opened;
  std::string prefix = requested_prefix(request);
  auto objects = store.list(server + "/" + prefix);
  if (!objects) {
    mgmt::Failure member = storage::kind(objects.error()) == storage::ErrorKind::kAuth
                               ? mgmt::Failure::kEngine
                               : mgmt::Failure::kError;
    return fail(member, objects.error());
  }
  auto labels = storage::remote_backups(store, server);
  if (!labels) {
    return fail(mgmt::Failure::kError, labels.error());
  }
  json list = json::array();
  uint64_t total = 0;
  for (const storage::ObjectInfo& o : *objects) {
    list.push_back({{"Key", o.key}, {"Size", o.size}});
    total += o.size;
  }
  json r;
  r["Server"] = server;
  r["Engine"] = std::string(storage::engine_name(engine));
  r["Prefix"] = prefix;
  r["Objects"] = list;
  r["NumberOfObjects"] = objects->size();
  r["TotalSize"] = total;
  r["Backups"] = *labels;
  return CommandResult::success(r);
}

// ---- restore ----------------------------------------------------------------------------------

namespace {

// Which member a storage or staging error belongs to.
mgmt::Failure member_of(const Error& e) {
  if (e.code() == ErrorCode::kCorruption) {
    return mgmt::Failure::kCorrupted;
  }
  switch (storage::kind(e)) {
    case storage::ErrorKind::kAuth:
      return mgmt::Failure::kEngine;
    case storage::ErrorKind::kNotFound:
      return mgmt::Failure::kNoBackup;
    case storage::ErrorKind::kRetryable:  // unreachable, throttled, timed out
    case storage::ErrorKind::kPermanent:
      break;
  }
  return mgmt::Failure::kDownload;
}

// The error family member of a failed staging step.
mgmt::Failure member_of(const offsite::StageFailure& f) {
  switch (f.step) {
    case offsite::StageStep::kEngine:
      return mgmt::Failure::kEngine;
    case offsite::StageStep::kSetup:
      return mgmt::Failure::kSetup;
    case offsite::StageStep::kVerify:
      return f.error.code() == ErrorCode::kConfig ? mgmt::Failure::kSetup
                                                  : mgmt::Failure::kCorrupted;
    case offsite::StageStep::kInfo:
      return mgmt::Failure::kCorrupted;
    case offsite::StageStep::kChoose:
    case offsite::StageStep::kDownload:
    case offsite::StageStep::kWal:
      break;
  }
  return member_of(f.error);
}

}  // namespace

CommandResult offsite_restore_command(const DaemonContext& ctx, Engine engine,
                                      const json& request) {
  RestoreCodes codes = restore_codes(engine);
  PreparedRestore p;
  if (auto failed = begin_restore(ctx, request, codes, p)) {
    return std::move(*failed);
  }
  const std::string& server = p.server->name;
  std::string server_dir = ctx.config->base_dir + "/" + server;
  mgmt::Family family = restore_family(engine);
  auto started = std::chrono::steady_clock::now();
  auto fail = [&](mgmt::Failure member, const std::string& cause) {
    std::string message = fmt::format("{} of server {}: {}", codes.workflow, server, cause);
    // A request naming no remote backup is the caller's mistake, like restore's "no such
    // backup": not an error of the daemon.
    if (member == mgmt::Failure::kNoBackup) {
      log::warn("{}", message);
    } else {
      p.state->failed_operation_count.fetch_add(1);
      log::error("{} (peak_rss_kb={})", message, peak_rss_kb());
    }
    return CommandResult::failure(family, member, message, codes.workflow);
  };

  offsite::remove_stale_staging(server_dir);
  offsite::StageRequest stage;
  stage.engine = engine;
  stage.config = ctx.config.get();
  stage.server = p.server;
  stage.key = ctx.master_key.get();
  stage.state = p.state;
  stage.id = string_arg(request, mgmt::key::kBackup);
  stage.position = p.position;
  stage.directory = p.directory;
  stage.staging = fmt::format("{}/{}{}", server_dir, offsite::kStagingPrefix, ::getpid());
  if (auto made = io::make_directories(stage.staging, 0700); !made) {
    return fail(mgmt::Failure::kSetup, made.error().message());
  }
  ScopeExit cleanup([&stage] {
    std::error_code ec;
    fs::remove_all(stage.staging, ec);
    if (ec) {
      log::warn("remove {}: {}", stage.staging, ec.message());
    }
  });
  log::info("{} of backup {} of server {} started (staging {})", codes.workflow, stage.id, server,
            stage.staging);

  auto staged = offsite::stage_remote_backup(stage);
  if (!staged) {
    return fail(member_of(staged.error()), staged.error().message);
  }
  p.wal_dir = staged->wal_dir;
  double download_seconds = seconds_since(started);
  if (auto failed = select_restore_backup(ctx, staged->label, staged->backup_root, codes, p)) {
    return std::move(*failed);
  }
  CommandResult result = execute_restore(ctx, request, codes, p);
  if (!result.ok) {
    return result;  // execute_restore logged and counted it
  }
  result.response["Engine"] = std::string(storage::engine_name(engine));
  result.response["DownloadedBytes"] = staged->downloaded;
  log::info(
      "{} of backup {} of server {} done: downloaded {} bytes in {:.2f} s, {:.2f} s in all, "
      "peak_rss_kb={}",
      codes.workflow, staged->label, server, staged->downloaded, download_seconds,
      seconds_since(started), peak_rss_kb());
  return result;
}

CommandResult commands::s3_ls(const Call& c) {
  return offsite_ls_command(c.ctx, Engine::kS3, c.request);
}
CommandResult commands::s3_restore(const Call& c) {
  return offsite_restore_command(c.ctx, Engine::kS3, c.request);
}
CommandResult commands::azure_ls(const Call& c) {
  return offsite_ls_command(c.ctx, Engine::kAzure, c.request);
}
CommandResult commands::azure_restore(const Call& c) {
  return offsite_restore_command(c.ctx, Engine::kAzure, c.request);
}
CommandResult commands::ssh_ls(const Call& c) {
  return offsite_ls_command(c.ctx, Engine::kSsh, c.request);
}
CommandResult commands::ssh_restore(const Call& c) {
  return offsite_restore_command(c.ctx, Engine::kSsh, c.request);
}

}  // namespace pgm::daemon
