#include "pgm/config/config.h"

#include <unistd.h>

#include <set>

#include <fmt/format.h>

#include "pgm/config/keys_internal.h"
#include "pgm/config/parser.h"
#include "pgm/io/file.h"

namespace pgm::config {

namespace {

class Loader {
 public:
  Loader(const std::string& file, const EnvLookup& env)
      : file_(file), env_(env), config_(std::make_shared<Config>()) {
    config_->origin.file = file;
  }

  Result<Loaded> run(const IniDocument& doc) {
    bool have_main = false;
    std::set<std::string> seen;
    for (const IniSection& section : doc.sections) {
      if (section.name.empty()) {
        for (const IniEntry& e : section.entries) {
          warn(e.line, e.key, "outside of any section; ignored");
        }
        continue;
      }
      if (!seen.insert(section.name).second) {
        return fail(section.line, "[" + section.name + "]", "duplicate section");
      }
      if (section.name == "pgmoneta") {
        have_main = true;
        config_->origin.line = section.line;
      } else if (section.name == "all") {
        return fail(section.line, "[all]", "reserved name, cannot be a server section");
      } else if (config_->servers.size() >= kMaxServers) {
        return fail(section.line, "[" + section.name + "]",
                    fmt::format("too many servers (at most {})", kMaxServers));
      }
      PGM_TRY(apply_section(section));
    }
    if (!have_main) {
      return fail(1, "[pgmoneta]",
                  "section missing (it must set host, unix_socket_dir and base_dir)");
    }
    fill_defaults();
    for (const Problem& p : validate(*config_)) {
      const Origin& origin =
          p.server < 0 ? config_->origin : config_->servers[static_cast<size_t>(p.server)].origin;
      if (p.error) {
        return fail(origin.line_of(p.key), p.key, p.message);
      }
      warn(origin.line_of(p.key), p.key, p.message);
    }
    return Loaded{std::move(config_), std::move(warnings_)};
  }

 private:
  Result<void> apply_section(const IniSection& section) {
    const bool is_main = section.name == "pgmoneta";
    ServerConfig* server = nullptr;
    Origin* origin = &config_->origin;
    if (!is_main) {
      server = &config_->servers.emplace_back();
      server->name = section.name;
      server->origin.file = file_;
      server->origin.line = section.line;
      origin = &server->origin;
    }
    for (const IniEntry& e : section.entries) {
      const KeyDef* def = find_key(e.key);
      if (def == nullptr) {
        warn(e.line, e.key, fmt::format("unknown key in [{}]; ignored", section.name));
        continue;
      }
      if (is_main ? def->set_main == nullptr : def->set_server == nullptr) {
        warn(e.line, e.key,
             is_main ? "only valid in a server section; ignored in [pgmoneta]"
                     : fmt::format("only valid in [pgmoneta]; ignored in [{}]", section.name));
        continue;
      }
      std::string value = e.value;
      if (def->path) {
        auto interpolated = interpolate_env(value, env_);
        if (!interpolated) {
          return fail(e.line, e.key, interpolated.error().message());
        }
        value = std::move(*interpolated);
      }
      std::string note;
      auto applied =
          is_main ? def->set_main(*config_, value, note) : def->set_server(*server, value, note);
      if (!applied) {
        return fail(e.line, e.key, applied.error().message());
      }
      if (!note.empty()) {
        warn(e.line, e.key, note);
      }
      const std::string canonical(def->name);
      if (origin->keys.count(canonical) != 0) {
        warn(e.line, e.key,
             fmt::format("set again in [{}] (first on line {}); the last value wins", section.name,
                         origin->keys[canonical]));
      }
      origin->keys[canonical] = e.line;
    }
    return {};
  }

  void fill_defaults() {
    Config& c = *config_;
    if (c.origin.keys.count("pidfile") == 0 && !c.unix_socket_dir.empty()) {
      c.pidfile = default_pidfile(c);
    }
    if (c.workspace.empty()) {
      std::string tmp = env_("TMPDIR").value_or("");
      if (tmp.empty()) {
        tmp = "/tmp";
      }
      while (tmp.size() > 1 && tmp.back() == '/') {
        tmp.pop_back();
      }
      c.workspace = fmt::format("{}/pgmoneta-workspace-{}/", tmp, ::getuid());
    }
    if (std::optional<std::string> home = env_("HOME"); home && !home->empty()) {
      if (c.ssh_private_key_file.empty()) {
        c.ssh_private_key_file = *home + "/.ssh/id_rsa";
      }
      if (c.ssh_public_key_file.empty()) {
        c.ssh_public_key_file = *home + "/.ssh/id_rsa.pub";
      }
      if (c.ssh_known_hosts_file.empty()) {
        c.ssh_known_hosts_file = *home + "/.ssh/known_hosts";
      }
    }
  }

  tl::unexpected<Error> fail(int line, std::string_view key, const std::string& what) const {
    return make_error(ErrorCode::kConfig, fmt::format("{}:{}: {}: {}", file_, line, key, what));
  }
  void warn(int line, std::string key, std::string message) {
    warnings_.push_back(Warning{file_, line, std::move(key), std::move(message)});
  }

  const std::string& file_;
  const EnvLookup& env_;
  std::shared_ptr<Config> config_;
  std::vector<Warning> warnings_;
};

std::string join_path(const std::string& dir, std::string_view name) {
  if (!dir.empty() && dir.back() == '/') {
    return dir + std::string(name);
  }
  return fmt::format("{}/{}", dir, name);
}

}  // namespace

std::string Warning::to_string() const {
  return fmt::format("{}:{}: {}: {}", file, line, key, message);
}

Result<Loaded> parse_config(std::string_view text, const std::string& file_name,
                            const EnvLookup& env) {
  PGM_ASSIGN_OR_RETURN(IniDocument doc, parse_ini(text, file_name));
  return Loader(file_name, env).run(doc);
}

Result<Loaded> load_config(const std::string& path, const EnvLookup& env) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  return parse_config(text, path, env);
}

ConfigPaths resolve_paths(std::optional<std::string> c, std::optional<std::string> u,
                          std::optional<std::string> a, std::optional<std::string> d,
                          const EnvLookup& env) {
  std::string dir(kDefaultConfigDir);
  if (d && !d->empty()) {
    dir = *d;
  } else if (std::optional<std::string> from_env = env("PGMONETA_CONFIG_DIR");
             from_env && !from_env->empty()) {
    dir = *from_env;
  }
  ConfigPaths paths;
  paths.main = c ? std::move(*c) : join_path(dir, "pgmoneta.conf");
  paths.users = u ? std::move(*u) : join_path(dir, "pgmoneta_users.conf");
  paths.admins = a ? std::move(*a) : join_path(dir, "pgmoneta_admins.conf");
  return paths;
}

const ServerConfig* find_server(const Config& config, std::string_view name) {
  for (const ServerConfig& s : config.servers) {
    if (s.name == name) {
      return &s;
    }
  }
  return nullptr;
}

}  // namespace pgm::config
