#include "pgm/pg/server_info.h"

#include <array>
#include <cctype>
#include <limits>

#include <fmt/core.h>

#include "pgm/pg/connection.h"

namespace pgm::pg {
namespace {

constexpr uint64_t kKiB = 1024;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())) != 0) {
    s.remove_prefix(1);
  }
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())) != 0) {
    s.remove_suffix(1);
  }
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

bool is_power_of_two(uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

const std::string* find_setting(const std::map<std::string, std::string>& settings,
                                const std::string& name) {
  auto it = settings.find(name);
  return it == settings.end() ? nullptr : &it->second;
}

Result<std::string> required(const std::map<std::string, std::string>& settings,
                             const std::string& name) {
  const std::string* v = find_setting(settings, name);
  if (v == nullptr) {
    return make_error(ErrorCode::kProtocol, "setting " + name + " missing from the server");
  }
  return *v;
}

Result<uint64_t> size_setting(const std::map<std::string, std::string>& settings,
                              const std::string& name, uint64_t max) {
  PGM_ASSIGN_OR_RETURN(std::string text, required(settings, name));
  auto size = parse_size(text);
  if (!size || *size > max) {
    return make_error(ErrorCode::kProtocol, fmt::format("setting {}: bad size \"{}\"", name, text));
  }
  return *size;
}

Result<bool> bool_setting(const std::map<std::string, std::string>& settings,
                          const std::string& name) {
  PGM_ASSIGN_OR_RETURN(std::string text, required(settings, name));
  auto value = parse_bool(text);
  if (!value) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("setting {}: bad boolean \"{}\"", name, text));
  }
  return *value;
}

Result<std::string> show(Connection& conn, const std::string& name) {
  PGM_ASSIGN_OR_RETURN(QueryResult r, conn.query("SHOW " + name));
  if (r.rows() != 1 || r.columns() < 1 || r.is_null(0, 0)) {
    return make_error(ErrorCode::kProtocol, "SHOW " + name + ": expected one value");
  }
  return std::string(r.value(0, 0));
}

}  // namespace

Result<uint64_t> parse_size(std::string_view text) {
  std::string_view s = trim(text);
  uint64_t number = 0;
  size_t i = 0;
  for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])) != 0; ++i) {
    auto digit = static_cast<uint64_t>(s[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return make_error(ErrorCode::kInvalidArgument, fmt::format("size \"{}\" too large", text));
    }
    number = number * 10 + digit;
  }
  if (i == 0) {
    return make_error(ErrorCode::kInvalidArgument, fmt::format("bad size \"{}\"", text));
  }
  std::string_view unit = trim(s.substr(i));
  static constexpr std::array<std::pair<std::string_view, uint64_t>, 6> kUnits = {{
      {"", 1},
      {"B", 1},
      {"kB", kKiB},
      {"MB", kKiB * kKiB},
      {"GB", kKiB * kKiB * kKiB},
      {"TB", kKiB * kKiB * kKiB * kKiB},
  }};
  for (const auto& [name, multiplier] : kUnits) {
    if (iequals(unit, name)) {
      if (number > std::numeric_limits<uint64_t>::max() / multiplier) {
        return make_error(ErrorCode::kInvalidArgument, fmt::format("size \"{}\" too large", text));
      }
      return number * multiplier;
    }
  }
  return make_error(ErrorCode::kInvalidArgument, fmt::format("bad size unit in \"{}\"", text));
}

Result<bool> parse_bool(std::string_view text) {
  std::string_view s = trim(text);
  for (std::string_view yes : {"on", "true", "yes", "1"}) {
    if (iequals(s, yes)) {
      return true;
    }
  }
  for (std::string_view no : {"off", "false", "no", "0"}) {
    if (iequals(s, no)) {
      return false;
    }
  }
  return make_error(ErrorCode::kInvalidArgument, fmt::format("bad boolean \"{}\"", text));
}

