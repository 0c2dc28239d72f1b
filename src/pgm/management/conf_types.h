// pgmoneta's types for `conf get` values on the wire. Our configuration model answers every
// key as the text a user would write ("30s", "on", "zstd"); pgmoneta's daemon sends numbers,
// booleans, enum codes and {"string_value", "value"} objects, and pgmoneta-cli prints what it
// gets (a string where it expects an enum prints as "none"). The daemon converts with
// typed_conf_value(); enum codes from other daemons are named back with conf_enum_name()
// (output.cc). Pure functions; thread-safe.
//
// The kinds, from pgmoneta 0.22's conf get (its daemon's answer; its CLI dereferences an enum
// value as an object, so a bare number there crashes pgmoneta-cli 0.22):
//  - integers: backlog, compression_level, console, management, metrics, max_rate,
//    network_max_rate, s3_port, workers; per server port, workers, max_rate, network_max_rate,
//    and create_slot (0 undefined, 1 yes, 2 no);
//  - booleans: keep_alive, nodelay, non_blocking, progress, tls; per server progress, online;
//  - s3_use_tls: 0 or 1;
//  - {"string_value": <our spelling>, "value": <code>} for the enums: compression (0 none,
//    1 gzip, 2 zstd, 3 lz4, 4 bzip2), encryption (the AES mode byte, 0 none), storage_engine
//    (bits: 1 local, 2 ssh, 4 s3, 8 azure), create_slot (0 undefined, 1 yes, 2 no), hugepage
//    (0 off, 1 try, 2 on), log_type (0 console, 1 file, 2 syslog), log_level (1 debug5-2,
//    2 debug/debug1, 3 info, 4 warn, 5 error, 6 fatal), log_mode (0 create, 1 append),
//    direct_io (0 off, 1 on, 2 auto), update_process_title (0 never/off, 1 strict,
//    2 minimal, 3 verbose);
//  - {"string_value": "<n>s" or "<n>B", "value": <n>} for the durations in seconds
//    (blocking_timeout, verification, log_rotation_age, metrics_cache_max_age) and the sizes
//    in bytes (log_rotation_size, metrics_cache_max_size).
// Any other key, and a text that does not parse as its kind, stays the text.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace pgm::management {

// pgmoneta's wire value of `key` (a [pgmoneta] key, or a server key when `server`) for our
// configuration text `text`.
nlohmann::json typed_conf_value(std::string_view key, const std::string& text, bool server);

// The name of enum code `code` of `key` (compression, encryption, storage_engine, create_slot,
// hugepage, log_type, log_level, log_mode); nullopt for another key or an unknown code.
std::optional<std::string> conf_enum_name(std::string_view key, int64_t code);

// The {"string_value", "value"} object of a duration, size or named value: `text` as given
// (empty: the value's decimal digits) and `value`.
nlohmann::json string_and_value(const std::string& text, int64_t value);

}  // namespace pgm::management
