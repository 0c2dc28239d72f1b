// pgmoneta: the daemon's entry point. Parses arguments, reads the configuration, refuses
// root, optionally daemonizes, and hands over to Server.
#include <unistd.h>

#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgm/config/config.h"
#include "pgm/daemon/process_title.h"
#include "pgm/daemon/server.h"
#include "pgm/log/log.h"
#include "pgm/version.h"

namespace {

int fail(const std::string& message) {
  std::fprintf(stderr, "pgmoneta: %s\n", message.c_str());
  return 1;
}

// Classic double fork: the daemon is no process-group leader and has no terminal.
bool daemonize() {
  pid_t pid = ::fork();
  if (pid < 0) {
    return false;
  }
  if (pid > 0) {
    ::_exit(0);
  }
  if (::setsid() < 0) {
    return false;
  }
  pid = ::fork();
  if (pid < 0) {
    return false;
  }
  if (pid > 0) {
    ::_exit(0);
  }
  std::FILE* null_in = std::freopen("/dev/null", "r", stdin);
  std::FILE* null_out = std::freopen("/dev/null", "w", stdout);
  std::FILE* null_err = std::freopen("/dev/null", "w", stderr);
  return null_in != nullptr && null_out != nullptr && null_err != nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"pgmoneta: continuous backup and restore daemon for PostgreSQL"};
  app.set_help_flag("-?,--help", "Show this help and exit");
  std::optional<std::string> config_path;
  std::optional<std::string> users_path;
  std::optional<std::string> admins_path;
  std::optional<std::string> config_dir;
  bool daemon_mode = false;
  bool version = false;
  app.add_option("-c,--config", config_path, "pgmoneta.conf (default /etc/pgmoneta/pgmoneta.conf)");
  app.add_option("-u,--users", users_path,
                 "users vault (default <config dir>/pgmoneta_users.conf)");
  app.add_option("-A,--admins", admins_path,
                 "admins vault (default <config dir>/pgmoneta_admins.conf)");
  app.add_option("-D,--directory", config_dir,
                 "configuration directory (also PGMONETA_CONFIG_DIR); -c/-u/-A win over it");
  app.add_flag("-d,--daemon", daemon_mode, "Run in the background (not with log_type = console)");
  app.add_flag("-V,--version", version, "Print the version and exit");
  app.footer(
      "Signals: SIGHUP reloads the configuration, SIGUSR1 restarts the TCP services,\n"
      "SIGTERM/SIGINT/SIGALRM shut down, SIGABRT dumps core.\n"
      "Exit codes: 0 clean shutdown, 1 start-up or configuration error.");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  if (version) {
    std::printf("pgmoneta %s\n", pgm::kVersion);
    return 0;
  }
  if (::getuid() == 0 || ::geteuid() == 0) {
    return fail("using the root account is not allowed");
  }

  pgm::config::ConfigPaths paths = pgm::config::resolve_paths(
      config_path, users_path, admins_path, config_dir, pgm::config::process_env());
  auto loaded = pgm::config::load_config(paths.main);
  if (!loaded) {
    return fail(loaded.error().message());
  }
  for (const auto& w : loaded->warnings) {
    std::fprintf(stderr, "pgmoneta: warning: %s\n", w.to_string().c_str());
  }
  const pgm::config::Config& c = *loaded->config;
  if (daemon_mode && c.log_type == pgm::config::LogType::kConsole) {
    return fail("daemon mode (-d) needs log_type = file or syslog");
  }
  if (auto r = pgm::log::configure(pgm::daemon::log_options(c)); !r) {
    return fail(fmt::format("logging: {}", r.error().message()));
  }
  for (const auto& w : loaded->warnings) {
    pgm::log::warn("{}", w.to_string());
  }
  if (daemon_mode && !daemonize()) {
    return fail("cannot daemonize");
  }

  // Children show what they do in ps; argv is not read after this point.
  pgm::daemon::init_process_title(argc, argv);
  // After daemonizing: only the process that stays may notify systemd.
  auto server = pgm::daemon::Server::create(
      {paths, std::move(*loaded), pgm::daemon::SystemdNotifier::from_environment()});
  if (!server) {
    pgm::log::fatal("{}", server.error().message());
    if (c.log_type != pgm::config::LogType::kConsole) {
      std::fprintf(stderr, "pgmoneta: %s\n", server.error().message().c_str());
    }
    return 1;
  }
  return (*server)->run();
}
