// pgmoneta-walinfo's work: reads WAL segments (a file, a directory of them, or a tar archive;
// plain, .partial, compressed, encrypted) with the xlog decoder and prints the records that pass
// the filters, or their summary. Thread-compatible; main() wires it to the process.
//
// Segments of a directory are read in name order; consecutive segments form one stream, so a
// record crossing a segment boundary is shown once, whole. A gap (or a new timeline) starts a
// new stream. A record that continues past the last segment given is not shown and is not an
// error; a malformed segment is: the message names the file and the offset, the exit code is 1,
// and the records before it have been printed (a JSON document is closed).
//
// Exit codes: 0 success; 1 a malformed or unreadable input, a configuration or mapping error;
// 2 a usage error.
#pragma once

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/walinfo/options.h"

namespace pgm::walinfo {

struct Context {
  // The master key for .aes segments, asked for only when one is met.
  std::function<Result<crypto::MasterKey>()> load_master_key;
  bool stdout_is_terminal = false;  // --color auto
};

// A Context for the running process ($HOME/.pgmoneta/master.key, isatty(1)).
Context process_context();

// The WAL files of `dir` to read, sorted, as paths: complete segments in any stored form, and a
// .partial only when its complete segment is absent. kNotFound / kIo name the directory.
Result<std::vector<std::string>> wal_files_in(const std::string& dir);

// Runs the parsed options; records or the summary go to `out` (or to -o), messages to `err`.
int run(const Options& options, const Context& context, std::ostream& out, std::ostream& err);

}  // namespace pgm::walinfo
