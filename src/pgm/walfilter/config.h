// The walfilter's configuration: the YAML file named on its command line (pgmoneta's keys:
// source_dir, target_dir, configuration_file, rules with xids and operations) and the INI
// file that configuration_file names (logging, and the AES mode of .aes segments). Pure apart
// from the load_* functions (read one file each); thread-safe.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/log/log.h"
#include "pgm/walinfo/settings.h"

namespace pgm::walfilter {

inline constexpr std::string_view kDefaultSettingsPath = "/etc/pgmoneta/pgmoneta_walfilter.conf";

struct FilterConfig {
  std::string source_dir;          // required
  std::string target_dir;          // required
  std::string configuration_file;  // empty: kDefaultSettingsPath, if it exists
  std::set<uint32_t> xids;         // rules: - xids: [...]
  bool delete_operations = false;  // rules: - operations: [DELETE]
};

// Parses the YAML text. Errors are kConfig naming the file, the line and the key:
// "f.yaml:4: rules[0].xids[1]: not a transaction id: \"abc\"". Unknown top-level keys and
// unknown rule kinds or operations are errors too (a typo must not filter nothing).
Result<FilterConfig> parse_filter_config(std::string_view text, const std::string& file_name);
// kNotFound when the file is absent.
Result<FilterConfig> load_filter_config(const std::string& path);

// The WAL tools' common keys (walinfo/settings.h); `encryption` is that of .aes source segments.
using Settings = walinfo::ToolSettings;

// Keys of the [pgmoneta_walfilter] section (also spelled [pgmoneta-walfilter], or [pgmoneta] so
// that a pgmoneta.conf works): log_type, log_level, log_path, encryption; other keys and
// sections are ignored. kConfig naming file:line for an invalid log_type or encryption.
Result<Settings> parse_settings(std::string_view text, const std::string& file_name);
Result<Settings> load_settings(const std::string& path);

}  // namespace pgm::walfilter
