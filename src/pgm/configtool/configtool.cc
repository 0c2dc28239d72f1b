#include "pgm/configtool/configtool.h"

#include <array>
#include <functional>
#include <string_view>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/confedit/document.h"
#include "pgm/config/config.h"
#include "pgm/io/file.h"
#include "pgm/version.h"

namespace pgm::configtool {

namespace {

constexpr std::string_view kProgram = "pgmoneta-config";
constexpr std::string_view kMainSection = "pgmoneta";
constexpr mode_t kFileMode = 0600;

struct CommandShape {
  std::string_view name;
  size_t min_args;
  size_t max_args;
  std::string_view usage;
};

constexpr std::array<CommandShape, 5> kCommands = {{
    {"init", 0, 0, "init"},
    {"get", 3, 3, "get <file> <section> <key>"},
    {"set", 4, 4, "set <file> <section> <key> <value>"},
    {"del", 2, 3, "del <file> <section> [key]"},
    {"ls", 1, 2, "ls <file> [section]"},
}};

const CommandShape* find_command(std::string_view name) {
  for (const CommandShape& shape : kCommands) {
    if (shape.name == name) {
      return &shape;
    }
  }
  return nullptr;
}

int fail(std::ostream& err, const std::string& message) {
  err << kProgram << ": " << message << "\n";
  return kExitFailure;
}

// Loads `path` as a document; on failure reports it and returns nullopt.
std::optional<confedit::Document> load(const std::string& path, std::ostream& err) {
  auto text = io::read_config_file(path);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound) {
      fail(err, fmt::format("{}: no such file", path));
    } else {
      fail(err, text.error().message());
    }
    return std::nullopt;
  }
  auto doc = confedit::Document::parse(*text, path);
  if (!doc) {
    fail(err, doc.error().message());
    return std::nullopt;
  }
  return std::move(*doc);
}

int save(const std::string& path, const confedit::Document& doc, std::ostream& err) {
  if (auto written = io::write_file_atomic(path, doc.serialize(), kFileMode); !written) {
    return fail(err, fmt::format("{}: {}", path, written.error().message()));
  }
  return 0;
}

// Checks `value` for `key` in `section`: an error message for an invalid value of a known
// key, a warning for an unknown key, nothing otherwise.
struct ValueVerdict {
  std::string error;
  std::string warning;
};
ValueVerdict judge(std::string_view section, std::string_view key, std::string_view value) {
  const bool server = section != kMainSection;
  auto known = config::check_value(server, key, value);
  if (!known) {
    return {fmt::format("[{}] {}", section, known.error().message()), ""};
  }
  if (!*known) {
    return {"", fmt::format("warning: \"{}\" is not a known {} key; written anyway", key,
                            server ? "server section" : "[pgmoneta]")};
  }
  return {};
}

int run_get(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string& file = args[0];
  auto doc = load(file, err);
  if (!doc) {
    return kExitFailure;
  }
  if (!doc->has_section(args[1])) {
    return fail(err, fmt::format("{}: no section [{}]", file, args[1]));
  }
  auto value = doc->get(args[1], args[2]);
  if (!value) {
    return fail(err, fmt::format("{}: no key \"{}\" in [{}]", file, args[2], args[1]));
  }
  out << *value << "\n";
  return 0;
}

int run_set(const std::vector<std::string>& args, std::ostream& err) {
  const std::string& file = args[0];
  auto doc = load(file, err);
  if (!doc) {
    return kExitFailure;
  }
  ValueVerdict verdict = judge(args[1], args[2], args[3]);
  if (!verdict.error.empty()) {
    return fail(err, fmt::format("{}: {}", file, verdict.error));
  }
  if (auto set = doc->set(args[1], args[2], args[3]); !set) {
    return fail(err, fmt::format("{}: {}", file, set.error().message()));
  }
  if (!verdict.warning.empty()) {
    err << kProgram << ": " << verdict.warning << "\n";
  }
  return save(file, *doc, err);
}

