// pgmoneta_walinfo.conf: the settings pgmoneta-walinfo reads from its configuration file.
// Pure apart from load_settings (reads one file); thread-safe.
//
// Keys of the [pgmoneta_walinfo] section (or of [pgmoneta], so that `-c pgmoneta.conf` works):
// log_type (console, file, syslog), log_level (fatal .. debug5; unknown values mean info, as in
// pgmoneta), log_path, encryption (of .aes segments: aes-256-gcm by default). Other keys are
// accepted and ignored. Every other section is a server: its host, port and user are where -t
// reads object names when no mapping file is given (live_mapping.h); its other keys are ignored.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgm/config/parser.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/log/log.h"

namespace pgm::walinfo {

inline constexpr std::string_view kDefaultConfigPath = "/etc/pgmoneta/pgmoneta_walinfo.conf";

struct ServerSection {
  std::string name;  // the section's name
  std::string host;
  int port = 5432;
  std::string user;
};

// The keys the WAL tools (pgmoneta-walinfo, pgmoneta-walfilter) read from their own section.
struct ToolSettings {
  log::Type log_type = log::Type::kConsole;
  log::Level log_level = log::Level::kInfo;
  std::string log_path = "pgmoneta.log";
  crypto::AesMode encryption = crypto::AesMode::kAes256Gcm;  // of .aes segments
};

struct Settings : ToolSettings {
  std::vector<ServerSection> servers;  // in file order
};

// Applies one key of a tool's section to `settings`: log_type (console, file, syslog), log_level
// (unknown values mean info, as in pgmoneta), log_path, encryption ("none" keeps the default:
// .aes files are still decrypted with AES-256-GCM). Other keys are ignored. kConfig naming
// file:line and the value for an invalid log_type or encryption.
Result<void> apply_tool_setting(const config::IniEntry& entry, const std::string& file_name,
                                ToolSettings& settings);

// kConfig naming file:line for an invalid log_type, encryption or server port.
Result<Settings> parse_settings(std::string_view text, const std::string& file_name);
// kNotFound when the file is absent.
Result<Settings> load_settings(const std::string& path);

}  // namespace pgm::walinfo
