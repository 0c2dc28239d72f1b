#include "pgm/management/output.h"

#include <array>
#include <cstdio>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pgm/compress/names.h"
#include "pgm/crypto/aes.h"
#include "pgm/management/conf_types.h"
#include "pgm/management/registry.h"

namespace pgm::management {

using nlohmann::json;

namespace {

constexpr int kIndentPerLevel = 2;
constexpr std::string_view kBullet = "- ";

std::string dump(const json& v, int indent) {
  return v.dump(indent, ' ', false, json::error_handler_t::replace);
}

// ---- translation ----------------------------------------------------------------------

std::optional<int64_t> as_int(const json& v) {
  if (v.is_number_integer()) {
    return v.get<int64_t>();
  }
  return std::nullopt;
}

// A backup's compression: a management code (1-4, and pgmoneta's old server-side codes 5-7 for
// gzip, zstd, lz4) or backup.info's type byte (0x10 client / 0x20 server | algorithm).
std::optional<std::string_view> compression_name(int64_t code) {
  if ((code >= 0x11 && code <= 0x14) || (code >= 0x21 && code <= 0x24)) {
    code &= 0x0F;
  } else if (code >= 5 && code <= 7) {
    code -= 4;
  }
  if (code < 0 || code >= static_cast<int64_t>(compress::kAlgorithms.size())) {
    return std::nullopt;
  }
  return compress::kAlgorithms[static_cast<size_t>(code)].name;
}

std::optional<std::string_view> encryption_name(int64_t code) {
  if (code < 0 || code > 255) {
    return std::nullopt;
  }
  auto mode = crypto::aes_mode_from_byte(static_cast<uint8_t>(code));
  return mode ? std::optional(crypto::aes_mode_name(*mode)) : std::nullopt;
}

template <typename F>
void map_int(json& obj, const char* name, F&& f) {
  auto it = obj.find(name);
  if (it == obj.end()) {
    return;
  }
  if (auto v = as_int(*it)) {
    if (std::optional<std::string> s = f(*v)) {
      *it = std::move(*s);
    }
  }
}

void size_field(json& obj, const char* name) {
  map_int(obj, name, [](int64_t v) -> std::optional<std::string> {
    if (v < 0) {
      return std::nullopt;  // not a size: left as sent (pgmoneta 0.22 prints 0 as "0.00B")
    }
    return format_size(static_cast<uint64_t>(v));
  });
}

void name_field(json& obj, const char* name, std::optional<std::string_view> (*namer)(int64_t)) {
  map_int(obj, name, [namer](int64_t v) -> std::optional<std::string> {
    if (auto n = namer(v)) {
      return std::string(*n);
    }
    return std::nullopt;
  });
}

void translate_backup(json& b) {
  if (!b.is_object()) {
    return;
  }
  for (const char* k :
       {key::kBackupSize, key::kRestoreSize, key::kBiggestFileSize, key::kWal, key::kDelta}) {
    size_field(b, k);
  }
  auto valid = b.find(key::kValid);
  if (valid != b.end()) {
    if (valid->is_boolean()) {
      *valid = valid->get<bool>() ? "yes" : "no";
    } else if (auto v = as_int(*valid)) {
      *valid = *v == 1 ? "yes" : (*v == 0 ? "no" : "unknown");
    }
  }
  name_field(b, key::kCompression, compression_name);
  name_field(b, key::kEncryption, encryption_name);
  for (const char* k :
       {"CheckpointHiLSN", "CheckpointLoLSN", "StartHiLSN", "StartLoLSN", "EndHiLSN", "EndLoLSN"}) {
    map_int(b, k, [](int64_t v) -> std::optional<std::string> {
      return fmt::format("{:X}", static_cast<uint32_t>(v));
    });
  }
}

void translate_server(json& s) {
  if (!s.is_object()) {
    return;
  }
  for (const char* k : {key::kServerSize, key::kHotStandbySize, key::kWorkspaceFreeSpace}) {
    size_field(s, k);
  }
  auto unspecified = [](int64_t v) -> std::optional<std::string> {
    if (v < 0) {
      return std::string("Unspecified");
    }
    return std::nullopt;
  };
  for (const char* k : {"RetentionDays", "RetentionWeeks", "RetentionMonths", "RetentionYears"}) {
    map_int(s, k, unspecified);
  }
  auto retention = s.find("Retention");
  if (retention != s.end() && retention->is_object()) {
    for (const char* k : {"Days", "Weeks", "Months", "Years"}) {
      map_int(*retention, k, unspecified);
    }
  }
  auto backups = s.find(key::kBackups);
  if (backups != s.end() && backups->is_array()) {
    for (json& b : *backups) {
      translate_backup(b);
    }
  }
}

// <engine> ls: object sizes and their total in units.
void translate_objects(json& r) {
  size_field(r, "TotalSize");
  auto objects = r.find("Objects");
  if (objects != r.end() && objects->is_array()) {
    for (json& o : *objects) {
      if (o.is_object()) {
        size_field(o, "Size");
      }
    }
  }
}

void translate_totals(json& r) {
  for (const char* k : {key::kFreeSpace, key::kUsedSpace, key::kTotalSpace}) {
    size_field(r, k);
  }
}

// conf get, the [pgmoneta] level only, as pgmoneta-cli does: the enums it sends as
// {"string_value", "value"} become their text, and bare codes (older daemons) their names; a
// server's create_slot stays its code, and the other {"string_value", "value"} objects stay.
void translate_configuration(json& c) {
  if (!c.is_object()) {
    return;
  }
  for (const char* k : {"compression", "encryption", "storage_engine", "create_slot", "hugepage",
                        "log_type", "log_level", "log_mode"}) {
    auto it = c.find(k);
    if (it != c.end() && it->is_object() && it->contains("string_value") &&
        (*it)["string_value"].is_string()) {
      *it = (*it)["string_value"].get<std::string>();
    }
  }
  name_field(c, "compression", compression_name);
  name_field(c, "encryption", encryption_name);
  for (const char* k :
       {"storage_engine", "create_slot", "hugepage", "log_type", "log_level", "log_mode"}) {
    map_int(c, k, [k](int64_t v) { return conf_enum_name(k, v); });
  }
}

// ---- text tree (pgmoneta's json/art/deque/value to_string with FORMAT_TEXT) --------------

// pgmoneta's parser leaves {} and [] untyped; they print as their tag only.
bool is_typed_container(const json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

std::string spaces(int n) { return std::string(static_cast<size_t>(n > 0 ? n : 0), ' '); }

std::string scalar_text(const json& v) {
  switch (v.type()) {
    case json::value_t::string: {
      const auto& s = v.get_ref<const std::string&>();
      return s.empty() ? std::string("''") : s;
    }
    case json::value_t::boolean:
      return v.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(v.get<int64_t>());
    case json::value_t::number_unsigned:
      return std::to_string(v.get<uint64_t>());
    case json::value_t::number_float: {
      char buf[64];
      std::snprintf(buf, sizeof(buf), "%f", v.get<double>());
      return buf;
    }
    default:
      return "";
  }
}

std::string value_text(const json& v, const std::string* tag, int indent);

std::string object_text(const json& obj, const std::string* tag, int indent) {
  std::string ret;
  const bool bullet = tag != nullptr && *tag == kBullet;
  int next_indent = indent;
  if (tag != nullptr && !bullet) {
    ret = spaces(indent) + *tag;
    next_indent += kIndentPerLevel;
  }
  size_t cnt = 0;
  for (const auto& [k, v] : obj.items()) {
    ++cnt;
    const bool has_next = cnt < obj.size();
    std::string tag_k = k + ":" + (is_typed_container(v) ? "\n" : " ");
    std::string str;
    if (bullet) {
      if (cnt == 1) {
        if (!is_typed_container(v)) {
          str = value_text(v, &tag_k, 0);
        } else {
          ret += tag_k;
          str = value_text(v, nullptr, next_indent + kIndentPerLevel);
        }
      } else {
        str = value_text(v, &tag_k, next_indent + kIndentPerLevel);
      }
    } else {
      str = value_text(v, &tag_k, next_indent);
    }
    ret += str;
    if (has_next) {
      ret += '\n';
    }
  }
  return ret;
}

std::string array_text(const json& arr, const std::string* tag, int indent) {
  std::string ret;
  const bool bullet = tag != nullptr && *tag == kBullet;
  int next_indent = bullet ? 0 : indent;
  if (tag != nullptr && !bullet) {
    ret = spaces(indent) + *tag;
    next_indent += kIndentPerLevel;
  }
  const std::string bullet_tag(kBullet);
  size_t cnt = 0;
  for (size_t i = 0; i < arr.size(); ++i) {
    const json& e = arr[i];
    const bool has_next = i + 1 < arr.size();
    std::string str = value_text(e, &bullet_tag, next_indent);
    if (cnt == 0) {
      ++cnt;
      if (bullet) {
        next_indent = indent + kIndentPerLevel;
      }
    }
    if (e.is_object() || e.is_array()) {
      ret += spaces(next_indent) + bullet_tag;
    }
    ret += str;
    if (has_next) {
      ret += '\n';
    }
  }
  return ret;
}

std::string value_text(const json& v, const std::string* tag, int indent) {
  if (v.is_object() || v.is_array()) {
    if (v.empty()) {
      return spaces(indent) + (tag != nullptr ? *tag : std::string());
    }
    return v.is_object() ? object_text(v, tag, indent) : array_text(v, tag, indent);
  }
  return spaces(indent) + (tag != nullptr ? *tag : std::string()) + scalar_text(v);
}

// ---- conf get ---------------------------------------------------------------------------

const json* member(const json& obj, std::string_view name) {
  if (!obj.is_object()) {
    return nullptr;
  }
  auto it = obj.find(std::string(name));
  return it == obj.end() ? nullptr : &*it;
}

const json* find_server(const json& response, std::string_view name) {
  if (const json* s = member(response, name); s != nullptr && s->is_object()) {
    return s;
  }
  for (const char* list_name : {"server", "servers", "Servers"}) {
    const json* list = member(response, list_name);
    if (list == nullptr) {
      continue;
    }
    if (list->is_object()) {
      if (const json* s = member(*list, name); s != nullptr && s->is_object()) {
        return s;
      }
    } else if (list->is_array()) {
      for (const json& s : *list) {
        for (const char* name_key : {"name", "Server"}) {
          const json* n = member(s, name_key);
          if (n != nullptr && n->is_string() && n->get_ref<const std::string&>() == name) {
            return &s;
          }
        }
      }
    }
  }
  return nullptr;
}

}  // namespace

json translate(const json& doc) {
  json out = doc;
  if (!out.is_object()) {
    return out;
  }
  int64_t command = 0;
  auto header = out.find(key::kHeader);
  if (header != out.end() && header->is_object()) {
    if (auto c = as_int(header->value(key::kCommand, json()))) {
      command = *c;
    }
    map_int(*header, key::kCommand, [](int64_t v) -> std::optional<std::string> {
      if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
        return std::nullopt;
      }
      if (auto c = command_from_code(static_cast<int32_t>(v))) {
        return std::string(command_name(*c));
      }
      return std::nullopt;
    });
    map_int(*header, key::kOutput, [](int64_t v) -> std::optional<std::string> {
      if (v == 0) {
        return std::string("text");
      }
      if (v == 1) {
        return std::string("json");
      }
      return std::nullopt;
    });
    name_field(*header, key::kCompression, compression_name);
    name_field(*header, key::kEncryption, encryption_name);
  }
  auto response = out.find(key::kResponse);
  if (response == out.end() || !response->is_object() || command == 0) {
    return out;
  }
  json& r = *response;
  const CommandSpec* spec = find_spec_by_code(static_cast<int32_t>(command));
  switch (spec != nullptr ? spec->layout : Layout::kPlain) {
    case Layout::kBackup:
      translate_backup(r);
      break;
    case Layout::kBackupList: {
      auto backups = r.find(key::kBackups);
      if (backups != r.end() && backups->is_array()) {
        for (json& b : *backups) {
          translate_backup(b);
        }
      }
      break;
    }
    case Layout::kStatus: {
      translate_totals(r);
      auto servers = r.find(key::kServers);
      if (servers != r.end() && servers->is_array()) {
        for (json& s : *servers) {
          translate_server(s);
        }
      }
      break;
    }
    case Layout::kConfiguration:
      translate_configuration(r);
      break;
    case Layout::kObjects:
      translate_objects(r);
      break;
    case Layout::kPlain:
      break;
  }
  return out;
}

std::string format_size(uint64_t bytes) {
  static constexpr std::array<const char*, 6> kUnits = {"B", "kB", "MB", "GB", "TB", "PB"};
  auto sz = static_cast<double>(bytes);
  size_t i = 0;
  while (sz >= 1024 && i < kUnits.size() - 1) {
    sz /= 1024.0;
    ++i;
  }
  return fmt::format("{:.2f}{}", sz, kUnits[i]);
}

std::string render_text(const json& value) { return value_text(value, nullptr, 0); }

namespace {

// pgmoneta's {"string_value", "value"} objects (conf get durations, sizes, named values) as
// their text, everywhere below `v`: for text output.
void flatten_string_values(json& v) {
  if (v.is_object()) {
    if (v.size() == 2 && v.contains("string_value") && v.contains("value") &&
        v["string_value"].is_string()) {
      v = json(v["string_value"].get<std::string>());
      return;
    }
    for (auto& [k, child] : v.items()) {
      flatten_string_values(child);
    }
  } else if (v.is_array()) {
    for (json& child : v) {
      flatten_string_values(child);
    }
  }
}

}  // namespace

std::string render(const json& doc, OutputFormat format) {
  switch (format) {
    case OutputFormat::kRaw:
      return dump(doc, kIndentPerLevel) + "\n";
    case OutputFormat::kJson:
      return dump(translate(doc), kIndentPerLevel) + "\n";
    case OutputFormat::kText:
      break;
  }
  json shown = translate(doc);
  flatten_string_values(shown);
  return render_text(shown) + "\n";
}

Result<json> find_config_value(const json& response, std::string_view config_key) {
  auto unknown = [&] {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("unknown configuration key '{}'", config_key));
  };
  if (!response.is_object() || config_key.empty()) {
    return unknown();
  }
  std::string_view rest = config_key;
  const json* section = &response;
  size_t dot = rest.find('.');
  if (dot != std::string_view::npos) {
    std::string_view first = rest.substr(0, dot);
    rest.remove_prefix(dot + 1);
    if (first == "pgmoneta") {
      if (const json* main = member(response, "pgmoneta"); main != nullptr && main->is_object()) {
        section = main;
      }
    } else if (first == "server") {
      size_t dot2 = rest.find('.');
      if (dot2 == std::string_view::npos) {
        return unknown();
      }
      section = find_server(response, rest.substr(0, dot2));
      rest.remove_prefix(dot2 + 1);
    } else {
      section = find_server(response, first);
    }
  }
  if (section == nullptr || rest.empty()) {
    return unknown();
  }
  const json* value = member(*section, rest);
  if (value == nullptr) {
    return unknown();
  }
  return *value;
}

