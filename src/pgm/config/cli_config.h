// pgmoneta_cli.conf (reference §5.4): how pgmoneta-cli reaches the daemon and logs.
// Pure apart from load_cli_config (reads one file); thread-safe.
//
// Keys: host, port, unix_socket_dir, compression, encryption, log_type, log_level, log_path,
// log_mode, output. Section headers are allowed and ignored. Keys are case-sensitive except
// output ("Output" is pgmoneta's spelling). Unknown keys warn; invalid values are errors.
// A full pgmoneta.conf (a [pgmoneta] section with base_dir) is accepted too: its
// unix_socket_dir and its management port (as `port`) are used, other keys silently ignored,
// so `pgmoneta-cli -c pgmoneta.conf` works.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgm/compress/codec.h"
#include "pgm/config/config.h"
#include "pgm/crypto/aes.h"
#include "pgm/log/level.h"

namespace pgm::config {

enum class OutputFormat { kText, kJson, kRaw };

struct CliConfig {
  std::string host;             // remote daemon; "" = use the Unix socket
  int port = 0;                 // remote management port
  std::string unix_socket_dir;  // $VAR interpolated
  compress::Algorithm compression = compress::Algorithm::kNone;  // of management frames
  crypto::AesMode encryption = crypto::AesMode::kNone;           // of management frames
  LogType log_type = LogType::kConsole;
  log::Level log_level = log::Level::kInfo;
  std::string log_path = "pgmoneta-cli.log";  // $VAR interpolated
  LogMode log_mode = LogMode::kAppend;
  OutputFormat output = OutputFormat::kText;
};

struct LoadedCli {
  CliConfig config;
  std::vector<Warning> warnings;
};

inline constexpr std::string_view kDefaultCliConfigPath = "/etc/pgmoneta/pgmoneta_cli.conf";

// Reads and parses a pgmoneta_cli.conf. A missing file is kNotFound (the CLI runs without
// one when the default path is absent).
Result<LoadedCli> load_cli_config(const std::string& path, const EnvLookup& env = process_env());
Result<LoadedCli> parse_cli_config(std::string_view text, const std::string& file_name,
                                   const EnvLookup& env);

// none|gz|gzip|zstd|lz4|bz2|bzip2, case-insensitive.
Result<compress::Algorithm> parse_cli_compression(std::string_view text);
// none|aes|aes256|aes192|aes128 with optional '-' and "-gcm" (aes-256-gcm, aes256gcm...).
Result<crypto::AesMode> parse_cli_encryption(std::string_view text);
// text|json|raw, case-insensitive.
Result<OutputFormat> parse_output_format(std::string_view text);

}  // namespace pgm::config
