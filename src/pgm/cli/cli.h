// pgmoneta-cli: argument parsing (argv -> Invocation), running one management exchange and
// mapping the answer to output and an exit code. main.cc only calls main_entry(). Functions
// are thread-compatible; run() blocks on the daemon.
//
// Exit codes (also in --help):
//   0  success: Outcome.Status is true
//   1  the daemon reported a failure (Outcome.Status false), or conf get of an unknown key
//   2  usage or local setup error: bad arguments, root, configuration file, master key
//   3  the daemon could not be reached or answered something that is not a valid response
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>
#include <sys/types.h>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/management/protocol.h"

namespace pgm::cli {

inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitUnreachable = 3;

// Global options of reference §2.
struct Options {
  std::string config_path;                         // -c
  std::string host;                                // -h (remote management over TCP)
  std::string port;                                // -p
  std::string user;                                // -U
  std::string password;                            // -P
  std::string logfile;                             // -L (accepted; the CLI writes no log yet)
  bool verbose = false;                            // -v
  std::optional<management::OutputFormat> format;  // -F, else the config file's output
  std::optional<compress::Algorithm> compression;  // -C, else the config file's compression
  std::optional<crypto::AesMode> encryption;       // -E, else the config file's encryption
  std::string sort = "asc";                        // -s
  bool cascade = false;                            // --cascade
  bool force = false;                              // --force
  bool start = false;                              // --start (verify: proven restore; ours)
  bool no_progress = false;                        // --no-progress
};

// One command to send.
struct Invocation {
  Options options;
  management::Command command = management::Command::kPing;
  nlohmann::json request = nlohmann::json::object();  // the Request object
  std::string conf_key;  // conf get <key>; empty = the whole configuration
};

struct ParseOutcome {
  std::optional<Invocation> invocation;  // set when a command is to be sent
  int exit_code = kExitSuccess;          // when no invocation: 0 after --help/-V, else 2
  std::string out;                       // help or version text
  std::string err;                       // usage error text
};

// Parses the arguments after argv[0]. Never throws.
ParseOutcome parse_args(const std::vector<std::string>& args);

// Exit code for a response document and, on failure, the one stderr line:
// "pgmoneta-cli: <command> failed: error <n> (<Workflow>): <Message or description>".
struct Verdict {
  int exit_code = kExitSuccess;
  std::string error_line;  // empty on success; no trailing newline
};
Verdict judge_response(management::Command command, const nlohmann::json& response);

// What run() needs from the process, injectable for tests.
struct Environment {
  uid_t uid = 0;
  std::string default_config_path;  // used when -c is absent and the file exists
  std::function<Result<crypto::MasterKey>()> load_master_key;
  // Progress bar on stderr while backup waits (see progress.h): only when stderr is a terminal.
  bool stderr_is_tty = false;
  std::function<int()> terminal_columns;  // empty: 80
  std::chrono::milliseconds progress_interval = std::chrono::milliseconds(500);
  // Remote management: the password when -P is absent. PGMONETA_PASSWORD from the environment
  // first (for scripts), else the prompt (echo off on the terminal; nullopt without one).
  std::optional<std::string> password_from_env;
  std::function<std::optional<std::string>(const std::string& prompt)> prompt_password;
  // $HOME/.pgmoneta: client TLS files (pgmoneta.crt, pgmoneta.key, root.crt).
  std::string pgmoneta_home;
};
Environment process_environment();

// Loads the configuration, sends the request, prints the rendered answer to `out` and
// diagnostics to `err`; returns the exit code. While a backup waits, and when
// should_show_progress(env.stderr_is_tty, --no-progress), a second connection polls `progress`
// and a bar is drawn on `err` from another thread; it is erased before anything else is
// written. `progress` in text format prints render_progress_text().
//
// encrypt, decrypt, compress and decompress send an absolute SourceFile (parse_args resolves a
// relative one against the working directory). Without a daemon (no configuration file, no
// unix_socket_dir, no socket or nobody listening) they run locally (backup/file_verbs.h:
// compress = zstd level 3, AES-256-GCM with env.load_master_key()), print the answer a daemon
// would give (SourceFile, DestinationFile) and the stderr line "pgmoneta-cli: no daemon
// reachable; <verb> done locally". Local failure -> 1; no master key -> 2.
int run(const Invocation& invocation, const Environment& env, std::ostream& out, std::ostream& err);

// parse_args + run with the process environment and std::cout/std::cerr. Never throws.
int main_entry(int argc, char** argv);

}  // namespace pgm::cli
