#include "pgm/walinfo/filter.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

#include "pgm/walinfo/mapping.h"
#include "pgm/walinfo/options.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/rmgr.h"

namespace pgm::walinfo {

namespace {

constexpr uint32_t kDefaultTablespace = 1663;
constexpr uint32_t kGlobalTablespace = 1664;

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// Reads "N" then ("/N")* at text[pos...], at most `max` numbers; advances pos past them.
std::vector<uint32_t> read_numbers(std::string_view text, size_t& pos, size_t max) {
  std::vector<uint32_t> numbers;
  while (numbers.size() < max) {
    size_t end = pos;
    while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) != 0) {
      ++end;
    }
    auto number = parse_uint32(text.substr(pos, end - pos));
    if (!number) {
      break;
    }
    numbers.push_back(*number);
    pos = end;
    if (numbers.size() == max || pos >= text.size() || text[pos] != '/') {
      break;
    }
    ++pos;
  }
  return numbers;
}

Result<void> resolve(const std::vector<std::string>& items, ObjectKind kind, const char* what,
                     const OidMapping* mapping, std::set<uint32_t>& out) {
  for (const std::string& item : items) {
    if (auto oid = parse_uint32(item)) {
      out.insert(*oid);
      continue;
    }
    if (mapping == nullptr) {
      return make_error(
          ErrorCode::kConfig,
          fmt::format("{} \"{}\" given by name needs a mapping file (-m)", what, item));
    }
    auto oid = mapping->oid_of(kind, item);
    if (!oid) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("{} \"{}\" is not in the mapping file", what, item));
    }
    out.insert(*oid);
  }
  return {};
}

bool touches(const ObjectFilter& objects, const xlog::RelLocator& rel) {
  return objects.tablespaces.count(rel.spc) != 0 || objects.databases.count(rel.db) != 0 ||
         objects.relations.count(rel.rel) != 0;
}

}  // namespace

std::optional<uint8_t> rmgr_id(std::string_view name) {
  for (int id = 0; id <= xlog::kRmMaxBuiltin; ++id) {
    if (equal_ignoring_case(name, xlog::rmgr_name(static_cast<uint8_t>(id)))) {
      return static_cast<uint8_t>(id);
    }
  }
  return std::nullopt;
}

std::vector<std::string> rmgr_names() {
  std::vector<std::string> names;
  for (int id = 0; id <= xlog::kRmMaxBuiltin; ++id) {
    names.push_back(xlog::rmgr_name(static_cast<uint8_t>(id)));
  }
  return names;
}

std::vector<xlog::RelLocator> relations_in_text(std::string_view text) {
  struct Form {
    std::string_view prefix;
    size_t numbers;
  };
  static constexpr std::array<Form, 4> kForms = {{
      {"rel ", 3},        // spc/db/rel
      {"base/", 2},       // db/rel in the default tablespace
      {"global/", 1},     // rel in the global tablespace
      {"pg_tblspc/", 3},  // spc/db/rel (the version directory is left out)
  }};
  std::vector<xlog::RelLocator> found;
  for (size_t at = 0; at < text.size(); ++at) {
    // Only at the start of a word: "database/..." is not "base/".
    if (at > 0 && std::isalnum(static_cast<unsigned char>(text[at - 1])) != 0) {
      continue;
    }
    for (const Form& form : kForms) {
      if (text.compare(at, form.prefix.size(), form.prefix) != 0) {
        continue;
      }
      size_t pos = at + form.prefix.size();
      std::vector<uint32_t> n = read_numbers(text, pos, form.numbers);
      if (n.size() != form.numbers) {
        continue;
      }
      if (form.numbers == 3) {
        found.push_back({n[0], n[1], n[2]});
      } else if (form.numbers == 2) {
        found.push_back({kDefaultTablespace, n[0], n[1]});
      } else {
        found.push_back({kGlobalTablespace, 0, n[0]});
      }
      at = pos - 1;
      break;
    }
  }
  return found;
}

bool RecordFilter::matches(const xlog::Record& record, std::string_view description) const {
  if (!rmids.empty() && rmids.count(record.rmid) == 0) {
    return false;
  }
  if (start && record.lsn < *start) {
    return false;
  }
  if (end && record.lsn >= *end) {
    return false;
  }
  if (!xids.empty() && xids.count(record.xid) == 0) {
    return false;
  }
  if (objects.empty()) {
    return true;
  }
  for (const xlog::BlockRef& block : record.blocks) {
    if (touches(objects, block.rel)) {
      return true;
    }
  }
  for (const xlog::RelLocator& rel : relations_in_text(description)) {
    if (touches(objects, rel)) {
      return true;
    }
  }
  return false;
}

Result<RecordFilter> make_filter(const Options& options, const OidMapping* mapping) {
  RecordFilter filter;
  for (const std::string& name : options.rmgrs) {
    auto id = rmgr_id(name);
    if (!id) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("unknown resource manager \"{}\"; known: {}", name,
                                    fmt::join(rmgr_names(), ", ")));
    }
    filter.rmids.insert(*id);
  }
  filter.start = options.start;
  filter.end = options.end;
  filter.xids.insert(options.xids.begin(), options.xids.end());
  PGM_TRY(resolve(options.tablespaces, ObjectKind::kTablespace, "tablespace", mapping,
                  filter.objects.tablespaces));
  PGM_TRY(resolve(options.databases, ObjectKind::kDatabase, "database", mapping,
                  filter.objects.databases));
  PGM_TRY(resolve(options.relations, ObjectKind::kRelation, "relation", mapping,
                  filter.objects.relations));
  return filter;
}

}  // namespace pgm::walinfo
