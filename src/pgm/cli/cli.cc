#include "pgm/cli/cli.h"

#include <termios.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <exception>
#include <filesystem>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/backup/file_verbs.h"
#include "pgm/cli/completion.h"
#include "pgm/cli/progress.h"
#include "pgm/cli/remote.h"
#include "pgm/config/cli_config.h"
#include "pgm/crypto/vault.h"
#include "pgm/log/log.h"
#include "pgm/management/client.h"
#include "pgm/management/document.h"
#include "pgm/management/output.h"
#include "pgm/management/registry.h"
#include "pgm/version.h"

namespace pgm::cli {

namespace {

using management::Command;
using nlohmann::json;
namespace key = management::key;

constexpr const char* kFooterTail =
    "Backup identifiers: a label (YYYYMMDDHHMMSS), oldest, newest or latest.\n"
    "\n"
    "Exit codes:\n"
    "  0  success (Outcome.Status true)\n"
    "  1  the daemon reported a failure, or conf get of an unknown key\n"
    "  2  usage or local setup error (arguments, root, configuration file, master key)\n"
    "  3  the daemon could not be reached or sent an invalid response\n"
    "\n"
    "pgmoneta: https://pgmoneta.github.io/";

// pgmoneta-cli's verbs are the command registry's (management/command_table.h): the first
// row of a verb carries its usage and help line.
std::vector<const management::CommandSpec*> verb_specs() {
  std::vector<const management::CommandSpec*> verbs;
  for (const management::CommandSpec& s : management::command_specs()) {
    if (!s.help.empty()) {
      verbs.push_back(&s);
    }
  }
  return verbs;
}

const management::CommandSpec* verb_spec(std::string_view verb) {
  for (const management::CommandSpec* s : verb_specs()) {
    if (s->verb == verb) {
      return s;
    }
  }
  return nullptr;
}

// The command "<verb> <word>" ("s3 ls"), when the registry has it under that verb.
std::optional<Command> verb_command(std::string_view verb, std::string_view word) {
  auto c = management::command_from_name(fmt::format("{} {}", verb, word));
  const management::CommandSpec* spec = c ? management::find_spec(*c) : nullptr;
  if (spec == nullptr || spec->verb != verb) {
    return std::nullopt;
  }
  return c;
}

struct UsageError {
  std::string message;
};

UsageError usage(std::string_view name) {
  const management::CommandSpec* s = verb_spec(name);
  return {fmt::format("{}: usage: pgmoneta-cli {} {}", name, name, s ? s->usage : "")};
}

json nullable(const std::vector<std::string>& a, size_t i) {
  return i < a.size() ? json(a[i]) : json(nullptr);
}

// Builds the Request for one command; pgmoneta sends null for absent optional strings.
// The daemon runs in another working directory: paths it acts on are sent absolute.
std::string absolute_path(const std::string& path) {
  if (path.empty() || path.front() == '/') {
    return path;
  }
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(path, ec);
  return ec ? path : abs.lexically_normal().string();
}

tl::expected<Invocation, UsageError> build(const std::string& name,
                                           const std::vector<std::string>& a, const Options& o) {
  Invocation inv;
  inv.options = o;
  json& r = inv.request;
  auto n = a.size();
  auto want = [&](size_t lo, size_t hi) { return n >= lo && n <= hi; };
  if (name == "backup") {
    if (!want(1, 2)) return tl::unexpected(usage(name));
    inv.command = Command::kBackup;
    r[key::kServer] = a[0];
    r[key::kBackup] = nullable(a, 1);
  } else if (name == "list-backup") {
    if (!want(1, 1)) return tl::unexpected(usage(name));
    inv.command = Command::kListBackup;
    r[key::kServer] = a[0];
    r[key::kSort] = o.sort;
  } else if (name == "restore" || name == "archive") {
    if (!want(3, 4)) return tl::unexpected(usage(name));
    inv.command = name == "restore" ? Command::kRestore : Command::kArchive;
    r[key::kServer] = a[0];
    r[key::kBackup] = a[1];
    r[key::kPosition] = n == 4 ? json(a[2]) : json(nullptr);
    r[key::kDirectory] = absolute_path(a[n - 1]);
  } else if (name == "verify") {
    if (!want(3, 4)) return tl::unexpected(usage(name));
    std::string files = n == 4 ? a[3] : "failed";
    if (files != "failed" && files != "all") {
      return tl::unexpected(UsageError{"verify: the file filter must be failed or all"});
    }
    inv.command = Command::kVerify;
    r[key::kServer] = a[0];
    r[key::kBackup] = a[1];
    r[key::kDirectory] = a[2];
    r[key::kFiles] = files;
    if (o.start) {
      r[key::kStart] = true;  // ours: a proven restore after the checksums
    }
  } else if (name == "delete" || name == "retain" || name == "expunge" || name == "info") {
    if (!want(2, 2)) return tl::unexpected(usage(name));
    r[key::kServer] = a[0];
    r[key::kBackup] = a[1];
    if (name == "delete") {
      inv.command = Command::kDelete;
      r[key::kForce] = o.force;
    } else if (name == "info") {
      inv.command = Command::kInfo;
    } else {
      inv.command = name == "retain" ? Command::kRetain : Command::kExpunge;
      r[key::kCascade] = o.cascade;
    }
  } else if (name == "encrypt" || name == "decrypt" || name == "compress" || name == "decompress") {
    if (!want(1, 1)) return tl::unexpected(usage(name));
    inv.command = name == "encrypt"    ? Command::kEncrypt
                  : name == "decrypt"  ? Command::kDecrypt
                  : name == "compress" ? Command::kCompress
                                       : Command::kDecompress;
    r[key::kSourceFile] = absolute_path(a[0]);
  } else if (name == "annotate") {
    if (!want(4, 5)) return tl::unexpected(usage(name));
    if (a[2] != "add" && a[2] != "update" && a[2] != "remove") {
      return tl::unexpected(UsageError{"annotate: the action must be add, update or remove"});
    }
    inv.command = Command::kAnnotate;
    r[key::kServer] = a[0];
    r[key::kBackup] = a[1];
    r[key::kAction] = a[2];
    r[key::kKey] = a[3];
    r[key::kComment] = nullable(a, 4);
  } else if (name == "ping" || name == "shutdown") {
    if (!want(0, 0)) return tl::unexpected(usage(name));
    inv.command = name == "ping" ? Command::kPing : Command::kShutdown;
  } else if (name == "status") {
    if (!want(0, 1) || (n == 1 && a[0] != "details")) return tl::unexpected(usage(name));
    inv.command = n == 1 ? Command::kStatusDetails : Command::kStatus;
  } else if (name == "mode") {
    if (!want(2, 2)) return tl::unexpected(usage(name));
    if (a[1] != "online" && a[1] != "offline") {
      return tl::unexpected(UsageError{"mode: the mode must be online or offline"});
    }
    inv.command = Command::kMode;
    r[key::kServer] = a[0];
    r[key::kAction] = a[1];
  } else if (name == "progress") {
    if (!want(2, 2)) return tl::unexpected(usage(name));
    inv.command = Command::kProgress;
    r[key::kServer] = a[0];
    r[key::kCommand] = a[1];
  } else if (name == "clear") {
    if (!want(1, 1) || a[0] != "prometheus") return tl::unexpected(usage(name));
    inv.command = Command::kReset;
  } else if (name == "conf") {
    if (n == 0) return tl::unexpected(usage(name));
    const std::string& what = a[0];
    if (what == "reload" && n == 1) {
      inv.command = Command::kReload;
    } else if (what == "ls" && n == 1) {
      inv.command = Command::kConfLs;
    } else if (what == "get" && n <= 2) {
      inv.command = Command::kConfGet;  // the daemon sends everything; we filter
      inv.conf_key = n == 2 ? a[1] : std::string();
    } else if (what == "set" && n == 3) {
      inv.command = Command::kConfSet;
      r[key::kConfigKey] = a[1];
      r[key::kConfigValue] = a[2];
    } else {
      return tl::unexpected(usage(name));
    }
  } else if (auto offsite_ls = verb_command(name, "ls"),
             offsite_restore = verb_command(name, "restore");
             offsite_ls && offsite_restore) {
    // "<engine> ls <server> [prefix]" | "<engine> restore <server> <id> [position] <dir>".
    if (n >= 2 && a[0] == "ls" && n <= 3) {
      inv.command = *offsite_ls;
      r[key::kServer] = a[1];
      // pgmoneta's key for s3; ours for the other engines.
      r[inv.command == Command::kS3Ls ? key::kS3Prefix : key::kPrefix] = nullable(a, 2);
    } else if (n >= 4 && a[0] == "restore" && n <= 5) {
      inv.command = *offsite_restore;
      r[key::kServer] = a[1];
      r[key::kBackup] = a[2];
      r[key::kPosition] = n == 5 ? json(a[3]) : json(nullptr);
      r[key::kDirectory] = absolute_path(a[n - 1]);
    } else {
      return tl::unexpected(usage(name));
    }
  } else {
    return tl::unexpected(UsageError{fmt::format("unknown command '{}'", name)});
  }
  return inv;
}

// Long workflows get no deadline (pgmoneta-cli waits as long as it takes).
std::chrono::milliseconds timeout_for(Command c) {
  const management::CommandSpec* spec = management::find_spec(c);
  bool quick = c == Command::kProgress ||
               (spec != nullptr && spec->placement == management::Placement::kInline);
  return quick ? std::chrono::milliseconds(std::chrono::minutes(5)) : std::chrono::milliseconds(0);
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

management::OutputFormat from_config(config::OutputFormat f) {
  switch (f) {
    case config::OutputFormat::kJson:
      return management::OutputFormat::kJson;
    case config::OutputFormat::kRaw:
      return management::OutputFormat::kRaw;
    case config::OutputFormat::kText:
      break;
  }
  return management::OutputFormat::kText;
}

void validate(const std::string& format, const std::string& compression,
              const std::string& encryption, const std::string& sort, Options& o) {
  if (!format.empty()) {
    auto f = management::parse_output_format(format);
    if (!f) {
      throw CLI::ValidationError("-F", "the format must be text, json or raw");
    }
    o.format = *f;
  }
  if (!compression.empty()) {
    auto c = config::parse_cli_compression(compression);
    if (!c) {
      throw CLI::ValidationError("-C", "the compression must be none, gz, zstd, lz4 or bz2");
    }
    o.compression = *c;
  }
  if (!encryption.empty()) {
    auto e = config::parse_cli_encryption(encryption);
    if (!e) {
      throw CLI::ValidationError("-E",
                                 "the encryption must be none, aes, aes256, aes192 or aes128");
    }
    o.encryption = *e;
  }
  if (!sort.empty()) {
    if (sort != "asc" && sort != "desc") {
      throw CLI::ValidationError("-s", "the sort order must be asc or desc");
    }
    o.sort = sort;
  }
}

bool is_file_verb(Command c) {
  return c == Command::kEncrypt || c == Command::kDecrypt || c == Command::kCompress ||
         c == Command::kDecompress;
}

// The daemon is simply not there (no socket file, nobody listening), as opposed to a daemon
// that answers badly.
bool daemon_absent(const Error& e) {
  return e.code() == ErrorCode::kNotFound || e.code() == ErrorCode::kUnavailable;
}

// encrypt/decrypt/compress/decompress without a daemon: done here with pgmoneta-cli's
// defaults (compress = zstd level 3, AES-256-GCM with the caller's master key), answered as
// the daemon would (SourceFile, DestinationFile).
int run_local(const Invocation& inv, const Environment& env, management::OutputFormat format,
              std::ostream& out, std::ostream& err) {
  std::string_view name = management::command_name(inv.command);
  std::string source;
  auto it = inv.request.find(key::kSourceFile);
  if (it != inv.request.end() && it->is_string()) {
    source = it->get<std::string>();
  }
  auto started = std::chrono::steady_clock::now();
  Result<std::string> done = make_error(ErrorCode::kInternal, "not run");
  if (inv.command == Command::kCompress) {
    done = backup::compress_file(source, compress::Algorithm::kZstd, 3);
  } else if (inv.command == Command::kDecompress) {
    done = backup::decompress_file(source);
  } else {
    auto k = env.load_master_key ? env.load_master_key()
                                 : make_error(ErrorCode::kConfig, "no master key loader");
    if (!k) {
      err << fmt::format(
          "pgmoneta-cli: {}: no daemon reachable, and {} locally needs the master "
          "key: {}\n",
          name, name, k.error().message());
      return kExitUsage;
    }
    done = inv.command == Command::kEncrypt
               ? backup::encrypt_file(source, *k, crypto::AesMode::kAes256Gcm)
               : backup::decrypt_file(source, *k, crypto::AesMode::kAes256Gcm);
  }
  if (!done) {
    err << fmt::format("pgmoneta-cli: {} failed (no daemon reachable; done locally): {}\n", name,
                       done.error().message());
    if (inv.options.verbose) {
      out << fmt::format("Error ({})\n", kExitFailed);
    }
    return kExitFailed;
  }
  double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  json request_doc = management::make_request(inv.command, inv.request, format,
                                              compress::Algorithm::kNone, crypto::AesMode::kNone);
  json doc = management::make_success(
      request_doc, json{{key::kSourceFile, source}, {key::kDestinationFile, *done}}, elapsed);
  out << management::render(doc, format);
  err << fmt::format("pgmoneta-cli: no daemon reachable; {} done locally\n", name);
  if (inv.options.verbose) {
    out << "Success (0)\n";
  }
  return kExitSuccess;
}

// Reads a password from the terminal with echo off; nullopt without a terminal.
std::optional<std::string> prompt_on_terminal(const std::string& prompt) {
  if (::isatty(STDIN_FILENO) != 1) {
    return std::nullopt;
  }
  std::cerr << prompt << std::flush;
  termios saved{};
  bool restore = ::tcgetattr(STDIN_FILENO, &saved) == 0;
  if (restore) {
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  std::string line;
  bool got = static_cast<bool>(std::getline(std::cin, line));
  if (restore) {
    ::tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
  }
  std::cerr << '\n';
  if (!got) {
    return std::nullopt;
  }
  return line;
}

}  // namespace

ParseOutcome parse_args(const std::vector<std::string>& args) {
  ParseOutcome outcome;
  try {
    CLI::App app{fmt::format("pgmoneta-cli {}\n  Command line utility for pgmoneta", kVersion),
                 "pgmoneta-cli"};
    app.set_help_flag("-?,--help", "Display help");
    app.set_version_flag("-V,--version", fmt::format("pgmoneta-cli {}", kVersion),
                         "Display version information");
    app.fallthrough();
    app.require_subcommand(1);
    std::string footer = "Commands:\n";
    for (const management::CommandSpec* s : verb_specs()) {
      footer += fmt::format("  {} {}\n", s->verb, s->usage);
    }
    app.footer(footer + "\n" + kFooterTail);
    Options o;
    std::string format;
    std::string compression;
    std::string encryption;
    std::string sort;
    app.add_option("-c,--config", o.config_path,
                   "The pgmoneta_cli.conf (or pgmoneta.conf) file; default "
                   "/etc/pgmoneta/pgmoneta_cli.conf");
    app.add_option("-h,--host", o.host, "The host name (remote management)");
    app.add_option("-p,--port", o.port, "The port number (remote management)");
    app.add_option("-U,--user", o.user, "The user name (remote management)");
    app.add_option("-P,--password", o.password, "The password (remote management)");
    app.add_option("-L,--logfile", o.logfile, "The log file");
    app.add_flag("-v,--verbose", o.verbose, "Print Success (0) or Error (n) after the output");
    app.add_option("-F,--format", format, "Output format: text|json|raw");
    app.add_option("-C,--compress", compression,
                   "Compress the wire protocol: none|gz|zstd|lz4|bz2");
    app.add_option("-E,--encrypt", encryption,
                   "Encrypt the wire protocol: none|aes|aes256|aes192|aes128");
    app.add_option("-s,--sort", sort, "Sort order of list-backup: asc|desc");
    app.add_flag("--cascade", o.cascade, "retain/expunge: the whole incremental chain");
    app.add_flag("--force", o.force, "delete: also retained backups");
    app.add_flag("--start", o.start,
                 "verify: restore into the directory and start a throwaway PostgreSQL on it");
    app.add_flag("--no-progress", o.no_progress,
                 "backup: no progress bar on stderr (drawn only when stderr is a terminal)");
    std::vector<std::string> positional;
    for (const management::CommandSpec* s : verb_specs()) {
      CLI::App* sub = app.add_subcommand(std::string(s->verb), std::string(s->help));
      sub->add_option("args", positional, std::string(s->usage));
    }
    if (args.size() == 1 && args[0] == kCompletionGrammarFlag) {
      outcome.out = completion_grammar(app);
      return outcome;
    }
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    try {
      app.parse(reversed);
      validate(format, compression, encryption, sort, o);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) {  // --help or --version: CLI11 formats the text
        std::ostringstream text;
        std::ostringstream ignored;
        app.exit(e, text, ignored);
        outcome.out = text.str();
        outcome.exit_code = kExitSuccess;
      } else {
        outcome.err =
            fmt::format("pgmoneta-cli: {}\nRun with --help for more information.\n", e.what());
        outcome.exit_code = kExitUsage;
      }
      return outcome;
    }
    std::string name = app.get_subcommands().front()->get_name();
    auto inv = build(name, positional, o);
    if (!inv) {
      outcome.exit_code = kExitUsage;
      outcome.err = fmt::format("pgmoneta-cli: {}\n", inv.error().message);
      return outcome;
    }
    outcome.invocation = std::move(*inv);
    return outcome;
  } catch (const std::exception& e) {
    outcome.exit_code = kExitUsage;
    outcome.err = fmt::format("pgmoneta-cli: {}\n", e.what());
    return outcome;
  }
}

Verdict judge_response(Command command, const json& response) {
  Verdict v;
  const json* outcome = nullptr;
  if (response.is_object()) {
    auto it = response.find(key::kOutcome);
    if (it != response.end() && it->is_object()) {
      outcome = &*it;
    }
  }
  std::string_view name = management::command_name(command);
  if (outcome == nullptr) {
    v.exit_code = kExitUnreachable;
    v.error_line = fmt::format("pgmoneta-cli: {}: the response has no Outcome", name);
    return v;
  }
  auto status = outcome->find(key::kStatus);
  if (status != outcome->end() && status->is_boolean() && status->get<bool>()) {
    return v;
  }
  int64_t error = 0;
  auto e = outcome->find(key::kError);
  if (e != outcome->end() && e->is_number_integer()) {
    error = e->get<int64_t>();
  }
  std::string workflow = outcome->value(key::kWorkflow, std::string("main"));
  std::string message;
  auto m = outcome->find(key::kMessage);
  if (m != outcome->end() && m->is_string()) {
    message = m->get<std::string>();
  } else {
    message = management::error_description(static_cast<int32_t>(error));
  }
  v.exit_code = kExitFailed;
  v.error_line =
      fmt::format("pgmoneta-cli: {} failed: error {} ({}): {}", name, error, workflow, message);
  return v;
}

Environment process_environment() {
  Environment env;
  env.uid = ::getuid();
  env.default_config_path = std::string(config::kDefaultCliConfigPath);
  env.load_master_key = [] { return crypto::load_master_key(); };
  env.stderr_is_tty = ::isatty(STDERR_FILENO) == 1;
  env.terminal_columns = [] { return terminal_columns(STDERR_FILENO); };
  if (const char* p = std::getenv("PGMONETA_PASSWORD"); p != nullptr) {  // NOLINT
    env.password_from_env = std::string(p);
  }
  env.prompt_password = prompt_on_terminal;
  if (auto home = crypto::pgmoneta_home_dir(); home) {
    env.pgmoneta_home = *home;
  }
  return env;
}

namespace {

// Where and as whom to log in for remote management (-h/-p/-U/-P over pgmoneta_cli.conf).
Result<RemoteTarget> remote_target(const Options& o, const config::CliConfig& cfg,
                                   const Environment& env) {
  RemoteTarget t;
  t.host = !o.host.empty() ? o.host : (!cfg.host.empty() ? cfg.host : "localhost");
  t.port = cfg.port;
  if (!o.port.empty()) {
    int port = 0;
    auto [end, ec] = std::from_chars(o.port.data(), o.port.data() + o.port.size(), port);
    if (ec != std::errc() || end != o.port.data() + o.port.size() || port < 1 || port > 65535) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("-p {}: the port must be a number from 1 to 65535", o.port));
    }
    t.port = port;
  }
  if (t.port <= 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      "remote management needs the daemon's management port: -p <port>");
  }
  t.user = o.user;
  if (t.user.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "remote management needs an admin user: -U <user>");
  }
  if (!o.password.empty()) {
    t.password = o.password;
  } else if (env.password_from_env) {
    t.password = *env.password_from_env;
  } else if (auto typed = env.prompt_password ? env.prompt_password("Password : ")
                                              : std::optional<std::string>();
             typed) {
    t.password = *typed;
  } else {
    return make_error(ErrorCode::kInvalidArgument,
                      "remote management needs a password: -P, PGMONETA_PASSWORD, or a "
                      "terminal to type it on");
  }
  if (!env.pgmoneta_home.empty()) {
    PGM_ASSIGN_OR_RETURN(t.tls, client_tls(env.pgmoneta_home));
  }
  return t;
}

