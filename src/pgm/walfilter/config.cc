#include "pgm/walfilter/config.h"

#include <charconv>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "pgm/config/parser.h"
#include "pgm/config/values.h"
#include "pgm/io/file.h"

namespace pgm::walfilter {

namespace {

// yaml-cpp throws; its exceptions stop here and become kConfig errors.
Error yaml_error(const std::string& file_name, const YAML::Mark& mark, const std::string& what) {
  const int line = mark.line >= 0 ? mark.line + 1 : 0;
  return {ErrorCode::kConfig, fmt::format("{}:{}: {}", file_name, line, what)};
}

Result<std::string> scalar(const YAML::Node& node, const std::string& file_name,
                           const std::string& key) {
  if (!node.IsScalar()) {
    return tl::unexpected(yaml_error(file_name, node.Mark(), key + ": expected a single value"));
  }
  if (node.Scalar().empty()) {
    return tl::unexpected(yaml_error(file_name, node.Mark(), key + ": empty"));
  }
  return node.Scalar();
}

Result<void> parse_rule(const YAML::Node& rule, size_t index, const std::string& file_name,
                        FilterConfig& config) {
  const std::string where = fmt::format("rules[{}]", index);
  if (!rule.IsMap()) {
    return tl::unexpected(
        yaml_error(file_name, rule.Mark(), where + R"(: expected "xids:" or "operations:")"));
  }
  for (const auto& entry : rule) {
    const std::string key = entry.first.Scalar();
    const std::string path = fmt::format("{}.{}", where, key);
    const YAML::Node& list = entry.second;
    if (key != "xids" && key != "operations") {
      return tl::unexpected(yaml_error(file_name, entry.first.Mark(),
                                       path + ": unknown rule (expected xids or operations)"));
    }
    if (!list.IsSequence()) {
      return tl::unexpected(yaml_error(file_name, list.Mark(), path + ": expected a list"));
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const std::string item_path = fmt::format("{}[{}]", path, i);
      PGM_ASSIGN_OR_RETURN(std::string value, scalar(list[i], file_name, item_path));
      if (key == "xids") {
        uint32_t xid = 0;
        const char* end = value.data() + value.size();
        auto [ptr, ec] = std::from_chars(value.data(), end, xid);
        if (ec != std::errc() || ptr != end || xid < 3) {
          // 0..2 are PostgreSQL's invalid, bootstrap and frozen xids: never a transaction.
          return tl::unexpected(
              yaml_error(file_name, list[i].Mark(),
                         fmt::format("{}: not a transaction id: \"{}\"", item_path, value)));
        }
        config.xids.insert(xid);
      } else if (config::to_lower(value) == "delete") {
        config.delete_operations = true;
      } else {
        return tl::unexpected(yaml_error(
            file_name, list[i].Mark(),
            fmt::format("{}: unknown operation \"{}\" (expected DELETE)", item_path, value)));
      }
    }
  }
  return {};
}

Result<FilterConfig> parse_document(const YAML::Node& root, const std::string& file_name) {
  if (!root.IsMap()) {
    return tl::unexpected(yaml_error(file_name, root.Mark(), "expected a mapping of keys"));
  }
  FilterConfig config;
  for (const auto& entry : root) {
    const std::string key = entry.first.Scalar();
    const YAML::Node& value = entry.second;
    if (key == "source_dir") {
      PGM_ASSIGN_OR_RETURN(config.source_dir, scalar(value, file_name, key));
    } else if (key == "target_dir") {
      PGM_ASSIGN_OR_RETURN(config.target_dir, scalar(value, file_name, key));
    } else if (key == "configuration_file") {
      PGM_ASSIGN_OR_RETURN(config.configuration_file, scalar(value, file_name, key));
    } else if (key == "rules") {
      if (value.IsNull()) {
        continue;
      }
      if (!value.IsSequence()) {
        return tl::unexpected(yaml_error(file_name, value.Mark(), "rules: expected a list"));
      }
      for (size_t i = 0; i < value.size(); ++i) {
        PGM_TRY(parse_rule(value[i], i, file_name, config));
      }
    } else {
      return tl::unexpected(
          yaml_error(file_name, entry.first.Mark(), fmt::format("unknown key \"{}\"", key)));
    }
  }
  for (const auto& [key, value] :
       {std::pair{"source_dir", &config.source_dir}, std::pair{"target_dir", &config.target_dir}}) {
    if (value->empty()) {
      return make_error(ErrorCode::kConfig, fmt::format("{}: {} is required", file_name, key));
    }
  }
  return config;
}

}  // namespace

Result<FilterConfig> parse_filter_config(std::string_view text, const std::string& file_name) {
  try {
    return parse_document(YAML::Load(std::string(text)), file_name);
  } catch (const YAML::Exception& e) {
    return tl::unexpected(yaml_error(file_name, e.mark, e.msg));
  }
}

Result<FilterConfig> load_filter_config(const std::string& path) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  return parse_filter_config(text, path);
}

Result<Settings> parse_settings(std::string_view text, const std::string& file_name) {
  PGM_ASSIGN_OR_RETURN(config::IniDocument doc, config::parse_ini(text, file_name));
  Settings settings;
  for (const config::IniSection& section : doc.sections) {
    if (section.name != "pgmoneta_walfilter" && section.name != "pgmoneta-walfilter" &&
        section.name != "pgmoneta") {
      continue;
    }
    for (const config::IniEntry& entry : section.entries) {
      PGM_TRY(walinfo::apply_tool_setting(entry, file_name, settings));
    }
  }
  return settings;
}

Result<Settings> load_settings(const std::string& path) {
  PGM_ASSIGN_OR_RETURN(std::string text, io::read_config_file(path));
  return parse_settings(text, path);
}

}  // namespace pgm::walfilter