std::string render_config_value(std::string_view config_key, const json& value,
                                OutputFormat format) {
  if (format == OutputFormat::kJson) {
    json wrapped = json::object();
    wrapped[std::string(config_key)] = value;
    return dump(wrapped, -1) + "\n";
  }
  if (value.is_string()) {
    return value.get<std::string>() + "\n";
  }
  // pgmoneta's {"string_value", "value"}: the text.
  if (value.is_object() && value.contains("string_value") && value["string_value"].is_string()) {
    return value["string_value"].get<std::string>() + "\n";
  }
  if (value.is_object() || value.is_array()) {
    return render_text(value) + "\n";
  }
  return scalar_text(value) + "\n";
}

Result<std::string> render_config_answer(const json& response, std::string_view config_key,
                                         OutputFormat format) {
  json doc = format == OutputFormat::kRaw ? response : translate(response);
  PGM_ASSIGN_OR_RETURN(json value,
                       find_config_value(doc.value(key::kResponse, json::object()), config_key));
  if (format != OutputFormat::kJson) {
    return render_config_value(config_key, value, format);
  }
  auto sent = find_config_value(response.value(key::kResponse, json::object()), config_key);
  if (sent && sent->is_object()) {
    value = *sent;  // as sent: {"string_value", "value"}
  } else if (sent && sent->is_number_integer() && value.is_string()) {
    value = string_and_value(value.get<std::string>(), sent->get<int64_t>());
  }
  doc[key::kResponse] = json{{std::string(config_key), value}};
  return dump(doc, kIndentPerLevel) + "\n";
}

std::string render_conf_ls(const json& doc, OutputFormat format) {
  std::vector<std::pair<std::string, std::string>> paths;
  const json* response = member(doc, key::kResponse);
  if (response != nullptr && response->is_object()) {
    for (const char* k : {key::kAdminsConfPath, "admins_configuration_path", key::kMainConfPath,
                          key::kUsersConfPath}) {
      const json* v = member(*response, k);
      if (v != nullptr && v->is_string()) {
        paths.emplace_back(k, v->get<std::string>());
      }
    }
    if (paths.empty()) {
      for (const auto& [k, v] : response->items()) {
        if (v.is_string() && k != key::kServerVersion && k != key::kServer) {
          paths.emplace_back(k, v.get<std::string>());
        }
      }
    }
  }
  std::string out;
  if (format == OutputFormat::kJson) {
    json obj = json::object();
    for (const auto& [k, v] : paths) {
      obj[k] = v;
    }
    return dump(obj, -1) + "\n";
  }
  for (const auto& [k, v] : paths) {
    out += v.empty() ? std::string("''") : v;
    out += '\n';
  }
  return out;
}

}  // namespace pgm::management
