// Cross-key validation of a Config (reference §5.2 and §5.3).
#include <algorithm>
#include <filesystem>
#include <set>

#include <fmt/format.h>

#include "pgm/config/keys_internal.h"

namespace pgm::config {

namespace {

// Returns "" when `r` satisfies the retention ranges of reference §5.2.
std::string check_retention(const Retention& r) {
  if (r.days && *r.days < 1) {
    return fmt::format("days must be at least 1, got {}", *r.days);
  }
  if (r.weeks && *r.weeks < 1) {
    return fmt::format("weeks must be at least 1, got {}", *r.weeks);
  }
  if (r.weeks && r.months && *r.weeks > 4) {
    return fmt::format("weeks must be at most 4 when months is set, got {}", *r.weeks);
  }
  if (r.months && *r.months < 1) {
    return fmt::format("months must be at least 1, got {}", *r.months);
  }
  if (r.months && r.years && *r.months > 12) {
    return fmt::format("months must be at most 12 when years is set, got {}", *r.months);
  }
  if (r.years && *r.years < 1) {
    return fmt::format("years must be at least 1, got {}", *r.years);
  }
  return "";
}

class Checker {
 public:
  void error(int server, std::string key, std::string message) {
    problems_.push_back(Problem{true, server, std::move(key), std::move(message)});
  }
  void warn(int server, std::string key, std::string message) {
    problems_.push_back(Problem{false, server, std::move(key), std::move(message)});
  }
  void require(int server, const std::string& value, std::string key, std::string_view section,
               std::string_view reason = "") {
    if (value.empty()) {
      error(server, std::move(key),
            fmt::format("required key missing in [{}]{}{}{}", section, reason.empty() ? "" : " (",
                        reason, reason.empty() ? "" : ")"));
    }
  }
  std::vector<Problem> take() { return std::move(problems_); }

 private:
  std::vector<Problem> problems_;
};

void check_main(const Config& c, Checker& check) {
  check.require(-1, c.host, "host", "pgmoneta");
  check.require(-1, c.unix_socket_dir, "unix_socket_dir", "pgmoneta");
  check.require(-1, c.base_dir, "base_dir", "pgmoneta");
  if (std::string why = check_retention(c.retention); !why.empty()) {
    check.error(-1, "retention", why);
  }
  // Two listeners cannot share a port.
  const std::pair<const char*, int> ports[] = {{"metrics", c.metrics},
                                               {"management", c.management},
                                               {"console", c.console},
                                               {"nagios", c.nagios}};
  for (size_t i = 0; i < std::size(ports); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ports[i].second != 0 && ports[i].second == ports[j].second) {
        check.error(-1, ports[i].first,
                    fmt::format("port {} is already used by {}", ports[i].second, ports[j].first));
      }
    }
  }
  if (c.console != 0 && c.metrics == 0) {
    check.warn(-1, "console", "the console needs the metrics port; it stays off");
  }
  if (c.tls) {
    check.require(-1, c.tls_cert_file, "tls_cert_file", "pgmoneta", "tls = on");
    check.require(-1, c.tls_key_file, "tls_key_file", "pgmoneta", "tls = on");
  }
  if (c.storage_engine.ssh) {
    check.require(-1, c.ssh_hostname, "ssh_hostname", "pgmoneta", "storage_engine includes ssh");
    check.require(-1, c.ssh_username, "ssh_username", "pgmoneta", "storage_engine includes ssh");
    check.require(-1, c.ssh_base_dir, "ssh_base_dir", "pgmoneta", "storage_engine includes ssh");
  }
  if (c.storage_engine.azure) {
    check.require(-1, c.azure_storage_account, "azure_storage_account", "pgmoneta",
                  "storage_engine includes azure");
    check.require(-1, c.azure_container, "azure_container", "pgmoneta",
                  "storage_engine includes azure");
    check.require(-1, c.azure_shared_key, "azure_shared_key", "pgmoneta",
                  "storage_engine includes azure");
  }
}

// Whether `path` is `area` or inside it, compared as written (lexically normalised): the
// configuration is checked before anything exists on disk.
bool path_within(const std::string& path, const std::string& area) {
  namespace fs = std::filesystem;
  const fs::path p = fs::path(path).lexically_normal();
  const fs::path a = fs::path(area).lexically_normal();
  auto [ai, pi] = std::mismatch(a.begin(), a.end(), p.begin(), p.end());
  return ai == a.end() || (std::next(ai) == a.end() && ai->empty());
}

