// Rendering of response documents for pgmoneta-cli, following pgmoneta's src/cli.c and its
// json/art/deque/value printers. Pure functions returning strings; thread-safe.
//
// - raw:  the untranslated document, pretty JSON with 2-space indentation.
// - json: the translated document (see translate()), pretty JSON with 2-space indentation.
// - text: the translated document as pgmoneta's YAML-like tree: "Key: value" lines, nested
//         objects as "Key:" then their members indented by 2, arrays as "- " items; empty
//         strings print as '', doubles as %f, keys sorted.
// Every rendering ends with a newline.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "pgm/core/result.h"
#include "pgm/management/protocol.h"

namespace pgm::management {

// pgmoneta-cli's translation of codes for text and json output: Header Command/Output/
// Compression/Encryption to names; byte counts (BackupSize, RestoreSize, BiggestFileSize, WAL
// and Delta when numeric, FreeSpace, UsedSpace, TotalSpace, WorkspaceFreeSpace, ServerSize,
// HotStandbySize) to human units; Valid to yes/no/unknown; Compression/Encryption codes of
// backups to names (Compression either a management code 0-7 or backup.info's type byte
// 0x11-0x14 client / 0x21-0x24 server); LSN halves to hex; negative retention to "Unspecified"; for
// conf get, configuration enums to names. Only numeric values are translated.
nlohmann::json translate(const nlohmann::json& doc);

// Renders the whole response document.
std::string render(const nlohmann::json& doc, OutputFormat format);

// pgmoneta's text tree of any JSON value (no trailing newline).
std::string render_text(const nlohmann::json& value);

// Sizes as pgmoneta prints them: 1024-based, "%.2f" and B/kB/MB/GB/TB/PB: 831881216 ->
// "793.34MB", 0 -> "0.00B".
std::string format_size(uint64_t bytes);

// conf get <key> lookup in a conf get Response: "key" and "pgmoneta.key" are main settings;
// "server.<name>.key" and "<name>.key" are settings of server <name> (found as Response[name],
// Response["server"][name] (our daemon's layout), Response["servers"][name] or an element of a
// Response["servers"] array whose "name" is name).
// kNotFound with "unknown configuration key '<key>'" otherwise.
Result<nlohmann::json> find_config_value(const nlohmann::json& response, std::string_view key);

// Output of `conf get <key>`: text and raw print the bare value (strings unquoted), json
// prints {"<key>": value} compactly. Ends with a newline.
std::string render_config_value(std::string_view key, const nlohmann::json& value,
                                OutputFormat format);

// Output of `conf get <key>` for a conf get response document: kNotFound for an unknown key.
// text prints the translated value (render_config_value); raw the value as sent; json the whole
// translated document with Response holding only that key, an enum as {"string_value",
// "value"} (pgmoneta-cli's shape).
Result<std::string> render_config_answer(const nlohmann::json& response, std::string_view key,
                                         OutputFormat format);

// Output of `conf ls`: text and raw print one path per line, json the paths as one compact
// object. Uses pgmoneta's *_configuration_path keys; with none present, every string member
// of the Response except ServerVersion/Server. Ends with a newline.
std::string render_conf_ls(const nlohmann::json& doc, OutputFormat format);

}  // namespace pgm::management
