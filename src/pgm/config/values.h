// Scalar value parsing for configuration files: bools, integers, durations, sizes, and
// `$VAR` / `${VAR}` environment interpolation. Pure functions, thread-safe.
//
// Errors are kConfig with a short message ("invalid duration \"5x\": ...") that callers
// prefix with "<file>:<line>: <key>: ".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::config {

// Looks up an environment variable; nullopt when undefined. Tests pass a map-backed lookup.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment (getenv). Reading it is safe as long as nobody calls setenv.
EnvLookup process_env();

// on/yes/1/true and off/no/0/false, case-insensitive.
Result<bool> parse_bool(std::string_view text);
std::string format_bool(bool value);  // "on" / "off"

// A decimal integer with optional leading '-', within [min, max].
Result<int64_t> parse_int(std::string_view text, int64_t min, int64_t max);

// An integer plus an optional unit s, m, h, d or w (case-insensitive; no unit = seconds).
Result<std::chrono::seconds> parse_duration(std::string_view text);
// The largest unit that divides exactly: 300s -> "5m", 0 -> "0", 90 -> "90s".
std::string format_duration(std::chrono::seconds value);

// An integer plus an optional unit B, K, KB, M, MB, G, GB (case-insensitive; powers of 1024).
Result<uint64_t> parse_size(std::string_view text);
// The largest unit that divides exactly: 262144 -> "256K", 0 -> "0", 1000 -> "1000".
std::string format_size(uint64_t bytes);

// Replaces `$NAME` and `${NAME}` (NAME = [A-Za-z_][A-Za-z0-9_]*) with the variable's value.
// A '$' not followed by a name is kept literally. An undefined variable or an unterminated
// "${" is an error naming it.
Result<std::string> interpolate_env(std::string_view text, const EnvLookup& env);

// Splits on `sep`, trimming blanks around each item and dropping empty items.
std::vector<std::string> split_list(std::string_view text, char sep);

std::string to_lower(std::string_view text);
std::string_view trim(std::string_view text);

}  // namespace pgm::config
