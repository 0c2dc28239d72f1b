// DaemonInstance: one pgmoneta daemon under test, with its own temp dir, config files, master key,
// users/admins vaults, and pgmoneta-cli helpers. Not thread-safe.
//
// Layout under the temp dir: bin/ (copied binaries), home/ (HOME, holds .pgmoneta/master.key),
// sock/ (unix_socket_dir), base/ (base_dir), pgmoneta.conf, pgmoneta_users.conf,
// pgmoneta_admins.conf, pgmoneta_cli.conf, pgmoneta.log, daemon.stdout, daemon.stderr.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "integration/process.h"
#include <nlohmann/json.hpp>

namespace pgm::testing {

class PostgresInstance;

// An ordered INI document; write() renders it and remembers the line of each key.
class IniConfig {
 public:
  void set(const std::string& section, const std::string& key, const std::string& value);
  void erase(const std::string& section, const std::string& key);
  std::optional<std::string> get(const std::string& section, const std::string& key) const;
  std::string render() const;
  // 1-based line number of `key` in render()'s output, 0 when absent.
  int line_of(const std::string& section, const std::string& key) const;

 private:
  struct Section {
    std::string name;
    std::vector<std::pair<std::string, std::string>> keys;
  };
  std::vector<Section> sections_;
};

struct CliResult {
  CommandOutput output;
  std::optional<nlohmann::json> json;  // parsed stdout for -F json/raw
  int exit_code() const { return output.exit_code; }
  const std::string& out() const { return output.out; }
  const std::string& err() const { return output.err; }
  std::string describe() const { return output.describe(); }
};

class DaemonInstance {
 public:
  static constexpr const char* kMasterPassword = "master-password-for-tests";
  static constexpr const char* kAdminUser = "admin";
  static constexpr const char* kAdminPassword = "admin-secret-1";

  // `pg` (may be null) provides the [primary] section; it must outlive this object.
  explicit DaemonInstance(const PostgresInstance* pg);
  DaemonInstance(const DaemonInstance&) = delete;
  DaemonInstance& operator=(const DaemonInstance&) = delete;
  ~DaemonInstance();  // stop(): never leaks the daemon or its children

  IniConfig& config() { return config_; }
  // Environment variables the daemon is started with (next start()).
  std::map<std::string, std::string>& env() { return env_; }
  const TempDir& dir() const { return dir_; }
  std::string config_path() const { return dir_ / "pgmoneta.conf"; }
  std::string users_path() const { return dir_ / "pgmoneta_users.conf"; }
  std::string admins_path() const { return dir_ / "pgmoneta_admins.conf"; }
  std::string cli_config_path() const { return dir_ / "pgmoneta_cli.conf"; }
  std::string log_path() const { return dir_ / "pgmoneta.log"; }
  std::string bin(const std::string& name) const { return dir_ / ("bin/" + name); }
  std::string home() const { return dir_ / "home"; }
  // unix_socket_dir the running daemon was started with (config changes don't move it).
  const std::string& socket_dir() const { return socket_dir_; }
  std::string socket_path() const { return socket_dir_ + "/.s.pgmoneta"; }
  std::string pid_file() const;

  // Binaries, master key, vaults (once), then config files. Returns an error, empty on success.
  std::string prepare();
  // (Re)writes pgmoneta.conf from config().
  void write_config();
  // prepare() + start + wait until `ping` answers (20 s; not when `wait_for_ping` is false).
  // Returns an error, empty on success.
  std::string start(bool wait_for_ping = true);
  // Starts without waiting (for tests expecting a failure). `drop` false keeps root.
  Process launch(bool drop_privileges = true);
  // SIGTERM, wait `timeout`, then SIGKILL. Returns the exit status (nullopt when it had to be
  // killed or was not running).
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(15));
  Process& process() { return process_; }
  pid_t pid() const { return process_.pid(); }

  std::string log() const { return read_text(log_path()); }
  std::string stderr_text() const { return read_text(dir_ / "daemon.stderr"); }
  // Waits until the log contains `needle` (true) or `timeout` passes.
  bool wait_for_log(const std::string& needle,
                    std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Log lines at ERROR or FATAL level not containing any of `expected`.
  std::vector<std::string> unexpected_errors(const std::vector<std::string>& expected) const;

  // Runs pgmoneta-cli -c <cli conf> [-F format] args...; json is parsed for json/raw.
  CliResult cli(const std::vector<std::string>& args, const std::string& format = "",
                const std::string& cli_config = "",
                std::chrono::seconds timeout = std::chrono::seconds(60)) const;
  // pgmoneta-cli over remote management, without the unix-socket configuration:
  // -h 127.0.0.1 -p <port> -U <user> -P <password> args..., with home(). For run_command or
  // Process::start.
  ProcessOptions remote_cli_options(int port, const std::vector<std::string>& args,
                                    const std::string& user = kAdminUser,
                                    const std::string& password = kAdminPassword) const;
  // Runs pgmoneta-admin with PGMONETA_PASSWORD=password.
  CommandOutput admin(const std::vector<std::string>& args, const std::string& password) const;

 private:
  const PostgresInstance* pg_;
  TempDir dir_;
  IniConfig config_;
  std::string socket_dir_;
  bool prepared_ = false;
  std::map<std::string, std::string> env_;
  Process process_;
};

// pgmoneta's management frame: u8 compression, u8 encryption, u32 BE length, payload.
std::string encode_frame(const std::string& payload, uint8_t compression = 0,
                         uint8_t encryption = 0);
// A request document like pgmoneta-cli sends for `command` (numeric code).
std::string request_json(int command, const nlohmann::json& request = nlohmann::json::object());
// Connects to a unix socket, sends `bytes`, reads one response frame (timeout). Returns the
// payload, or nullopt with `error` set.
std::optional<std::string> exchange_frame(const std::string& socket_path, const std::string& bytes,
                                          std::chrono::milliseconds timeout, std::string* error);

}  // namespace pgm::testing