Result<ServerInfo> make_server_info(int version_num,
                                    const std::map<std::string, std::string>& settings,
                                    bool in_recovery) {
  ServerInfo info;
  info.version_num = version_num;
  if (version_num >= 100000) {
    info.major = version_num / 10000;
    info.minor = version_num % 10000;
  } else {
    info.major = version_num / 10000;  // 9.6 reads as 9; rejected by check_usable anyway
    info.minor = version_num % 100;
  }
  PGM_ASSIGN_OR_RETURN(info.wal_level, required(settings, "wal_level"));
  PGM_ASSIGN_OR_RETURN(info.data_checksums, bool_setting(settings, "data_checksums"));
  PGM_ASSIGN_OR_RETURN(info.track_commit_timestamp,
                       bool_setting(settings, "track_commit_timestamp"));
  constexpr uint64_t kMax32 = std::numeric_limits<uint32_t>::max();
  PGM_ASSIGN_OR_RETURN(uint64_t block_size, size_setting(settings, "block_size", kMax32));
  info.block_size = static_cast<uint32_t>(block_size);
  PGM_ASSIGN_OR_RETURN(uint64_t wal_segment_size,
                       size_setting(settings, "wal_segment_size", kMax32));
  info.wal_segment_size = static_cast<uint32_t>(wal_segment_size);
  PGM_ASSIGN_OR_RETURN(info.segment_size, size_setting(settings, "segment_size",
                                                       std::numeric_limits<uint64_t>::max()));
  if (find_setting(settings, "summarize_wal") != nullptr) {
    PGM_ASSIGN_OR_RETURN(bool summarize, bool_setting(settings, "summarize_wal"));
    info.summarize_wal = summarize;
  }
  info.in_recovery = in_recovery;
  return info;
}

Result<ServerInfo> probe(Connection& conn) {
  int version_num = conn.server_version();
  if (version_num <= 0) {
    return make_error(ErrorCode::kIo, "probe: connection is closed");
  }
  std::map<std::string, std::string> settings;
  std::vector<std::string> names = {"wal_level",  "data_checksums",   "track_commit_timestamp",
                                    "block_size", "wal_segment_size", "segment_size"};
  if (version_num >= 170000) {
    names.emplace_back("summarize_wal");
  }
  for (const std::string& name : names) {
    PGM_ASSIGN_OR_RETURN(settings[name], show(conn, name));
  }
  PGM_ASSIGN_OR_RETURN(QueryResult recovery, conn.query("SELECT pg_is_in_recovery()"));
  if (recovery.rows() != 1 || recovery.is_null(0, 0)) {
    return make_error(ErrorCode::kProtocol, "SELECT pg_is_in_recovery(): expected one value");
  }
  return make_server_info(version_num, settings, recovery.value(0, 0) == "t");
}

Result<void> check_usable(const ServerInfo& info) {
  std::vector<std::string> problems;
  if (info.version_num < kMinVersionNum) {
    problems.push_back(fmt::format("postgresql version {} is not supported: 13 or later required",
                                   info.version_num));
  }
  if (info.wal_level != "replica" && info.wal_level != "logical") {
    problems.push_back(fmt::format("wal_level is {}: replica or logical required", info.wal_level));
  }
  if (!is_power_of_two(info.block_size) || info.block_size < 1024 || info.block_size > 32768) {
    problems.push_back(fmt::format("block_size {} is out of range", info.block_size));
  }
  if (!is_power_of_two(info.wal_segment_size) || info.wal_segment_size < kKiB * kKiB ||
      info.wal_segment_size > kKiB * kKiB * kKiB) {
    problems.push_back(fmt::format("wal_segment_size {} is out of range", info.wal_segment_size));
  }
  if (info.segment_size == 0 || info.block_size == 0 || info.segment_size % info.block_size != 0) {
    problems.push_back(fmt::format("segment_size {} is out of range", info.segment_size));
  }
  if (problems.empty()) {
    return {};
  }
  std::string message;
  for (const std::string& p : problems) {
    message += message.empty() ? p : "; " + p;
  }
  return make_error(ErrorCode::kConfig, message);
}

std::vector<std::string> warnings(const ServerInfo& info) {
  std::vector<std::string> out;
  if (!info.track_commit_timestamp) {
    out.emplace_back("track_commit_timestamp is off");
  }
  if (info.summarize_wal.has_value() && !*info.summarize_wal) {
    out.emplace_back(
        "summarize_wal is off: incremental backups cannot use WAL summaries and read the whole "
        "cluster");
  }
  return out;
}

}  // namespace pgm::pg
