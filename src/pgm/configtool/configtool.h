// pgmoneta-config: creates (init) and edits (get, set, del, ls) a pgmoneta.conf offline.
// Functions are thread-compatible; main() wires them to the process's streams.
//
// Edits go through confedit::Document, so comments, order and spacing survive, and files are
// rewritten atomically (temp, fsync, rename, fsync dir) with mode 0600. `set` checks values of
// keys the daemon knows ([pgmoneta] keys in [pgmoneta], server keys elsewhere) and refuses
// invalid ones; unknown keys are written with a warning, as pgmoneta-config does.
//
// Exit codes: 0 success; 1 a missing file, section or key, an invalid value, an existing init
// output without -F, an I/O error; 2 a usage error.
#pragma once

#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pgm::configtool {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

struct Options {
  std::string output = "pgmoneta.conf";  // -o, init only
  bool quiet = false;                    // -q: init with the defaults, no prompts
  bool force = false;                    // -F: init may overwrite `output`
  std::vector<std::string> command;      // positional words: {"set", file, section, key, value}
};

// Result of parsing argv: options to run, or an exit code (help, version, usage error).
struct ParsedCommandLine {
  std::optional<Options> options;
  int exit_code = 0;
};
// Parses with CLI11 and checks the command's word count; help and version go to `out`, usage
// errors to `err` as one line.
ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err);

// The answers of init, defaults as pgmoneta-config proposes them.
struct InitAnswers {
  std::string host = "*";
  std::string base_dir = "/home/pgmoneta/backup";
  std::string compression = "zstd";
  std::string retention = "7";
  std::string log_type = "file";
  std::string log_level = "info";
  std::string log_path = "/tmp/pgmoneta.log";
  std::string unix_socket_dir = "/tmp/";
  std::string server_name = "primary";
  std::string server_host = "localhost";
  std::string server_port = "5432";
  std::string server_user = "repl";
  std::string server_wal_slot = "repl";
};

// The pgmoneta.conf text init writes for `answers` (metrics = 5001 is always included).
std::string render_init(const InitAnswers& answers);

// Runs the parsed command. init prompts on `out` and reads answers from `in` (one line each,
// an empty line or end of input keeps the [default]; an invalid answer is asked again).
int run(const Options& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace pgm::configtool