// Judges and prints the daemon's answer; returns the exit code.
int finish(const Invocation& inv, const json& response, management::OutputFormat format,
           std::ostream& out, std::ostream& err,
           const std::function<void(int, const std::string&)>& log_outcome) {
  const Options& o = inv.options;
  Verdict verdict = judge_response(inv.command, response);
  if (verdict.exit_code == kExitSuccess && inv.command == Command::kConfGet &&
      !inv.conf_key.empty()) {
    auto answer = management::render_config_answer(response, inv.conf_key, format);
    if (!answer) {
      verdict.exit_code = kExitFailed;
      verdict.error_line = fmt::format("pgmoneta-cli: conf get: {}", answer.error().message());
    } else {
      out << *answer;
    }
  } else if (verdict.exit_code == kExitSuccess && inv.command == Command::kConfLs &&
             format != management::OutputFormat::kJson) {
    out << management::render_conf_ls(response, format);
  } else if (verdict.exit_code == kExitSuccess && inv.command == Command::kProgress &&
             format == management::OutputFormat::kText && parse_progress(response)) {
    out << render_progress_text(*parse_progress(response));
  } else if (verdict.exit_code != kExitUnreachable) {
    out << management::render(response, format);
  }
  if (!verdict.error_line.empty()) {
    err << verdict.error_line << '\n';
  }
  log_outcome(verdict.exit_code, verdict.error_line);
  if (o.verbose) {
    if (verdict.exit_code == kExitSuccess) {
      out << "Success (0)\n";
    } else {
      out << fmt::format("Error ({})\n", verdict.exit_code);
    }
  }
  return verdict.exit_code;
}

}  // namespace

