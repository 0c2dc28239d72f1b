// pgmoneta-walinfo's command line: the options pgmoneta's walinfo takes, parsed with CLI11.
// Pure functions, thread-safe.
//
// pgmoneta spells three options with two letters after one dash (-RT, -RD, -RR); CLI11, like
// getopt, reads "-RT" as the flags -R and -T. normalize_arguments() therefore rewrites those
// three words into their long forms before CLI11 sees them.
#pragma once

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/wal/lsn.h"

namespace pgm::walinfo {

inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

enum class Format { kRaw, kJson };
enum class Color { kAuto, kOn, kOff };

struct Options {
  std::optional<std::string> config;     // -c: pgmoneta_walinfo.conf (or a pgmoneta.conf)
  std::optional<std::string> users;      // -u: pgmoneta_users.conf
  std::optional<std::string> output;     // -o: write here instead of stdout
  Format format = Format::kRaw;          // -F raw|json
  std::optional<std::string> logfile;    // -L: log to this file
  bool quiet = false;                    // -q: decode and check, print no records
  Color color = Color::kAuto;            // --color on|off (auto: on for a terminal)
  std::vector<std::string> rmgrs;        // -r, repeatable or comma-separated; case-insensitive
  std::optional<wal::Lsn> start;         // -s: records starting at or after
  std::optional<wal::Lsn> end;           // -e: records starting before
  std::vector<uint32_t> xids;            // -x, repeatable
  uint64_t limit = 0;                    // -l: at most this many records (0: all)
  bool verbose = false;                  // -v
  bool summary = false;                  // -S
  std::optional<std::string> mapping;    // -m: OID mapping file (JSON)
  bool translate = false;                // -t
  std::vector<std::string> tablespaces;  // -RT, comma-separated names or OIDs
  std::vector<std::string> databases;    // -RD
  std::vector<std::string> relations;    // -RR
  std::string path;                      // a segment file, a directory or a tar archive
};

// Result of parsing argv: options to run, or an exit code (help, version, usage error).
struct ParsedCommandLine {
  std::optional<Options> options;
  int exit_code = 0;
};

// argv[1..] with -RT, -RD, -RR (alone or as -RT=value) rewritten to --tablespaces,
// --databases, --relations. Other words are left alone, and so is everything after "--".
std::vector<std::string> normalize_arguments(int argc, const char* const* argv);

// Parses the command line; help and version go to `out`, usage errors to `err` as one line.
// -s/-e take "X/X" or a decimal byte position; -R "ts/db/rel" fills the three lists.
ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err);

// A whole decimal number that fits 32 bits (an XID, an OID); nullopt for anything else.
std::optional<uint32_t> parse_uint32(std::string_view text);

// An LSN as "X/X" or a plain decimal number (pgmoneta accepts both).
std::optional<wal::Lsn> parse_lsn_argument(const std::string& text);

}  // namespace pgm::walinfo
