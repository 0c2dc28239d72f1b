#include "pgm/restore/chain.h"

#include <set>

#include <fmt/format.h>

#include "pgm/backup/repository.h"
#include "pgm/io/file.h"

namespace pgm::restore {

namespace {

constexpr std::string_view kFromLsn = "INCREMENTAL FROM LSN: ";
constexpr std::string_view kFromTli = "INCREMENTAL FROM TLI: ";

std::optional<std::string_view> line_value(std::string_view text, std::string_view key) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(key)) {
      return line.substr(key.size());
    }
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace

Result<IncrementalFrom> parse_incremental_from(std::string_view backup_label) {
  auto lsn_text = line_value(backup_label, kFromLsn);
  auto tli_text = line_value(backup_label, kFromTli);
  if (!lsn_text || !tli_text) {
    return make_error(ErrorCode::kCorruption, "backup_label has no INCREMENTAL FROM LSN/TLI lines");
  }
  auto lsn = backup::parse_lsn(*lsn_text);
  uint32_t tli = 0;
  bool tli_ok = !tli_text->empty() && tli_text->size() <= 10;
  for (char c : *tli_text) {
    tli_ok = tli_ok && c >= '0' && c <= '9';
  }
  if (tli_ok) {
    tli = static_cast<uint32_t>(std::stoul(std::string(*tli_text)));
  }
  if (!lsn || !tli_ok || tli == 0) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup_label: malformed INCREMENTAL FROM lines ('{}', '{}')",
                                  *lsn_text, *tli_text));
  }
  return IncrementalFrom{*lsn, tli};
}

namespace {

// The lines of a backup_label that are (`wanted` true) or are not INCREMENTAL FROM lines.
std::string filter_incremental_lines(std::string_view backup_label, bool wanted) {
  std::string out;
  size_t at = 0;
  while (at < backup_label.size()) {
    size_t end = backup_label.find('\n', at);
    const size_t next = end == std::string_view::npos ? backup_label.size() : end + 1;
    std::string_view line = backup_label.substr(at, next - at);
    if (line.starts_with("INCREMENTAL FROM ") == wanted) {
      out.append(line);
    }
    at = next;
  }
  return out;
}

}  // namespace

std::string strip_incremental_from(std::string_view backup_label) {
  return filter_incremental_lines(backup_label, false);
}

std::string incremental_from_lines(std::string_view backup_label) {
  return filter_incremental_lines(backup_label, true);
}

Result<std::vector<ChainMember>> resolve_chain(const std::string& root,
                                               const backup::BackupInfo& info) {
  std::vector<ChainMember> chain;
  std::set<std::string> seen{info.label};
  backup::BackupInfo child = info;
  std::string child_dir = root + "/" + info.label;
  while (child.type == backup::BackupType::kIncremental) {
    auto broken = [&](const std::string& why) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("the chain of backup {} is broken at {}: {}", info.label, child.label, why));
    };
    if (child.parent.empty()) {
      return broken("an incremental backup without PARENT");
    }
    if (!seen.insert(child.parent).second) {
      return broken(fmt::format("parent {} appears twice in the chain", child.parent));
    }
    ChainMember parent;
    parent.dir = root + "/" + child.parent;
    auto parent_info = backup::read_backup_info(parent.dir);
    if (!parent_info) {
      return broken(fmt::format("parent {}: {}", child.parent, parent_info.error().message()));
    }
    parent.info = std::move(*parent_info);
    if (!parent.info.valid) {
      return broken(fmt::format("parent {} is not a valid backup", child.parent));
    }
    if (parent.info.major_version != child.major_version) {
      return broken(fmt::format("parent {} was taken from PostgreSQL {}, the child from {}",
                                child.parent, parent.info.major_version, child.major_version));
    }
    auto label = io::read_file(child_dir + "/data/backup_label");
    if (!label) {
      return broken(label.error().message());
    }
    auto from = parse_incremental_from(*label);
    if (!from) {
      return broken(from.error().message());
    }
    if (from->lsn != parent.info.start_lsn || from->timeline != parent.info.start_timeline) {
      return broken(
          fmt::format("it is incremental from {}/TLI {}, but parent {} started at {}/TLI {}",
                      backup::format_lsn(from->lsn), from->timeline, child.parent,
                      backup::format_lsn(parent.info.start_lsn), parent.info.start_timeline));
    }
    child = parent.info;
    child_dir = parent.dir;
    chain.push_back(std::move(parent));
  }
  return chain;
}

}  // namespace pgm::restore