int run(const Invocation& inv, const Environment& env, std::ostream& out, std::ostream& err) {
  const Options& o = inv.options;
  std::string_view name = management::command_name(inv.command);
  if (env.uid == 0) {
    err << "pgmoneta-cli: using the root account is not allowed\n";
    return kExitUsage;
  }
  const bool remote_requested = !o.host.empty() || !o.port.empty();
  std::string path = o.config_path;
  bool file_verb = is_file_verb(inv.command);
  if (path.empty()) {
    if (!file_exists(env.default_config_path) && file_verb && !remote_requested) {
      // No configuration: no daemon to talk to.
      return run_local(inv, env, o.format.value_or(management::OutputFormat::kText), out, err);
    }
    if (file_exists(env.default_config_path)) {
      path = env.default_config_path;
    } else if (!remote_requested) {
      err << fmt::format(
          "pgmoneta-cli: no configuration file: give -c <pgmoneta_cli.conf> (the default {} "
          "does not exist)\n",
          env.default_config_path);
      return kExitUsage;
    }
  }
  config::CliConfig cfg;  // remote management needs no file: the defaults then
  if (!path.empty()) {
    auto loaded = config::load_cli_config(path);
    if (!loaded) {
      err << fmt::format("pgmoneta-cli: {}\n", loaded.error().message());
      return kExitUsage;
    }
    for (const config::Warning& w : loaded->warnings) {
      err << fmt::format("pgmoneta-cli: warning: {}\n", w.to_string());
    }
    cfg = std::move(loaded->config);
  }
  // Remote when -h/-p say so, or when the file names a host and port and no unix socket.
  std::optional<RemoteTarget> remote;
  if (remote_requested || (!cfg.host.empty() && cfg.port > 0 && cfg.unix_socket_dir.empty())) {
    auto target = remote_target(o, cfg, env);
    if (!target) {
      err << fmt::format("pgmoneta-cli: {}\n", target.error().message());
      return kExitUsage;
    }
    remote = std::move(*target);
  }
  // -L (or log_type = file in the config) records each command and its outcome in a file;
  // without it the CLI logs nothing, so stdout/stderr carry only the answer.
  bool file_logging = !o.logfile.empty() || cfg.log_type == config::LogType::kFile;
  if (file_logging) {
    log::Options lo;
    lo.type = log::Type::kFile;
    lo.path = o.logfile.empty() ? cfg.log_path : o.logfile;
    lo.level = cfg.log_level;
    lo.append = cfg.log_mode == config::LogMode::kAppend;
    lo.ident = "pgmoneta-cli";
    if (auto r = log::configure(lo); !r) {
      err << fmt::format("pgmoneta-cli: log file: {}\n", r.error().message());
      return kExitUsage;
    }
  }
  auto log_outcome = [&](int code, const std::string& detail) {
    if (file_logging) {
      log::info("{}: exit {}{}{}", name, code, detail.empty() ? "" : ": ", detail);
    }
  };
  management::OutputFormat format = o.format.value_or(from_config(cfg.output));
  if (!remote && cfg.unix_socket_dir.empty() && file_verb) {
    return run_local(inv, env, format, out, err);
  }
  if (!remote && cfg.unix_socket_dir.empty()) {
    err << fmt::format("pgmoneta-cli: {} sets no unix_socket_dir\n", path);
    return kExitUsage;
  }
  compress::Algorithm compression = o.compression.value_or(cfg.compression);
  crypto::AesMode encryption = o.encryption.value_or(cfg.encryption);
  // The file verbs find out first whether a daemon is there at all: without one they work
  // locally (and then need no wire master key).
  std::optional<Result<UniqueFd>> early_fd;
  if (file_verb && !remote) {
    early_fd = management::connect_unix(cfg.unix_socket_dir);
    if (!*early_fd && daemon_absent(early_fd->error())) {
      int code = run_local(inv, env, format, out, err);
      log_outcome(code, "no daemon reachable; done locally");
      return code;
    }
  }

  std::optional<crypto::MasterKey> master_key;
  if (encryption != crypto::AesMode::kNone) {
    auto k = env.load_master_key ? env.load_master_key()
                                 : make_error(ErrorCode::kConfig, "no master key loader");
    if (!k) {
      err << fmt::format("pgmoneta-cli: wire encryption needs the master key: {}\n",
                         k.error().message());
      return kExitUsage;
    }
    master_key = std::move(*k);
  }

  json doc = management::make_request(inv.command, inv.request, format, compression, encryption);
  if (remote) {
    // One login per command; no progress bar (it would need a login of its own every poll).
    auto response = remote_exchange(*remote, doc, compression, encryption,
                                    master_key ? &*master_key : nullptr, timeout_for(inv.command));
    if (!response) {
      err << fmt::format("pgmoneta-cli: {}: {}\n", name, response.error().message());
      log_outcome(kExitUnreachable, response.error().message());
      return kExitUnreachable;
    }
    return finish(inv, *response, format, out, err, log_outcome);
  }
  Result<UniqueFd> fd =
      early_fd ? std::move(*early_fd) : management::connect_unix(cfg.unix_socket_dir);
  if (!fd) {
    err << fmt::format("pgmoneta-cli: {}\n", fd.error().message());
    log_outcome(kExitUnreachable, fd.error().message());
    return kExitUnreachable;
  }
  const crypto::MasterKey* key_ptr = master_key ? &*master_key : nullptr;
  std::optional<ProgressPoller> poller;
  auto operation = progress_operation(inv.command);
  auto server = inv.request.find(key::kServer);
  if (operation && server != inv.request.end() && server->is_string() &&
      should_show_progress(env.stderr_is_tty, o.no_progress)) {
    json progress_request{{key::kServer, *server}, {key::kCommand, *operation}};
    ProgressPoller::Hooks hooks;
    hooks.connect = [&cfg] { return management::connect_unix(cfg.unix_socket_dir); };
    hooks.exchange = [=](int progress_fd) {
      return management::exchange(progress_fd,
                                  management::make_request(Command::kProgress, progress_request,
                                                           format, compression, encryption),
                                  compression, encryption, key_ptr, std::chrono::seconds(10));
    };
    hooks.write = [&err](std::string_view s) {
      err << s;
      err.flush();
    };
    if (env.terminal_columns) {
      hooks.width = env.terminal_columns;
    }
    hooks.interval = env.progress_interval;
    poller.emplace(std::move(hooks));
  }
  auto response = management::exchange(fd->get(), doc, compression, encryption, key_ptr,
                                       timeout_for(inv.command));
  if (poller) {
    poller->stop();  // erases the bar; nothing else writes to err before this
  }
  if (!response) {
    err << fmt::format("pgmoneta-cli: {}: {}\n", name, response.error().message());
    log_outcome(kExitUnreachable, response.error().message());
    return kExitUnreachable;
  }
  return finish(inv, *response, format, out, err, log_outcome);
}

int main_entry(int argc, char** argv) {
  try {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i) {
      args.emplace_back(argv[i]);
    }
    ParseOutcome parsed = parse_args(args);
    std::cout << parsed.out;
    std::cerr << parsed.err;
    if (!parsed.invocation) {
      return parsed.exit_code;
    }
    int code = run(*parsed.invocation, process_environment(), std::cout, std::cerr);
    std::cout.flush();
    return code;
  } catch (const std::exception& e) {
    std::cerr << "pgmoneta-cli: " << e.what() << '\n';
    return kExitUsage;
  }
}

}  // namespace pgm::cli