// A hot standby copy (<dir>/<server>) is removed and replaced after each backup: never where
// the repository or a workspace is, nor twice in one server.
void check_hot_standby(const Config& c, int index, Checker& check) {
  const ServerConfig& s = c.servers[static_cast<size_t>(index)];
  std::set<std::string> seen;
  for (const std::string& dir : s.hot_standby) {
    if (dir.empty() || dir.front() != '/') {
      check.error(index, "hot_standby", fmt::format("{} is not an absolute path", dir));
      continue;
    }
    const std::pair<const char*, std::string> areas[] = {
        {"base_dir", c.base_dir}, {"workspace", c.workspace}, {"workspace", s.workspace}};
    for (const auto& [what, area] : areas) {
      if (area.empty()) {
        continue;
      }
      if (path_within(dir, area)) {
        check.error(index, "hot_standby",
                    fmt::format("{} is inside the {} {}: the copy would be written there", dir,
                                what, area));
      } else if (path_within(area, dir + "/" + s.name)) {
        check.error(index, "hot_standby",
                    fmt::format("the {} {} is inside the copy {}/{}, which each backup replaces",
                                what, area, dir, s.name));
      }
    }
    std::string normal = std::filesystem::path(dir + "/").lexically_normal().string();
    if (!seen.insert(normal).second) {
      check.error(index, "hot_standby", fmt::format("{} is given twice", dir));
    }
  }
  for (size_t i = 0; i < s.hot_standby_overrides.size() && i < s.hot_standby.size(); ++i) {
    const std::string& overrides = s.hot_standby_overrides[i];
    if (!overrides.empty() && path_within(overrides, s.hot_standby[i] + "/" + s.name)) {
      check.error(index, "hot_standby_overrides",
                  fmt::format("{} is inside the copy it overrides", overrides));
    }
  }
}

void check_server(const Config& c, int index, const std::set<std::string>& names, Checker& check) {
  const ServerConfig& s = c.servers[static_cast<size_t>(index)];
  if (s.name == "pgmoneta" || s.name == "all") {
    check.error(index, "[" + s.name + "]", "reserved name, cannot be a server section");
  }
  check.require(index, s.host, "host", s.name);
  if (s.port == 0) {
    check.error(index, "port", fmt::format("required key missing in [{}]", s.name));
  }
  check.require(index, s.user, "user", s.name);
  check.require(index, s.wal_slot, "wal_slot", s.name);
  if (!s.follow.empty()) {
    if (s.follow == s.name) {
      check.error(index, "follow", "a server cannot follow itself");
    } else if (names.count(s.follow) == 0) {
      check.error(index, "follow", fmt::format("no server named \"{}\"", s.follow));
    }
  }
  if (std::string why = check_retention(effective_retention(c, s)); !why.empty()) {
    check.error(index, "retention", why);
  }
  if (c.storage_engine.s3) {
    // Each S3 key may come from the server section or from [pgmoneta].
    const std::pair<const char*, std::string> s3[] = {
        {"s3_region", s.s3_region.value_or(c.s3_region)},
        {"s3_access_key_id", s.s3_access_key_id.value_or(c.s3_access_key_id)},
        {"s3_secret_access_key", s.s3_secret_access_key.value_or(c.s3_secret_access_key)},
        {"s3_bucket", s.s3_bucket.value_or(c.s3_bucket)}};
    for (const auto& [key, value] : s3) {
      check.require(index, value, key, s.name + "] or [pgmoneta", "storage_engine includes s3");
    }
  }
  if (s.hot_standby.size() > kMaxHotStandbys) {
    check.error(index, "hot_standby",
                fmt::format("{} directories given, at most {} allowed", s.hot_standby.size(),
                            kMaxHotStandbys));
  }
  if (s.hot_standby_overrides.size() > s.hot_standby.size()) {
    check.error(index, "hot_standby_overrides",
                fmt::format("{} override sets for {} hot_standby directories",
                            s.hot_standby_overrides.size(), s.hot_standby.size()));
  }
  if (s.hot_standby_tablespaces.size() > s.hot_standby.size()) {
    check.error(index, "hot_standby_tablespaces",
                fmt::format("{} mapping sets for {} hot_standby directories",
                            s.hot_standby_tablespaces.size(), s.hot_standby.size()));
  }
  check_hot_standby(c, index, check);
}

}  // namespace

std::vector<Problem> validate(const Config& config) {
  Checker check;
  check_main(config, check);
  if (config.servers.size() > kMaxServers) {
    check.error(static_cast<int>(kMaxServers), "[" + config.servers[kMaxServers].name + "]",
                fmt::format("too many servers (at most {})", kMaxServers));
  }
  std::set<std::string> names;
  for (size_t i = 0; i < config.servers.size(); ++i) {
    const std::string& name = config.servers[i].name;
    if (!names.insert(name).second) {
      check.error(static_cast<int>(i), "[" + name + "]", "duplicate server section");
    }
  }
  for (size_t i = 0; i < config.servers.size(); ++i) {
    check_server(config, static_cast<int>(i), names, check);
  }
  return check.take();
}

}  // namespace pgm::config
