#include "pgm/management/conf_types.h"

#include <array>
#include <utility>

#include "pgm/compress/names.h"
#include "pgm/config/values.h"
#include "pgm/crypto/aes.h"

namespace pgm::management {

using nlohmann::json;

namespace {

struct Named {
  std::string_view name;
  int64_t code;
};

// Spellings we accept for each enum; the first spelling of a code is its name.
constexpr std::array<Named, 4> kCreateSlot = {{{"undefined", 0}, {"yes", 1}, {"no", 2}, {"", 0}}};
constexpr std::array<Named, 3> kHugepage = {{{"off", 0}, {"try", 1}, {"on", 2}}};
constexpr std::array<Named, 3> kLogType = {{{"console", 0}, {"file", 1}, {"syslog", 2}}};
constexpr std::array<Named, 12> kLogLevel = {{{"debug5", 1},
                                              {"debug", 2},
                                              {"info", 3},
                                              {"warn", 4},
                                              {"error", 5},
                                              {"fatal", 6},
                                              {"trace", 1},
                                              {"debug4", 1},
                                              {"debug3", 1},
                                              {"debug2", 1},
                                              {"debug1", 2},
                                              {"warning", 4}}};
constexpr std::array<Named, 2> kLogMode = {{{"create", 0}, {"append", 1}}};
constexpr std::array<Named, 4> kStorageEngine = {
    {{"local", 1}, {"ssh", 2}, {"s3", 4}, {"azure", 8}}};
constexpr std::array<Named, 3> kDirectIo = {{{"off", 0}, {"on", 1}, {"auto", 2}}};
constexpr std::array<Named, 5> kProcessTitle = {
    {{"never", 0}, {"strict", 1}, {"minimal", 2}, {"verbose", 3}, {"off", 0}}};

template <size_t N>
std::optional<int64_t> code_in(const std::array<Named, N>& table, std::string_view name) {
  for (const Named& n : table) {
    if (n.name == name) {
      return n.code;
    }
  }
  return std::nullopt;
}

template <size_t N>
std::optional<std::string> name_in(const std::array<Named, N>& table, int64_t code) {
  for (const Named& n : table) {
    if (n.code == code && !n.name.empty()) {
      return std::string(n.name);
    }
  }
  return std::nullopt;
}

bool one_of(std::string_view key, std::initializer_list<std::string_view> keys) {
  for (std::string_view k : keys) {
    if (k == key) {
      return true;
    }
  }
  return false;
}

std::optional<int64_t> compression_code(std::string_view name) {
  for (const compress::AlgorithmInfo& a : compress::kAlgorithms) {
    if (name == a.name || (!a.alias.empty() && name == a.alias)) {
      return static_cast<int64_t>(a.algorithm);
    }
  }
  return std::nullopt;
}

std::optional<int64_t> encryption_code(std::string_view name) {
  if (name.empty() || name == "none" || name == "off") {
    return 0;
  }
  if (auto mode = crypto::parse_aes_mode(name)) {
    return static_cast<int64_t>(static_cast<uint8_t>(*mode));
  }
  return std::nullopt;
}

// storage_engine: a comma-separated list of engines, as the sum of their bits.
std::optional<int64_t> storage_engine_code(const std::string& text) {
  int64_t bits = 0;
  for (const std::string& part : config::split_list(text, ',')) {
    auto bit = code_in(kStorageEngine, config::to_lower(config::trim(part)));
    if (!bit) {
      return std::nullopt;
    }
    bits |= *bit;
  }
  return bits;
}

std::optional<int64_t> create_slot_code(const std::string& text) {
  if (auto named = code_in(kCreateSlot, text)) {
    return named;
  }
  if (text == "-1") {
    return 0;
  }
  if (auto b = config::parse_bool(text)) {
    return *b ? 1 : 2;
  }
  return std::nullopt;
}

json int_or_text(const std::string& text) {
  if (auto n = config::parse_int(text, INT64_MIN, INT64_MAX)) {
    return *n;
  }
  return text;
}

json bool_or_text(const std::string& text) {
  if (auto b = config::parse_bool(text)) {
    return *b;
  }
  return text;
}

template <typename T>
json code_or_text(const std::optional<T>& code, const std::string& text) {
  return code ? json(static_cast<int64_t>(*code)) : json(text);
}

// An enum as pgmoneta sends it: {"string_value": <our spelling>, "value": <code>}.
template <typename T>
json named_or_text(const std::optional<T>& code, const std::string& text) {
  return code ? string_and_value(text, static_cast<int64_t>(*code)) : json(text);
}

}  // namespace

json string_and_value(const std::string& text, int64_t value) {
  return {{"string_value", text.empty() ? std::to_string(value) : text}, {"value", value}};
}

json typed_conf_value(std::string_view key, const std::string& text, bool server) {
  const std::string lower = config::to_lower(config::trim(text));
  if (server) {
    if (one_of(key, {"port", "workers", "max_rate", "network_max_rate"})) {
      return int_or_text(text);
    }
    if (one_of(key, {"progress", "online"})) {
      return bool_or_text(text);
    }
    if (key == "create_slot") {
      return code_or_text(create_slot_code(lower), text);
    }
    return text;
  }
  if (one_of(key, {"backlog", "compression_level", "console", "management", "metrics", "max_rate",
                   "network_max_rate", "s3_port", "workers"})) {
    return int_or_text(text);
  }
  if (one_of(key, {"keep_alive", "nodelay", "non_blocking", "progress", "tls"})) {
    return bool_or_text(text);
  }
  if (key == "s3_use_tls") {
    auto b = config::parse_bool(text);
    return b ? json(*b ? 1 : 0) : json(text);
  }
  if (key == "compression") {
    return named_or_text(compression_code(lower), text);
  }
  if (key == "encryption") {
    return named_or_text(encryption_code(lower), text);
  }
  if (key == "storage_engine") {
    return named_or_text(storage_engine_code(lower), text);
  }
  if (key == "create_slot") {
    return named_or_text(create_slot_code(lower), text);
  }
  if (key == "hugepage") {
    return named_or_text(code_in(kHugepage, lower), text);
  }
  if (key == "log_type") {
    return named_or_text(code_in(kLogType, lower), text);
  }
  if (key == "log_level") {
    return named_or_text(code_in(kLogLevel, lower), text);
  }
  if (key == "log_mode") {
    return named_or_text(code_in(kLogMode, lower), text);
  }
  if (one_of(key,
             {"blocking_timeout", "verification", "log_rotation_age", "metrics_cache_max_age"})) {
    auto d = config::parse_duration(text);
    return d ? string_and_value(std::to_string(d->count()) + "s", d->count()) : json(text);
  }
  if (one_of(key, {"log_rotation_size", "metrics_cache_max_size"})) {
    auto s = config::parse_size(text);
    return s ? string_and_value(std::to_string(*s) + "B", static_cast<int64_t>(*s)) : json(text);
  }
  if (key == "direct_io") {
    return named_or_text(code_in(kDirectIo, lower), text);
  }
  if (key == "update_process_title") {
    return named_or_text(code_in(kProcessTitle, lower), text);
  }
  return text;
}

std::optional<std::string> conf_enum_name(std::string_view key, int64_t code) {
  if (key == "storage_engine") {
    std::string names;
    for (const Named& n : kStorageEngine) {
      if ((code & n.code) != 0) {
        names += (names.empty() ? "" : ",") + std::string(n.name);
      }
    }
    return names.empty() || (code & ~int64_t{15}) != 0 ? std::nullopt : std::optional(names);
  }
  if (key == "create_slot") {
    return name_in(kCreateSlot, code);
  }
  if (key == "hugepage") {
    return name_in(kHugepage, code);
  }
  if (key == "log_type") {
    return name_in(kLogType, code);
  }
  if (key == "log_level") {
    return code == 1 ? std::optional<std::string>("debug") : name_in(kLogLevel, code);
  }
  if (key == "log_mode") {
    return name_in(kLogMode, code);
  }
  return std::nullopt;
}

}  // namespace pgm::management
