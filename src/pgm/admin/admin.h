// pgmoneta-admin: master key and users/admins vault management (reference §3).
// Functions are thread-compatible; main() wires them to the process environment.
//
// Password sources, highest priority first: -P, -g (generate), PGMONETA_PASSWORD, a prompt on
// the terminal (without echo, asked twice). Without a terminal and without a password the
// command fails. Vault files are rewritten atomically with mode 0600; comments are kept.
#pragma once

#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::admin {

enum class OutputFormat { kText, kJson };

// Internal command codes of pgmoneta-admin, used in the JSON Header (reference §4.2).
enum class Command {
  kMasterKey = 100,
  kUserAdd = 101,
  kUserEdit = 102,
  kUserDel = 103,
  kUserLs = 104
};

// Interactive input. read_line() returns the line without its newline; kUnavailable when
// there is no terminal.
class Terminal {
 public:
  virtual ~Terminal() = default;
  virtual Result<std::string> read_line(std::string_view prompt, bool echo) = 0;
};
// The controlling terminal (/dev/tty); echo is switched off for passwords.
std::unique_ptr<Terminal> make_tty_terminal();

struct Options {
  std::string file;                     // -f
  std::string user;                     // -U
  std::optional<std::string> password;  // -P
  bool generate = false;                // -g
  int length = 64;                      // -l
  OutputFormat format = OutputFormat::kText;
  std::vector<std::string> command;  // positional words, e.g. {"user", "add"}
};

struct Context {
  std::string pgmoneta_dir;                 // "$HOME/.pgmoneta"
  std::optional<std::string> env_password;  // PGMONETA_PASSWORD
  Terminal* terminal = nullptr;             // borrowed; may be null (no terminal)
};

// Result of parsing argv: options to run, or an exit code (help, version, usage error).
struct ParsedCommandLine {
  std::optional<Options> options;
  int exit_code = 0;
};
// Parses with CLI11; help and version go to `out`, usage errors to `err` as one line.
ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err);

// Maps the positional words to a command ("master-key", "user add|edit|del|ls", and the old
// add-user, update-user, remove-user, list-users spellings).
Result<Command> parse_command(const std::vector<std::string>& words);

// A random password of `length` characters from pgmoneta's alphabet (letters, digits,
// punctuation), drawn with RAND_bytes.
Result<std::string> generate_password(size_t length);

// Creates "<pgmoneta_dir>/master.key" (directory 0700, file 0600, random 16-byte salt).
// Refuses when it exists. Returns the path.
Result<std::string> create_master_key(const Context& ctx, const Options& opts);

// What a user command did. `generated_password` is set when -g produced it.
struct UserChange {
  std::string user;
  std::optional<std::string> generated_password;
};
Result<UserChange> user_add(const Context& ctx, const Options& opts);
Result<UserChange> user_edit(const Context& ctx, const Options& opts);
Result<UserChange> user_del(const Context& ctx, const Options& opts);
Result<std::vector<std::string>> user_ls(const Options& opts);

// Runs opts.command and prints the outcome to `out` (text or JSON); failures also print
// "pgmoneta-admin: <reason>" to `err`. Returns the exit code: 0 success, 1 failure,
// 2 usage error.
int run(const Options& opts, const Context& ctx, std::ostream& out, std::ostream& err);

}  // namespace pgm::admin
