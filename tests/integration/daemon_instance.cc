#include "integration/daemon_instance.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <ctime>
#include <sstream>
#include <system_error>
#include <thread>

#include "integration/postgres_instance.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/core/unique_fd.h"

namespace pgm::testing {

namespace {
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

bool is_error_line(const std::string& line) {
  for (const char* label : {"ERROR", "FATAL"}) {
    std::string word(label);
    if (line.rfind(word + " ", 0) == 0 || line.find(" " + word + " ") != std::string::npos) {
      return true;
    }
  }
  return false;
}
}  // namespace

// ---- IniConfig ----

void IniConfig::set(const std::string& section, const std::string& key, const std::string& value) {
  auto s = std::find_if(sections_.begin(), sections_.end(),
                        [&](const Section& x) { return x.name == section; });
  if (s == sections_.end()) {
    sections_.push_back(Section{section, {}});
    s = sections_.end() - 1;
  }
  for (auto& kv : s->keys) {
    if (kv.first == key) {
      kv.second = value;
      return;
    }
  }
  s->keys.emplace_back(key, value);
}

void IniConfig::erase(const std::string& section, const std::string& key) {
  for (Section& s : sections_) {
    if (s.name == section) {
      std::erase_if(s.keys, [&](const auto& kv) { return kv.first == key; });
    }
  }
}

std::optional<std::string> IniConfig::get(const std::string& section,
                                          const std::string& key) const {
  for (const Section& s : sections_) {
    if (s.name != section) {
      continue;
    }
    for (const auto& kv : s.keys) {
      if (kv.first == key) {
        return kv.second;
      }
    }
  }
  return std::nullopt;
}

std::string IniConfig::render() const {
  std::string out = "# written by the integration test harness\n";
  for (const Section& s : sections_) {
    out += "\n[" + s.name + "]\n";
    for (const auto& [k, v] : s.keys) {
      out.append(k).append(" = ").append(v).append("\n");
    }
  }
  return out;
}

int IniConfig::line_of(const std::string& section, const std::string& key) const {
  int line = 1;  // the comment
  for (const Section& s : sections_) {
    line += 2;  // blank line, header
    for (const auto& kv : s.keys) {
      ++line;
      if (s.name == section && kv.first == key) {
        return line;
      }
    }
  }
  return 0;
}

// ---- DaemonInstance ----

DaemonInstance::DaemonInstance(const PostgresInstance* pg) : pg_(pg), dir_("pgm-it") {
  socket_dir_ = dir_ / "sock";
  config_.set("pgmoneta", "host", "localhost");
  config_.set("pgmoneta", "unix_socket_dir", socket_dir_);
  config_.set("pgmoneta", "base_dir", dir_ / "base");
  config_.set("pgmoneta", "log_type", "file");
  config_.set("pgmoneta", "log_path", log_path());
  config_.set("pgmoneta", "log_level", "info");
  config_.set("pgmoneta", "compression", "zstd");
  config_.set("pgmoneta", "retention", "7");
  if (pg_ != nullptr) {
    config_.set("primary", "host", pg_->socket_dir());
    config_.set("primary", "port", std::to_string(pg_->port()));
    config_.set("primary", "user", PostgresInstance::kReplUser);
    config_.set("primary", "wal_slot", "repl");
    config_.set("primary", "create_slot", "yes");
  }
}

DaemonInstance::~DaemonInstance() { stop(seconds(5)); }

std::string DaemonInstance::pid_file() const {
  std::string host = config_.get("pgmoneta", "host").value_or("localhost");
  return socket_dir_ + "/pgmoneta." + (host == "*" ? std::string("all") : host) + ".pid";
}

ProcessOptions DaemonInstance::remote_cli_options(int port, const std::vector<std::string>& args,
                                                  const std::string& user,
                                                  const std::string& password) const {
  ProcessOptions o;
  o.argv = {bin("pgmoneta-cli"),
            "-h",
            "127.0.0.1",
            "-p",
            std::to_string(port),
            "-U",
            user,
            "-P",
            password};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.home = home();
  return o;
}

CommandOutput DaemonInstance::admin(const std::vector<std::string>& args,
                                    const std::string& password) const {
  ProcessOptions o;
  o.argv = {bin("pgmoneta-admin")};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.home = home();
  o.env["PGMONETA_PASSWORD"] = password;
  return run_command(o, seconds(60));
}

std::string DaemonInstance::prepare() {
  if (!prepared_) {
    if (std::string err = install_binaries(dir_ / "bin"); !err.empty()) {
      return err;
    }
    dir_.make_dir("home");
    dir_.make_dir("sock");
    dir_.make_dir("base");
    CommandOutput r = admin({"master-key"}, kMasterPassword);
    if (r.exit_code != 0) {
      return "pgmoneta-admin master-key failed: " + r.describe();
    }
    r = admin({"-f", users_path(), "-U", PostgresInstance::kReplUser, "user", "add"},
              PostgresInstance::kReplPassword);
    if (r.exit_code != 0) {
      return "pgmoneta-admin user add (users) failed: " + r.describe();
    }
    r = admin({"-f", admins_path(), "-U", kAdminUser, "user", "add"}, kAdminPassword);
    if (r.exit_code != 0) {
      return "pgmoneta-admin user add (admins) failed: " + r.describe();
    }
    prepared_ = true;
  }
  write_config();
  return "";
}

void DaemonInstance::write_config() {
  dir_.write_file("pgmoneta.conf", config_.render());
  socket_dir_ = config_.get("pgmoneta", "unix_socket_dir").value_or(socket_dir_);
  if (!process_.running()) {
    dir_.write_file("pgmoneta_cli.conf", "[pgmoneta]\nunix_socket_dir = " + socket_dir_ + "\n");
  }
}

Process DaemonInstance::launch(bool drop_privileges) {
  ProcessOptions o;
  o.argv = {bin("pgmoneta"), "-c", config_path(), "-u", users_path(), "-A", admins_path()};
  o.home = home();
  o.drop_privileges = drop_privileges;
  o.env = env_;
  o.stdout_path = dir_ / "daemon.stdout";
  o.stderr_path = dir_ / "daemon.stderr";
  return Process::start(o);
}

std::string DaemonInstance::start(bool wait_for_ping) {
  if (std::string err = prepare(); !err.empty()) {
    return err;
  }
  // socket_dir_ follows the file only while the daemon is down.
  socket_dir_ = config_.get("pgmoneta", "unix_socket_dir").value_or(socket_dir_);
  dir_.write_file("pgmoneta_cli.conf", "[pgmoneta]\nunix_socket_dir = " + socket_dir_ + "\n");
  process_ = launch();
  if (process_.pid() < 0) {
    return "cannot start pgmoneta: " + process_.error();
  }
  if (!wait_for_ping) {
    return "";
  }
  auto deadline = steady_clock::now() + seconds(20);
  CliResult last;
  while (steady_clock::now() < deadline) {
    if (!process_.running()) {
      return "pgmoneta exited with status " + std::to_string(process_.exit_status().value_or(-1)) +
             " during start-up; stderr: " + stderr_text() + "\nlog:\n" + log();
    }
    last = cli({"ping"});
    if (last.exit_code() == 0) {
      return "";
    }
    std::this_thread::sleep_for(milliseconds(100));
  }
  return "pgmoneta did not answer ping within 20 s; last ping: " + last.describe() +
         "\nstderr: " + stderr_text() + "\nlog:\n" + log();
}

std::optional<int> DaemonInstance::stop(std::chrono::milliseconds timeout) {
  if (process_.pid() <= 0) {
    return std::nullopt;
  }
  if (!process_.running()) {
    process_.kill_group(SIGKILL);  // stray children, if any
    return process_.exit_status();
  }
  process_.signal(SIGTERM);
  std::optional<int> status = process_.wait_for(timeout);
  if (!status) {
    process_.kill_group(SIGKILL);
    process_.wait_for(seconds(10));
    return std::nullopt;
  }
  return status;
}

bool DaemonInstance::wait_for_log(const std::string& needle,
                                  std::chrono::milliseconds timeout) const {
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    if (log().find(needle) != std::string::npos) {
      return true;
    }
    if (steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
}

std::vector<std::string> DaemonInstance::unexpected_errors(
    const std::vector<std::string>& expected) const {
  std::vector<std::string> out;
  std::istringstream in(log());
  std::string line;
  while (std::getline(in, line)) {
    if (!is_error_line(line)) {
      continue;
    }
    bool allowed = std::any_of(expected.begin(), expected.end(), [&](const std::string& e) {
      return line.find(e) != std::string::npos;
    });
    if (!allowed) {
      out.push_back(line);
    }
  }
  return out;
}

CliResult DaemonInstance::cli(const std::vector<std::string>& args, const std::string& format,
                              const std::string& cli_config, std::chrono::seconds timeout) const {
  ProcessOptions o;
  o.argv = {bin("pgmoneta-cli"), "-c", cli_config.empty() ? cli_config_path() : cli_config};
  if (!format.empty()) {
    o.argv.emplace_back("-F");
    o.argv.push_back(format);
  }
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.home = home();
  CliResult r;
  r.output = run_command(o, timeout);
  if (format == "json" || format == "raw") {
    nlohmann::json j = nlohmann::json::parse(r.output.out, nullptr, false);
    if (!j.is_discarded()) {
      r.json = std::move(j);
    }
  }
  return r;
}

// ---- management frames ----

std::string encode_frame(const std::string& payload, uint8_t compression, uint8_t encryption) {
  std::string frame;
  frame.push_back(static_cast<char>(compression));
  frame.push_back(static_cast<char>(encryption));
  uint32_t len = htonl(static_cast<uint32_t>(payload.size()));
  frame.append(reinterpret_cast<const char*>(&len), 4);
  frame += payload;
  return frame;
}

std::string request_json(int command, const nlohmann::json& request) {
  char ts[32];
  time_t now = ::time(nullptr);
  tm local{};
  ::localtime_r(&now, &local);
  ::strftime(ts, sizeof(ts), "%Y%m%d%H%M%S", &local);
  nlohmann::json doc = {{"Header",
                         {{"Command", command},
                          {"ClientVersion", "0.22.0"},
                          {"Output", 1},
                          {"Timestamp", ts},
                          {"Compression", 0},
                          {"Encryption", 0}}},
                        {"Request", request}};
  return doc.dump();
}

std::optional<std::string> exchange_frame(const std::string& socket_path, const std::string& bytes,
                                          std::chrono::milliseconds timeout, std::string* error) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    *error = "connect " + socket_path + ": " + std::generic_category().message(errno);
    return std::nullopt;
  }
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      *error = std::string("send: ") + std::generic_category().message(errno);
      return std::nullopt;
    }
    sent += static_cast<size_t>(n);
  }
  auto deadline = steady_clock::now() + timeout;
  std::string in;
  while (true) {
    if (in.size() >= 6) {
      uint32_t len = 0;
      std::memcpy(&len, in.data() + 2, 4);
      len = ntohl(len);
      if (in.size() >= 6 + static_cast<size_t>(len)) {
        return in.substr(6, len);
      }
    }
    auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      *error = "timed out waiting for a response frame (" + std::to_string(in.size()) +
               " bytes received)";
      return std::nullopt;
    }
    pollfd p{fd.get(), POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
      continue;
    }
    char buf[65536];
    ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n <= 0) {
      *error = "connection closed after " + std::to_string(in.size()) + " bytes";
      return std::nullopt;
    }
    in.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace pgm::testing
