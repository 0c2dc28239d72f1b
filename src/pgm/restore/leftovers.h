// Leftovers of runs killed with -9: `verify --start` and `archive` work in the workspace under
// names that end in their process id (proven-<server>-<label>-<pid>, archive-<server>-<label>-
// <pid>, and the tablespace directories beside them, <that name>-tblspc_<name>); an archive
// writes <file>.tmp.<pid> before its rename; a restore marks its target directory while it
// writes it. A process that ends normally removes its own; these functions remove those of
// processes that are gone, at start-up and before each run, and never touch a name that does
// not match or a process that is alive.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgm::restore {

// Removes proven-* and archive-* leftovers of dead processes in `workspace`; how many went.
size_t remove_dead_workspace_leftovers(const std::string& workspace);

// Removes "<prefix>*.tmp.<pid>" files of dead processes in `dir`; how many went.
size_t remove_dead_temp_files(const std::string& dir, std::string_view prefix);

// A restore's mark on its target while it writes it: "<target>/.pgmoneta-restore" holds
// "pid=<n>"; removed once pg_control is in place.
inline constexpr const char* kRestoreMarker = ".pgmoneta-restore";

// When `target` holds the mark of a restore whose process is gone: empties it, removes its
// tablespace directories (<target>-tblspc_*, named by tablespace_directory) and returns true.
// False when there is no mark or its process still runs: then nothing is touched.
bool clear_abandoned_restore(const std::string& target);

}  // namespace pgm::restore
