#include "pgm/walinfo/options.h"

#include <array>
#include <charconv>
#include <string_view>

#include <CLI/CLI.hpp>

#include "pgm/version.h"

namespace pgm::walinfo {

namespace {

constexpr std::string_view kProgram = "pgmoneta-walinfo";

struct TwoLetterOption {
  std::string_view short_name;
  std::string_view long_name;
};
constexpr std::array<TwoLetterOption, 3> kTwoLetterOptions = {{
    {"-RT", "--tablespaces"},
    {"-RD", "--databases"},
    {"-RR", "--relations"},
}};

// Appends the comma-separated, non-empty items of `text` to `out`.
void append_list(const std::string& text, std::vector<std::string>& out) {
  size_t from = 0;
  while (from <= text.size()) {
    size_t comma = text.find(',', from);
    if (comma == std::string::npos) {
      comma = text.size();
    }
    std::string item = text.substr(from, comma - from);
    if (!item.empty()) {
      out.push_back(std::move(item));
    }
    from = comma + 1;
  }
}

}  // namespace

std::vector<std::string> normalize_arguments(int argc, const char* const* argv) {
  std::vector<std::string> args;
  bool options_done = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!options_done && arg == "--") {
      options_done = true;
    } else if (!options_done) {
      for (const TwoLetterOption& option : kTwoLetterOptions) {
        if (arg == option.short_name) {
          arg = std::string(option.long_name);
        } else if (arg.size() > option.short_name.size() &&
                   arg.compare(0, option.short_name.size(), option.short_name) == 0 &&
                   arg[option.short_name.size()] == '=') {
          arg = std::string(option.long_name) + arg.substr(option.short_name.size());
        }
      }
    }
    args.push_back(std::move(arg));
  }
  return args;
}

std::optional<uint32_t> parse_uint32(std::string_view text) {
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::optional<wal::Lsn> parse_lsn_argument(const std::string& text) {
  if (text.find('/') != std::string::npos) {
    auto lsn = wal::Lsn::parse(text);
    return lsn ? std::optional(*lsn) : std::nullopt;
  }
  uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return wal::Lsn(value);
}

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err) {
  Options opts;
  bool version = false;
  std::string format = "raw";
  std::string color = "auto";
  std::vector<std::string> rmgrs;
  std::optional<std::string> start;
  std::optional<std::string> end;
  std::vector<std::string> xids;
  std::string tablespaces;
  std::string databases;
  std::string relations;
  std::optional<std::string> filter;

  CLI::App app{"Command line utility to read and display Write-Ahead Log (WAL) files",
               std::string(kProgram)};
  app.set_help_flag("-?,-h,--help", "Display help");
  app.add_option("-c,--config", opts.config, "Set the path to the pgmoneta_walinfo.conf file");
  app.add_option("-u,--users", opts.users, "Set the path to the pgmoneta_users.conf file");
  app.add_option("--tablespaces", tablespaces, "-RT: filter on tablespaces (names or OIDs)");
  app.add_option("--databases", databases, "-RD: filter on databases (names or OIDs)");
  app.add_option("--relations", relations, "-RR: filter on relations (names or OIDs)");
  app.add_option("-R,--filter", filter, "Combination of -RT, -RD, -RR: \"ts,../db,../rel,..\"");
  app.add_option("-o,--output", opts.output, "Output file");
  app.add_option("-F,--format", format, "Output format (raw, json)")
      ->check(CLI::IsMember({"raw", "json"}, CLI::ignore_case));
  app.add_option("-L,--logfile", opts.logfile, "Set the log file");
  app.add_flag("-q,--quiet", opts.quiet, "No output only result");
  app.add_option("--color", color, "Use colors (on, off)")
      ->check(CLI::IsMember({"on", "off", "auto"}, CLI::ignore_case));
  app.add_option("-r,--rmgr", rmgrs, "Filter on a resource manager (\"list\" lists them)");
  app.add_option("-s,--start", start, "Filter on a start LSN");
  app.add_option("-e,--end", end, "Filter on an end LSN");
  app.add_option("-x,--xid", xids, "Filter on an XID");
  app.add_option("-l,--limit", opts.limit, "Limit number of outputs");
  app.add_flag("-v,--verbose", opts.verbose, "Output result");
  app.add_flag("-S,--summary", opts.summary,
               "Show a summary of WAL record counts grouped by resource manager");
  app.add_flag("-V,--version", version, "Display version information");
  app.add_option("-m,--mapping", opts.mapping, "Provide mappings file for OID translation");
  app.add_flag("-t,--translate", opts.translate, "Translate OIDs to object names");
  app.add_option("file", opts.path, "<file|directory|tar_archive>");
  app.footer("pgmoneta: https://pgmoneta.github.io/");

  const std::vector<std::string> words = normalize_arguments(argc, argv);
  std::vector<std::string> reversed(words.rbegin(), words.rend());  // CLI11 takes them reversed
  try {
    app.parse(reversed);
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
  auto usage_error = [&err](const std::string& message) {
    err << kProgram << ": " << message << " (see " << kProgram << " --help)\n";
    return ParsedCommandLine{std::nullopt, kExitUsage};
  };

  opts.format = (format == "json" || format == "JSON") ? Format::kJson : Format::kRaw;
  if (color == "on" || color == "ON") {
    opts.color = Color::kOn;
  } else if (color == "off" || color == "OFF") {
    opts.color = Color::kOff;
  }
  for (const std::string& r : rmgrs) {
    append_list(r, opts.rmgrs);
  }
  if (start) {
    opts.start = parse_lsn_argument(*start);
    if (!opts.start) {
      return usage_error("invalid start LSN \"" + *start + "\"");
    }
  }
  if (end) {
    opts.end = parse_lsn_argument(*end);
    if (!opts.end) {
      return usage_error("invalid end LSN \"" + *end + "\"");
    }
  }
  for (const std::string& x : xids) {
    auto xid = parse_uint32(x);
    if (!xid) {
      return usage_error("invalid XID \"" + x + "\"");
    }
    opts.xids.push_back(*xid);
  }
  if (filter) {
    // "tablespaces/databases/relations", each part a comma-separated list, parts may be empty.
    std::vector<std::string> parts;
    size_t from = 0;
    while (true) {
      const size_t slash = filter->find('/', from);
      parts.push_back(filter->substr(from, slash == std::string::npos ? slash : slash - from));
      if (slash == std::string::npos) {
        break;
      }
      from = slash + 1;
    }
    if (parts.size() != 3) {
      return usage_error(R"(-R takes "tablespaces/databases/relations", got ")" + *filter + "\"");
    }
    append_list(parts[0], opts.tablespaces);
    append_list(parts[1], opts.databases);
    append_list(parts[2], opts.relations);
  }
  append_list(tablespaces, opts.tablespaces);
  append_list(databases, opts.databases);
  append_list(relations, opts.relations);
  const bool list_rmgrs = opts.rmgrs.size() == 1 && opts.rmgrs.front() == "list";
  if (opts.path.empty() && !list_rmgrs) {
    return usage_error("a WAL file, directory or tar archive is required");
  }
  return {opts, 0};
}

}  // namespace pgm::walinfo