int run_del(const std::vector<std::string>& args, std::ostream& err) {
  const std::string& file = args[0];
  auto doc = load(file, err);
  if (!doc) {
    return kExitFailure;
  }
  if (!doc->has_section(args[1])) {
    return fail(err, fmt::format("{}: no section [{}]", file, args[1]));
  }
  if (args.size() == 3) {
    if (!doc->remove_key(args[1], args[2])) {
      return fail(err, fmt::format("{}: no key \"{}\" in [{}]", file, args[2], args[1]));
    }
  } else {
    doc->remove_section(args[1]);
  }
  return save(file, *doc, err);
}

int run_ls(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  const std::string& file = args[0];
  auto doc = load(file, err);
  if (!doc) {
    return kExitFailure;
  }
  std::vector<std::string> names;
  if (args.size() == 2) {
    auto keys = doc->keys(args[1]);
    if (!keys) {
      return fail(err, fmt::format("{}: no section [{}]", file, args[1]));
    }
    names = std::move(*keys);
  } else {
    names = doc->sections();
  }
  for (const std::string& name : names) {
    out << name << "\n";
  }
  return 0;
}

// Asks one question until the answer passes `check` (which returns "" or why not). An empty
// line or the end of input keeps the default.
void ask(std::istream& in, std::ostream& out, std::ostream& err, std::string_view question,
         std::string& answer, const std::function<std::string(const std::string&)>& check) {
  for (;;) {
    out << question << " [" << answer << "]: " << std::flush;
    std::string line;
    if (!std::getline(in, line)) {
      out << "\n";
      return;
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos) {
      return;
    }
    line = line.substr(first, line.find_last_not_of(" \t") - first + 1);
    std::string why = check(line);
    if (why.empty()) {
      answer = line;
      return;
    }
    err << kProgram << ": " << why << "\n";
  }
}

void ask_all(std::istream& in, std::ostream& out, std::ostream& err, InitAnswers& a) {
  auto key_check = [](std::string_view section, std::string_view key) {
    return [section, key](const std::string& value) { return judge(section, key, value).error; };
  };
  auto main_key = [&](std::string_view question, std::string_view key, std::string& answer) {
    ask(in, out, err, question, answer, key_check(kMainSection, key));
  };
  main_key("Host", "host", a.host);
  main_key("Base directory", "base_dir", a.base_dir);
  main_key("Compression", "compression", a.compression);
  main_key("Retention (days)", "retention", a.retention);
  main_key("Log type", "log_type", a.log_type);
  main_key("Log level", "log_level", a.log_level);
  main_key("Log path", "log_path", a.log_path);
  main_key("Unix socket directory", "unix_socket_dir", a.unix_socket_dir);
  ask(in, out, err, "Server name", a.server_name, [](const std::string& name) -> std::string {
    if (name == kMainSection) {
      return "a server cannot be named \"pgmoneta\"";
    }
    confedit::Document probe = *confedit::Document::parse("", "probe");
    if (!probe.set(name, "host", "localhost")) {
      return fmt::format("\"{}\" cannot be a section name", name);
    }
    return "";
  });
  auto server_key = [&](std::string_view question, std::string_view key, std::string& answer) {
    ask(in, out, err, question, answer, key_check(a.server_name, key));
  };
  server_key("Server host", "host", a.server_host);
  server_key("Server port", "port", a.server_port);
  server_key("Server user", "user", a.server_user);
  server_key("Server WAL slot", "wal_slot", a.server_wal_slot);
}

