#include "pgm/daemon/commands/hot_standby.h"

#include <chrono>
#include <vector>

#include <fmt/format.h>

#include "pgm/activity/repository_state.h"
#include "pgm/daemon/commands/support.h"
#include "pgm/log/log.h"
#include "pgm/restore/hot_standby.h"

namespace pgm::daemon {
namespace {

std::string without_trailing_slash(std::string path) {
  while (path.size() > 1 && path.back() == '/') {
    path.pop_back();
  }
  return path;
}

}  // namespace

nlohmann::json update_hot_standbys(const DaemonContext& ctx, const config::ServerConfig& s,
                                   ServerState& state, const std::string& backup_dir,
                                   const backup::BackupInfo& info) {
  nlohmann::json out = nlohmann::json::array();
  if (s.hot_standby.empty()) {
    return out;
  }
  bool all_ok = true;
  for (size_t i = 0; i < s.hot_standby.size(); ++i) {
    restore::HotStandbyOptions o;
    o.backup_dir = backup_dir;
    o.info = info;
    o.key = ctx.master_key.get();
    o.workers = workers_for(*ctx.config, s);
    o.server = s.name;
    o.directory = without_trailing_slash(s.hot_standby[i]);
    o.index = static_cast<int>(i);
    if (i < s.hot_standby_overrides.size()) {
      o.overrides = s.hot_standby_overrides[i];
    }
    if (i < s.hot_standby_tablespaces.size()) {
      for (const config::TablespaceMapping& m : s.hot_standby_tablespaces[i]) {
        o.tablespaces.push_back({m.from, m.to});
      }
    }
    nlohmann::json entry = {{"Directory", o.directory + "/" + s.name}};
    auto r = restore::update_hot_standby(o);
    if (r) {
      log::info(
          "hot standby {} of server {} updated to backup {}: {} file(s) written ({} bytes), {} "
          "unchanged file(s) linked ({} bytes), {} override file(s), {:.2f} s",
          r->copy, s.name, info.label, r->written_files, r->written_bytes, r->reused_files,
          r->reused_bytes, r->override_files, r->elapsed.count());
      entry["Updated"] = true;
      entry["FilesWritten"] = r->written_files;
      entry["BytesWritten"] = r->written_bytes;
      entry["FilesReused"] = r->reused_files;
      entry["BytesReused"] = r->reused_bytes;
      entry["Elapsed"] = r->elapsed.count();
    } else {
      all_ok = false;
      log::error(
          "hot standby {}/{} of server {} not updated to backup {}: {}; the backup itself is "
          "complete and valid, the previous copy is kept",
          o.directory, s.name, s.name, info.label, r.error().message());
      entry["Updated"] = false;
      entry["Error"] = r.error().message();
    }
    out.push_back(std::move(entry));
  }
  state.hot_standby_ok.store(all_ok ? 1 : 0);
  state.hot_standby_time.store(wall_clock_ms() / 1000);
  if (!all_ok) {
    state.hot_standby_failures.fetch_add(1);
  }
  return out;
}

std::vector<std::string> hot_standby_copies(const config::ServerConfig& server) {
  std::vector<std::string> copies;
  for (const std::string& dir : server.hot_standby) {
    copies.push_back(without_trailing_slash(dir) + "/" + server.name);
  }
  return copies;
}

uint64_t hot_standby_size(const config::ServerConfig& server) {
  uint64_t total = 0;
  for (const std::string& copy : hot_standby_copies(server)) {
    total += directory_size(copy);
  }
  return total;
}

void clear_hot_standby_leftovers(const config::Config& config) {
  for (const config::ServerConfig& s : config.servers) {
    for (const std::string& copy : hot_standby_copies(s)) {
      if (restore::clear_replace_leftovers(copy)) {
        log::info("hot standby {}: leftovers of an interrupted update cleared", copy);
      }
    }
  }
}

}  // namespace pgm::daemon
