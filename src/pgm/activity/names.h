// The vocabulary of running operations: which activity flags a server shows, which operation
// its progress describes and in which phase. One name table for the progress answer, the
// metrics and the status page. Pure data; thread-safe.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace pgm::activity {

// A server's activity flags (status ActiveBackup..., pgmoneta_active_<name>).
enum class Activity : int { kBackup = 0, kRestore, kArchive, kDelete, kRetention };
inline constexpr size_t kActivityCount = 5;
inline constexpr Activity kActivities[kActivityCount] = {Activity::kBackup, Activity::kRestore,
                                                         Activity::kArchive, Activity::kDelete,
                                                         Activity::kRetention};

// The operation the progress figures describe (`progress --command`).
enum class Operation : int { kBackup = 0, kRestore, kVerify, kArchive };
inline constexpr size_t kOperationCount = 4;

// Where the operation is. kIdle: nothing runs.
enum class Phase : int { kIdle = 0, kStarting, kStreaming, kFinishing, kVerifying, kUploading };
inline constexpr size_t kPhaseCount = 6;

// "backup", "restore", "archive", "delete", "retention".
std::string_view activity_name(Activity a);
// "backup", "restore", "verify", "archive".
std::string_view operation_name(Operation o);
// "idle", "starting", "streaming", "finishing", "verifying", "uploading".
std::string_view phase_name(Phase p);

// The operation of that name; nullopt for any other word.
std::optional<Operation> parse_operation(std::string_view name);

// Stored values back to enums; out-of-range values clamp into range.
Operation operation_of(int value);
Phase phase_of(int value);

}  // namespace pgm::activity
