// Process titles: what `ps` shows for the daemon's children ("pgmoneta: wal/primary"), set
// according to `update_process_title`. Call init_process_title() once in main() before any
// fork; set_process_title() is then safe in any single-threaded process (a fresh child).
//
// Linux shows /proc/<pid>/cmdline, which is the memory that held argv (and, right after it,
// the environment). init_process_title() moves the environment strings to the heap, as
// PostgreSQL's ps_status.c does, so the title may use both areas. The short thread name
// (prctl PR_SET_NAME, 15 bytes, what `ps -o comm` and `top` show) is set as well.
#pragma once

#include <string>

#include "pgm/config/model.h"

namespace pgm::daemon {

void init_process_title(int argc, char** argv);

// `what`: "wal/primary", "status", ...; `detail`: extra words for verbose mode ("" for none).
//   never:   no change;
//   strict:  "pgmoneta: <what>", cut to the length of the original command line;
//   minimal: "pgmoneta: <what>";
//   verbose: "pgmoneta: <what> <detail>".
void set_process_title(config::ProcessTitle mode, const std::string& what,
                       const std::string& detail = "");

}  // namespace pgm::daemon
