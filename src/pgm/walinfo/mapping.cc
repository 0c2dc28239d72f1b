#include "pgm/walinfo/mapping.h"

#include <cctype>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/walinfo/options.h"

namespace pgm::walinfo {

namespace {

constexpr std::array<std::pair<ObjectKind, const char*>, 3> kSections = {{
    {ObjectKind::kTablespace, "tablespaces"},
    {ObjectKind::kDatabase, "databases"},
    {ObjectKind::kRelation, "relations"},
}};

std::optional<uint32_t> parse_oid(const nlohmann::json& value) {
  if (value.is_number_unsigned()) {
    const auto v = value.get<uint64_t>();
    return v <= UINT32_MAX ? std::optional(static_cast<uint32_t>(v)) : std::nullopt;
  }
  return value.is_string() ? parse_uint32(value.get_ref<const std::string&>()) : std::nullopt;
}

// Reads digits at text[pos...]; advances pos. nullopt when there are none.
std::optional<uint32_t> read_number(std::string_view text, size_t& pos) {
  const size_t from = pos;
  while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos])) != 0) {
    ++pos;
  }
  return pos == from ? std::nullopt : parse_uint32(text.substr(from, pos - from));
}

}  // namespace

Result<OidMapping> OidMapping::parse(std::string_view json_text, const std::string& file_name) {
  nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    return make_error(ErrorCode::kConfig, fmt::format("{}: not a JSON object", file_name));
  }
  OidMapping mapping;
  for (const auto& entry : kSections) {
    const ObjectKind kind = entry.first;
    const char* section = entry.second;
    if (!doc.contains(section)) {
      continue;
    }
    const nlohmann::json& entries = doc[section];
    auto bad = [&](const std::string& what) {
      return make_error(ErrorCode::kConfig, fmt::format("{}: {}: {}", file_name, section, what));
    };
    if (entries.is_object()) {  // {"<oid>": "<name>"}
      for (const auto& [key, value] : entries.items()) {
        auto oid = parse_uint32(key);
        if (!oid || !value.is_string()) {
          return bad(fmt::format("\"{}\" is not an OID mapped to a name", key));
        }
        mapping.add(kind, *oid, value.get<std::string>());
      }
    } else if (entries.is_array()) {  // [{"<name>": "<oid>"}, ...]
      for (const nlohmann::json& item : entries) {
        if (!item.is_object()) {
          return bad("an entry is not an object");
        }
        for (const auto& [name, value] : item.items()) {
          auto oid = parse_oid(value);
          if (!oid) {
            return bad(fmt::format("the OID of \"{}\" is not a number", name));
          }
          mapping.add(kind, *oid, name);
        }
      }
    } else {
      return bad("neither an array nor an object");
    }
  }
  return mapping;
}

Result<OidMapping> OidMapping::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_error(ErrorCode::kNotFound, fmt::format("{}: cannot open the mapping file", path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return make_error(ErrorCode::kIo, fmt::format("{}: cannot read the mapping file", path));
  }
  return parse(text.str(), path);
}

void OidMapping::add(ObjectKind kind, uint32_t oid, std::string name) {
  names_[static_cast<size_t>(kind)][oid] = std::move(name);
}

std::optional<std::string> OidMapping::name_of(ObjectKind kind, uint32_t oid) const {
  const auto& names = names_[static_cast<size_t>(kind)];
  auto it = names.find(oid);
  return it == names.end() ? std::nullopt : std::optional(it->second);
}

std::optional<uint32_t> OidMapping::oid_of(ObjectKind kind, std::string_view name) const {
  for (const auto& [oid, known] : names_[static_cast<size_t>(kind)]) {
    if (known == name) {
      return oid;
    }
  }
  return std::nullopt;
}

std::string OidMapping::display(ObjectKind kind, uint32_t oid) const {
  auto name = name_of(kind, oid);
  return name ? *name : std::to_string(oid);
}

std::string OidMapping::translate(std::string_view text) const {
  constexpr std::string_view kMarker = "rel ";
  std::string result;
  size_t copied = 0;
  size_t at = text.find(kMarker);
  while (at != std::string_view::npos) {
    size_t pos = at + kMarker.size();
    auto spc = read_number(text, pos);
    std::optional<uint32_t> db;
    std::optional<uint32_t> rel;
    if (spc && pos < text.size() && text[pos] == '/') {
      ++pos;
      db = read_number(text, pos);
      if (db && pos < text.size() && text[pos] == '/') {
        ++pos;
        rel = read_number(text, pos);
      }
    }
    if (rel) {
      result.append(text.substr(copied, at + kMarker.size() - copied));
      result += display(ObjectKind::kTablespace, *spc) + "/" + display(ObjectKind::kDatabase, *db) +
                "/" + display(ObjectKind::kRelation, *rel);
      copied = pos;
    }
    at = text.find(kMarker, std::max(pos, at + 1));
  }
  result.append(text.substr(copied));
  return result;
}

size_t OidMapping::size() const { return names_[0].size() + names_[1].size() + names_[2].size(); }

}  // namespace pgm::walinfo
