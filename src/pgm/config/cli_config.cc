#include "pgm/config/cli_config.h"

#include <fmt/format.h>

#include "pgm/config/parser.h"
#include "pgm/config/spellings.h"
#include "pgm/io/file.h"

namespace pgm::config {

namespace {

bool is_full_config(const IniDocument& doc) {
  for (const IniSection& section : doc.sections) {
    if (section.name != "pgmoneta") {
      continue;
    }
    for (const IniEntry& e : section.entries) {
      if (e.key == "base_dir") {
        return true;
      }
    }
  }
  return false;
}

class CliLoader {
 public:
  CliLoader(const std::string& file, const EnvLookup& env) : file_(file), env_(env) {}

  Result<LoadedCli> run(const IniDocument& doc) {
    if (is_full_config(doc)) {
      for (const IniSection& section : doc.sections) {
        if (section.name != "pgmoneta") {
          continue;
        }
        for (const IniEntry& e : section.entries) {
          if (e.key == "unix_socket_dir") {
            PGM_ASSIGN_OR_RETURN(out_.config.unix_socket_dir, path(e));
          } else if (e.key == "management") {
            PGM_ASSIGN_OR_RETURN(out_.config.port, port(e));
          }
        }
      }
      return std::move(out_);
    }
    for (const IniSection& section : doc.sections) {
      for (const IniEntry& e : section.entries) {
        PGM_TRY(apply(e));
      }
    }
    return std::move(out_);
  }

 private:
  Result<void> apply(const IniEntry& e) {
    CliConfig& c = out_.config;
    const std::string& k = e.key;
    if (k == "host") {
      c.host = e.value;
    } else if (k == "port") {
      PGM_ASSIGN_OR_RETURN(c.port, port(e));
    } else if (k == "unix_socket_dir") {
      PGM_ASSIGN_OR_RETURN(c.unix_socket_dir, path(e));
    } else if (k == "compression") {
      PGM_ASSIGN_OR_RETURN(c.compression, checked(e, parse_cli_compression(e.value)));
    } else if (k == "encryption") {
      PGM_ASSIGN_OR_RETURN(c.encryption, checked(e, parse_cli_encryption(e.value)));
    } else if (k == "log_type") {
      PGM_ASSIGN_OR_RETURN(c.log_type, checked(e, parse_log_type(e.value)));
    } else if (k == "log_level") {
      PGM_ASSIGN_OR_RETURN(c.log_level, checked(e, parse_log_level(e.value)));
    } else if (k == "log_path") {
      PGM_ASSIGN_OR_RETURN(c.log_path, path(e));
    } else if (k == "log_mode") {
      PGM_ASSIGN_OR_RETURN(c.log_mode, checked(e, parse_log_mode(e.value)));
    } else if (to_lower(k) == "output") {
      PGM_ASSIGN_OR_RETURN(c.output, checked(e, parse_output_format(e.value)));
    } else {
      out_.warnings.push_back(Warning{file_, e.line, k, "unknown key; ignored"});
    }
    return {};
  }

  // Prefixes a value error with "<file>:<line>: <key>: ".
  template <typename T>
  Result<T> checked(const IniEntry& e, Result<T> r) const {
    if (!r) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{}:{}: {}: {}", file_, e.line, e.key, r.error().message()));
    }
    return r;
  }
  Result<std::string> path(const IniEntry& e) const {
    return checked(e, interpolate_env(e.value, env_));
  }
  Result<int> port(const IniEntry& e) const {
    PGM_ASSIGN_OR_RETURN(int64_t n, checked(e, parse_int(e.value, 0, 65535)));
    return static_cast<int>(n);
  }

  const std::string& file_;
  const EnvLookup& env_;
  LoadedCli out_;
};

}  // namespace

Result<compress::Algorithm> parse_cli_compression(std::string_view text) {
  if (auto a = compress::parse_algorithm(trim(text))) {
    return *a;
  }
  return make_error(ErrorCode::kConfig, fmt::format("invalid compression \"{}\" (expected {})",
                                                    text, compress::algorithm_spellings()));
}

Result<crypto::AesMode> parse_cli_encryption(std::string_view text) {
  std::string s;
  for (char c : to_lower(trim(text))) {
    if (c != '-') {
      s += c;
    }
  }
  if (s.size() > 3 && s.substr(s.size() - 3) == "gcm") {
    s.resize(s.size() - 3);
  }
  if (s == "none") return crypto::AesMode::kNone;
  if (s == "aes") s = "aes256";  // also "aes-gcm"
  if (s.rfind("aes", 0) == 0) {
    if (auto m = crypto::aes_mode_from_bits(std::string_view(s).substr(3))) {
      return *m;
    }
  }
  return make_error(ErrorCode::kConfig,
                    fmt::format("invalid encryption \"{}\" (expected none, aes, aes256, aes192, "
                                "aes128, or their -gcm spellings)",
                                text));
}

Result<OutputFormat> parse_output_format(std::string_view text) {
  const std::string s = to_lower(trim(text));
  if (s == "text") return OutputFormat::kText;
  if (s == "json") return OutputFormat::kJson;
  if (s == "raw") return OutputFormat::kRaw;
  return make_error(ErrorCode::kConfig,
                    fmt::format("invalid output \"{}\" (expected text, json, raw)", text));
}

Result<LoadedCli> parse_cli_config(std::string_view text, const std::string& file_name,
                                   const EnvLookup& env) {
  PGM_ASSIGN_OR_RETURN(IniDocument doc, parse_ini(text, file_name));
  return CliLoader(file_name, env).run(doc);
}

Result<LoadedCli> load_cli_config(const std::string& path, const EnvLookup& env) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  return parse_cli_config(text, path, env);
}

}  // namespace pgm::config