int run_init(const Options& options, std::istream& in, std::ostream& out, std::ostream& err) {
  struct stat st {};
  if (!options.force && io::posix_file_system().stat(options.output, &st) == 0) {
    return fail(err, fmt::format("{}: already exists (use -F to overwrite)", options.output));
  }
  InitAnswers answers;
  if (!options.quiet) {
    ask_all(in, out, err, answers);
  }
  auto doc = confedit::Document::parse(render_init(answers), options.output);
  if (!doc) {
    return fail(err, doc.error().message());
  }
  if (int rc = save(options.output, *doc, err); rc != 0) {
    return rc;
  }
  if (!options.quiet) {
    out << "wrote " << options.output << "\n";
  }
  return 0;
}

}  // namespace

std::string render_init(const InitAnswers& a) {
  // Values go through Document::set so that they are quoted when they need it.
  std::string text;
  auto line = [](std::string_view key, std::string_view value) {
    confedit::Document one = *confedit::Document::parse("", "init");
    if (!one.set("s", key, value)) {
      return fmt::format("{} = {}\n", key, value);
    }
    std::string s = one.serialize();
    return s.substr(s.find('\n') + 1);
  };
  text += "[pgmoneta]\n";
  text += line("host", a.host);
  text += line("metrics", "5001");
  text += "\n" + line("base_dir", a.base_dir);
  text += "\n" + line("compression", a.compression);
  text += "\n" + line("retention", a.retention);
  text += "\n" + line("log_type", a.log_type);
  text += line("log_level", a.log_level);
  text += line("log_path", a.log_path);
  text += "\n" + line("unix_socket_dir", a.unix_socket_dir);
  text += fmt::format("\n[{}]\n", a.server_name);
  text += line("host", a.server_host);
  text += line("port", a.server_port);
  text += line("user", a.server_user);
  text += line("wal_slot", a.server_wal_slot);
  return text;
}

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err) {
  Options opts;
  bool version = false;
  CLI::App app{"Create and edit pgmoneta.conf files", std::string(kProgram)};
  app.set_help_flag("-?,-h,--help", "Display help");
  app.add_option("-o,--output", opts.output, "Output file of init (default ./pgmoneta.conf)");
  app.add_flag("-q,--quiet", opts.quiet, "init: use the defaults without prompting");
  app.add_flag("-F,--force", opts.force, "init: overwrite an existing output file");
  app.add_flag("-V,--version", version, "Display version information");
  app.add_option("command", opts.command,
                 "init | get <file> <section> <key> | set <file> <section> <key> <value> |\n"
                 "del <file> <section> [key] | ls <file> [section]");
  app.footer("pgmoneta: https://pgmoneta.github.io/");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      out << app.help();
      return {std::nullopt, 0};
    }
    err << kProgram << ": " << e.what() << " (see " << kProgram << " --help)\n";
    return {std::nullopt, kExitUsage};
  }
  if (version) {
    out << kProgram << " " << kVersion << "\n";
    return {std::nullopt, 0};
  }
  if (opts.command.empty()) {
    err << kProgram << ": a command is required (see " << kProgram << " --help)\n";
    return {std::nullopt, kExitUsage};
  }
  const CommandShape* shape = find_command(opts.command.front());
  if (shape == nullptr) {
    err << kProgram << ": unknown command \"" << opts.command.front() << "\" (see " << kProgram
        << " --help)\n";
    return {std::nullopt, kExitUsage};
  }
  const size_t args = opts.command.size() - 1;
  if (args < shape->min_args || args > shape->max_args) {
    err << kProgram << ": usage: " << kProgram << " " << shape->usage << "\n";
    return {std::nullopt, kExitUsage};
  }
  return {opts, 0};
}

int run(const Options& options, std::istream& in, std::ostream& out, std::ostream& err) {
  const std::string& name = options.command.front();
  const std::vector<std::string> args(options.command.begin() + 1, options.command.end());
  if (name == "init") {
    return run_init(options, in, out, err);
  }
  if (name == "get") {
    return run_get(args, out, err);
  }
  if (name == "set") {
    return run_set(args, err);
  }
  if (name == "del") {
    return run_del(args, err);
  }
  return run_ls(args, out, err);
}

}  // namespace pgm::configtool
