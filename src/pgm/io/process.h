// Other processes as /proc shows them: whether a process id still names a running process,
// and what a leftover's identity is (state, parent, start time, executable). Used to tell the
// leftovers of processes killed with -9 (PID files, "<name>-<pid>" workspace entries, restore
// marks, recorded children) from those of live ones. Linux only; thread-safe (no state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <sys/types.h>

namespace pgm::io {

// A process id written as decimal digits, surrounding ASCII whitespace allowed ("4242\n" of a
// PID file). nullopt for anything else, and for 0 or a negative or overflowing number.
std::optional<pid_t> parse_pid(std::string_view text);

// True while `pid` names a process that runs (or is stopped): one that exists, even under
// another user (EPERM), and is no zombie. A zombie (state Z or X in /proc/<pid>/stat) has
// exited and only waits for its parent's wait(): it holds no file, lock, socket or port, so it
// counts as dead. pid <= 0 is never alive.
bool process_alive(pid_t pid);

// The fields of /proc/<pid>/stat that identify a process.
struct ProcessStat {
  char state = '?';         // R, S, D, T, Z, ...
  pid_t ppid = 0;           // parent; 1 (or a subreaper) for an orphan
  uint64_t start_time = 0;  // clock ticks after boot: with the pid, unique within one boot
};

// Parses the text of /proc/<pid>/stat; the command name in parentheses may hold spaces and
// parentheses itself. nullopt when the text is malformed.
std::optional<ProcessStat> parse_process_stat(std::string_view text);

// Reads /proc/<pid>/stat; nullopt when the process does not exist (or /proc is unreadable).
std::optional<ProcessStat> read_process_stat(pid_t pid);

// The executable of `pid` (/proc/<pid>/exe), without the " (deleted)" the kernel appends once
// the file was replaced (an upgraded binary); "" when unknown (gone, or another user's).
std::string process_executable(pid_t pid);

// This boot's identity (/proc/sys/kernel/random/boot_id): process ids and start times recorded
// under another boot name nothing now. "" when unreadable.
std::string boot_id();

}  // namespace pgm::io
