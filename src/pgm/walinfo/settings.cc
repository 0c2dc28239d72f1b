#include "pgm/walinfo/settings.h"

#include <fmt/format.h>

#include "pgm/config/parser.h"
#include "pgm/config/values.h"
#include "pgm/io/file.h"

namespace pgm::walinfo {

Result<void> apply_tool_setting(const config::IniEntry& entry, const std::string& file_name,
                                ToolSettings& settings) {
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}:{}: {} \"{}\"", file_name, entry.line, what, entry.value));
  };
  const std::string value = config::to_lower(entry.value);
  if (entry.key == "log_type") {
    if (value == "console") {
      settings.log_type = log::Type::kConsole;
    } else if (value == "file") {
      settings.log_type = log::Type::kFile;
    } else if (value == "syslog") {
      settings.log_type = log::Type::kSyslog;
    } else {
      return bad("invalid log_type");
    }
  } else if (entry.key == "log_level") {
    settings.log_level = log::parse_level(value).value_or(log::Level::kInfo);
  } else if (entry.key == "log_path") {
    settings.log_path = entry.value;
  } else if (entry.key == "encryption") {
    auto mode = crypto::parse_aes_mode(value);
    if (!mode) {
      return bad("invalid encryption");
    }
    if (*mode != crypto::AesMode::kNone) {
      settings.encryption = *mode;
    }
  }
  return {};
}

Result<Settings> parse_settings(std::string_view text, const std::string& file_name) {
  PGM_ASSIGN_OR_RETURN(config::IniDocument doc, config::parse_ini(text, file_name));
  Settings settings;
  for (const config::IniSection& section : doc.sections) {
    if (section.name != "pgmoneta_walinfo" && section.name != "pgmoneta") {
      ServerSection server;
      server.name = section.name;
      for (const config::IniEntry& entry : section.entries) {
        if (entry.key == "host") {
          server.host = entry.value;
        } else if (entry.key == "user") {
          server.user = entry.value;
        } else if (entry.key == "port") {
          auto port = config::parse_int(entry.value, 1, 65535);
          if (!port) {
            return make_error(ErrorCode::kConfig, fmt::format("{}:{}: invalid port \"{}\"",
                                                              file_name, entry.line, entry.value));
          }
          server.port = static_cast<int>(*port);
        }
      }
      settings.servers.push_back(std::move(server));
      continue;
    }
    for (const config::IniEntry& entry : section.entries) {
      PGM_TRY(apply_tool_setting(entry, file_name, settings));
    }
  }
  return settings;
}

Result<Settings> load_settings(const std::string& path) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  return parse_settings(text, path);
}

}  // namespace pgm::walinfo
