#include "pgm/backup/info.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <ctime>
#include <map>
#include <set>

#include <fmt/format.h>

#include "pgm/core/markup.h"
#include "pgm/crypto/digest.h"
#include "pgm/wal/segment.h"

namespace pgm::backup {
namespace {

// Key spellings as pgmoneta's info.h defines them; the order of kTimings is the order in which
// pgmoneta_save_info writes them. HASH_ELAPSED is not in the pgmoneta source we could read; its
// place right after BASEBACKUP_ELAPSED follows our reference §6.1.
constexpr std::string_view kVersion = "PGMONETA_VERSION";
constexpr std::string_view kStatus = "STATUS";
constexpr std::string_view kLabel = "LABEL";
constexpr std::string_view kWal = "WAL";
constexpr std::string_view kBackup = "BACKUP";
constexpr std::string_view kRestore = "RESTORE";
constexpr std::string_view kBiggestFile = "BIGGEST_FILE";
constexpr std::string_view kMajorVersion = "MAJOR_VERSION";
constexpr std::string_view kMinorVersion = "MINOR_VERSION";
constexpr std::string_view kKeep = "KEEP";
constexpr std::string_view kTablespaces = "TABLESPACES";
constexpr std::string_view kCompression = "COMPRESSION";
constexpr std::string_view kEncryption = "ENCRYPTION";
constexpr std::string_view kTablespace = "TABLESPACE";
constexpr std::string_view kTablespaceOid = "TABLESPACE_OID";
constexpr std::string_view kTablespacePath = "TABLESPACE_PATH";
constexpr std::string_view kStartWalpos = "START_WALPOS";
constexpr std::string_view kEndWalpos = "END_WALPOS";
constexpr std::string_view kChkptWalpos = "CHKPT_WALPOS";
constexpr std::string_view kStartTimeline = "START_TIMELINE";
constexpr std::string_view kEndTimeline = "END_TIMELINE";
constexpr std::string_view kType = "TYPE";
constexpr std::string_view kParent = "PARENT";
constexpr std::string_view kComments = "COMMENTS";
constexpr std::string_view kExtra = "EXTRA";

struct Timing {
  std::string_view key;
  Seconds BackupInfo::*field;
};

constexpr std::array<Timing, 13> kTimings = {{
    {"ELAPSED", &BackupInfo::elapsed},
    {"BASEBACKUP_ELAPSED", &BackupInfo::basebackup_elapsed},
    {"HASH_ELAPSED", &BackupInfo::hash_elapsed},
    {"COMPRESSION_ZSTD_ELAPSED", &BackupInfo::compression_zstd_elapsed},
    {"COMPRESSION_GZIP_ELAPSED", &BackupInfo::compression_gzip_elapsed},
    {"COMPRESSION_BZIP2_ELAPSED", &BackupInfo::compression_bzip2_elapsed},
    {"COMPRESSION_LZ4_ELAPSED", &BackupInfo::compression_lz4_elapsed},
    {"ENCRYPTION_ELAPSED", &BackupInfo::encryption_elapsed},
    {"LINKING_ELAPSED", &BackupInfo::linking_elapsed},
    {"MANIFEST_ELAPSED", &BackupInfo::manifest_elapsed},
    {"REMOTE_SSH_ELAPSED", &BackupInfo::remote_ssh_elapsed},
    {"REMOTE_S3_ELAPSED", &BackupInfo::remote_s3_elapsed},
    {"REMOTE_AZURE_ELAPSED", &BackupInfo::remote_azure_elapsed},
}};

void put(std::string& out, std::string_view key, std::string_view value) {
  PGM_CHECK(value.find('\n') == std::string_view::npos);
  out.append(key);
  out.push_back('=');
  out.append(value);
  out.push_back('\n');
}

template <typename T>
std::optional<T> parse_integer(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::optional<double> parse_double(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::optional<uint32_t> parse_hex32(std::string_view text) {
  if (text.empty() || text.size() > 8) {
    return std::nullopt;
  }
  uint32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, 16);
  if (ec != std::errc() || ptr != end) {
    return std::nullopt;
  }
  return value;
}

std::string to_lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; });
  return out;
}

// Splits text into lines at '\n'. A final line without '\n' counts; a trailing '\n' does not
// produce an empty last line.
std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) {
      end = text.size();
    }
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// `key` and `what` may quote the damaged file: escaped and bounded (core::printable).
tl::unexpected<Error> corrupt(std::string_view file, size_t line, std::string_view key,
                              std::string_view what) {
  if (key.empty()) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{} line {}: {}", file, line, core::printable(what, 160)));
  }
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} line {}: {}: {}", file, line, core::printable(key),
                                core::printable(what, 160)));
}

// Splits "TABLESPACE_OID3" into its kind and index; nullopt when not a tablespace key.
struct TablespaceKey {
  int kind = -1;  // 0 name, 1 oid, 2 path
  size_t index = 0;
};

std::optional<TablespaceKey> tablespace_key(std::string_view key) {
  TablespaceKey result;
  std::string_view rest;
  if (key.starts_with(kTablespacePath)) {
    result.kind = 2;
    rest = key.substr(kTablespacePath.size());
  } else if (key.starts_with(kTablespaceOid)) {
    result.kind = 1;
    rest = key.substr(kTablespaceOid.size());
  } else if (key.starts_with(kTablespace)) {
    result.kind = 0;
    rest = key.substr(kTablespace.size());
  } else {
    return std::nullopt;
  }
  if (rest.empty() ||
      !std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  auto index = parse_integer<size_t>(rest);
  if (!index) {
    return std::nullopt;
  }
  result.index = *index;
  return result;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// backup.info

std::string format_lsn(uint64_t lsn) {
  return fmt::format("{:X}/{:X}", static_cast<uint32_t>(lsn >> 32), static_cast<uint32_t>(lsn));
}

std::optional<uint64_t> parse_lsn(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return std::nullopt;
  }
  auto high = parse_hex32(text.substr(0, slash));
  auto low = parse_hex32(text.substr(slash + 1));
  if (!high || !low) {
    return std::nullopt;
  }
  return (uint64_t{*high} << 32) | *low;
}

std::string format_backup_info(const BackupInfo& info) {
  std::string out;
  put(out, kVersion, info.pgmoneta_version);
  put(out, kStatus, info.valid ? "1" : "0");
  put(out, kLabel, info.label);
  put(out, kWal, info.wal);
  put(out, kBackup, std::to_string(info.backup_size));
  put(out, kRestore, std::to_string(info.restore_size));
  put(out, kBiggestFile, std::to_string(info.biggest_file_size));
  for (const Timing& timing : kTimings) {
    put(out, timing.key, fmt::format("{:.4f}", (info.*timing.field).count()));
  }
  put(out, kMajorVersion, std::to_string(info.major_version));
  put(out, kMinorVersion, std::to_string(info.minor_version));
  put(out, kKeep, info.keep ? "1" : "0");
  put(out, kTablespaces, std::to_string(info.tablespaces.size()));
  put(out, kCompression, std::to_string(info.compression));
  put(out, kEncryption, std::to_string(info.encryption));
  for (size_t i = 0; i < info.tablespaces.size(); ++i) {
    const TablespaceInfo& tablespace = info.tablespaces[i];
    put(out, fmt::format("{}{}", kTablespace, i + 1), tablespace.name);
    put(out, fmt::format("{}{}", kTablespaceOid, i + 1), tablespace.oid);
    put(out, fmt::format("{}{}", kTablespacePath, i + 1), tablespace.path);
  }
  put(out, kStartWalpos, format_lsn(info.start_lsn));
  put(out, kEndWalpos, format_lsn(info.end_lsn));
  put(out, kChkptWalpos, format_lsn(info.checkpoint_lsn));
  put(out, kStartTimeline, std::to_string(info.start_timeline));
  put(out, kEndTimeline, std::to_string(info.end_timeline));
  put(out, kType, std::to_string(static_cast<int>(info.type)));
  put(out, kParent, info.parent);
  put(out, kComments, info.comments);
  // pgmoneta writes EXTRA with "%.1024s"; we keep the whole value.
  put(out, kExtra, info.extra);
  for (const auto& [key, value] : info.extra_keys) {
    put(out, key, value);
  }
  return out;
}

Result<BackupInfo> parse_backup_info(std::string_view text) {
  constexpr std::string_view kFile = "backup.info";
  BackupInfo info;
  std::set<std::string, std::less<>> seen;
  std::optional<size_t> tablespace_count;
  size_t tablespace_count_line = 0;
  // index -> {name, oid, path}, each optional
  std::map<size_t, std::array<std::optional<std::string>, 3>> tablespaces;

  std::vector<std::string_view> lines = split_lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    const size_t line_no = n + 1;
    std::string_view line = lines[n];
    if (line.empty()) {
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return corrupt(kFile, line_no, "", fmt::format("expected key=value, got '{}'", line));
    }
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (!seen.insert(std::string(key)).second) {
      return corrupt(kFile, line_no, key, "duplicate key");
    }
    auto bad = [&](std::string_view what) {
      return corrupt(kFile, line_no, key, fmt::format("invalid {} '{}'", what, value));
    };
    auto flag = [&](bool& field) -> Result<void> {
      if (value == "1") {
        field = true;
      } else if (value == "0") {
        field = false;
      } else {
        return bad("flag (0 or 1)");
      }
      return {};
    };
    auto u64 = [&](uint64_t& field) -> Result<void> {
      auto parsed = parse_integer<uint64_t>(value);
      if (!parsed) {
        return bad("unsigned integer");
      }
      field = *parsed;
      return {};
    };
    auto lsn = [&](uint64_t& field) -> Result<void> {
      auto parsed = parse_lsn(value);
      if (!parsed) {
        return bad("LSN");
      }
      field = *parsed;
      return {};
    };
    auto u32 = [&](uint32_t& field) -> Result<void> {
      auto parsed = parse_integer<uint32_t>(value);
      if (!parsed) {
        return bad("unsigned integer");
      }
      field = *parsed;
      return {};
    };
    auto i32 = [&](int& field) -> Result<void> {
      auto parsed = parse_integer<int>(value);
      if (!parsed) {
        return bad("integer");
      }
      field = *parsed;
      return {};
    };
    auto byte = [&](uint8_t& field) -> Result<void> {
      auto parsed = parse_integer<uint8_t>(value);
      if (!parsed) {
        return bad("byte (0-255)");
      }
      field = *parsed;
      return {};
    };

    auto timing = std::find_if(kTimings.begin(), kTimings.end(),
                               [&](const Timing& t) { return t.key == key; });
    if (timing != kTimings.end()) {
      auto parsed = parse_double(value);
      if (!parsed) {
        return bad("number of seconds");
      }
      info.*(timing->field) = Seconds(*parsed);
    } else if (key == kVersion) {
      info.pgmoneta_version = value;
    } else if (key == kStatus) {
      PGM_TRY(flag(info.valid));
    } else if (key == kLabel) {
      info.label = value;
    } else if (key == kWal) {
      info.wal = value;
    } else if (key == kBackup) {
      PGM_TRY(u64(info.backup_size));
    } else if (key == kRestore) {
      PGM_TRY(u64(info.restore_size));
    } else if (key == kBiggestFile) {
      PGM_TRY(u64(info.biggest_file_size));
    } else if (key == kMajorVersion) {
      PGM_TRY(i32(info.major_version));
    } else if (key == kMinorVersion) {
      PGM_TRY(i32(info.minor_version));
    } else if (key == kKeep) {
      PGM_TRY(flag(info.keep));
    } else if (key == kTablespaces) {
      uint64_t count = 0;
      PGM_TRY(u64(count));
      tablespace_count = static_cast<size_t>(count);
      tablespace_count_line = line_no;
    } else if (key == kCompression) {
      PGM_TRY(byte(info.compression));
    } else if (key == kEncryption) {
      PGM_TRY(byte(info.encryption));
    } else if (key == kStartWalpos) {
      PGM_TRY(lsn(info.start_lsn));
    } else if (key == kEndWalpos) {
      PGM_TRY(lsn(info.end_lsn));
    } else if (key == kChkptWalpos) {
      PGM_TRY(lsn(info.checkpoint_lsn));
    } else if (key == kStartTimeline) {
      PGM_TRY(u32(info.start_timeline));
    } else if (key == kEndTimeline) {
      PGM_TRY(u32(info.end_timeline));
    } else if (key == kType) {
      if (value == "0") {
        info.type = BackupType::kFull;
      } else if (value == "1") {
        info.type = BackupType::kIncremental;
      } else {
        return bad("type (0 full, 1 incremental)");
      }
    } else if (key == kParent) {
      info.parent = value;
    } else if (key == kComments) {
      info.comments = value;
    } else if (key == kExtra) {
      info.extra = value;
    } else if (auto ts = tablespace_key(key)) {
      if (ts->index == 0) {
        return corrupt(kFile, line_no, key, "tablespace numbers start at 1");
      }
      tablespaces[ts->index][static_cast<size_t>(ts->kind)] = std::string(value);
    } else {
      info.extra_keys.emplace_back(key, value);
    }
  }

  if (!seen.contains(kLabel)) {
    return make_error(ErrorCode::kCorruption, "backup.info: missing LABEL");
  }
  const size_t count = tablespace_count.value_or(0);
  if (!tablespaces.empty() && tablespaces.rbegin()->first > count) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup.info line {}: TABLESPACES: {} but TABLESPACE{} present",
                                  tablespace_count_line, count, tablespaces.rbegin()->first));
  }
  for (size_t i = 1; i <= count; ++i) {
    auto it = tablespaces.find(i);
    if (it == tablespaces.end() || !it->second[0] || !it->second[1] || !it->second[2]) {
      return make_error(
          ErrorCode::kCorruption,
          fmt::format("backup.info line {}: TABLESPACES: {} but TABLESPACE{}, TABLESPACE_OID{} or "
                      "TABLESPACE_PATH{} missing",
                      tablespace_count_line, count, i, i, i));
    }
    info.tablespaces.push_back(
        {std::move(*it->second[0]), std::move(*it->second[1]), std::move(*it->second[2])});
  }
  return info;
}

// ---------------------------------------------------------------------------------------------
// Labels

std::string make_label(std::chrono::system_clock::time_point time) {
  std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm local{};
  localtime_r(&seconds, &local);
  std::array<char, 32> buffer{};
  size_t n = std::strftime(buffer.data(), buffer.size(), "%Y%m%d%H%M%S", &local);
  return std::string(buffer.data(), n);
}

namespace {

std::optional<std::tm> label_fields(std::string_view text) {
  if (text.size() != 14 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  auto num = [&](size_t pos, size_t len) { return *parse_integer<int>(text.substr(pos, len)); };
  std::tm fields{};
  int year = num(0, 4);
  int month = num(4, 2);
  int day = num(6, 2);
  fields.tm_year = year - 1900;
  fields.tm_mon = month - 1;
  fields.tm_mday = day;
  fields.tm_hour = num(8, 2);
  fields.tm_min = num(10, 2);
  fields.tm_sec = num(12, 2);
  fields.tm_isdst = -1;
  static constexpr std::array<int, 12> kDays = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month < 1 || month > 12 || day < 1 || day > kDays[static_cast<size_t>(month - 1)] ||
      (month == 2 && day == 29 && !leap) || fields.tm_hour > 23 || fields.tm_min > 59 ||
      fields.tm_sec > 59) {
    return std::nullopt;
  }
  return fields;
}

}  // namespace

bool is_label(std::string_view text) { return label_fields(text).has_value(); }

Result<std::chrono::system_clock::time_point> label_time(std::string_view text) {
  auto fields = label_fields(text);
  if (!fields) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("'{}' is not a backup label (YYYYMMDDHHMMSS)", text));
  }
  std::time_t seconds = std::mktime(&*fields);
  // The clock may count nanoseconds in 64 bits (1677 to 2262): a later label does not fit.
  constexpr auto kLimit =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::duration::max())
          .count();
  if (seconds == static_cast<std::time_t>(-1) || seconds > kLimit || seconds < -kLimit) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("label '{}' is not a representable local time", text));
  }
  return std::chrono::system_clock::from_time_t(seconds);
}

// ---------------------------------------------------------------------------------------------
// backup.sha512

std::string format_sha512_line(const Sha512Entry& entry) {
  return fmt::format("{} *./{}\n", entry.hex, entry.path);
}

Result<std::vector<Sha512Entry>> parse_sha512_file(std::string_view text) {
  constexpr std::string_view kFile = "backup.sha512";
  std::vector<Sha512Entry> entries;
  std::vector<std::string_view> lines = split_lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    if (line.empty()) {
      continue;
    }
    if (line.front() == '\\') {
      return corrupt(kFile, n + 1, "", "escaped file names are not supported");
    }
    if (line.size() < 130 || !crypto::is_sha512_hex(line.substr(0, 128))) {
      return corrupt(kFile, n + 1, "", "expected 128 hex digits");
    }
    if (line[128] != ' ' || (line[129] != '*' && line[129] != ' ')) {
      return corrupt(kFile, n + 1, "", "expected ' *' or '  ' after the checksum");
    }
    std::string_view path = line.substr(130);
    if (path.starts_with("./")) {
      path.remove_prefix(2);
    }
    if (path.empty()) {
      return corrupt(kFile, n + 1, "", "empty path");
    }
    entries.push_back({std::string(path), to_lower(line.substr(0, 128))});
  }
  return entries;
}

// ---------------------------------------------------------------------------------------------
// backup.manifest

Result<std::string> format_manifest(std::span<const ManifestEntry> entries) {
  std::string out;
  for (const ManifestEntry& entry : entries) {
    if (entry.path.empty() || entry.path.find('\n') != std::string::npos) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("backup.manifest: path '{}' is empty or has a newline", entry.path));
    }
    if (!crypto::is_sha512_hex(entry.sha512)) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("backup.manifest: {}: '{}' is not a SHA-512 hex", entry.path, entry.sha512));
    }
    out += entry.path;
    out.push_back(',');
    out += entry.sha512;
    out.push_back('\n');
  }
  return out;
}

Result<std::vector<ManifestEntry>> parse_manifest(std::string_view text) {
  constexpr std::string_view kFile = "backup.manifest";
  std::vector<ManifestEntry> entries;
  std::vector<std::string_view> lines = split_lines(text);
  for (size_t n = 0; n < lines.size(); ++n) {
    std::string_view line = lines[n];
    if (line.empty()) {
      continue;
    }
    size_t comma = line.rfind(',');
    if (comma == std::string_view::npos || comma == 0) {
      return corrupt(kFile, n + 1, "", fmt::format("expected <path>,<sha512>, got '{}'", line));
    }
    std::string_view hex = line.substr(comma + 1);
    if (!crypto::is_sha512_hex(hex)) {
      return corrupt(kFile, n + 1, line.substr(0, comma),
                     fmt::format("'{}' is not a SHA-512 hex", hex));
    }
    entries.push_back({std::string(line.substr(0, comma)), to_lower(hex)});
  }
  return entries;
}

Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestEntry> ours, std::string_view postgres_manifest_json) {
  std::vector<ManifestEntryRef> refs;
  refs.reserve(ours.size());
  for (const ManifestEntry& e : ours) {
    refs.push_back({e.path, e.sha512, e.crc32c});
  }
  return compare_with_postgres_manifest(std::span<const ManifestEntryRef>(refs),
                                        postgres_manifest_json);
}

const std::string* extra_key(const BackupInfo& info, std::string_view key) {
  for (const auto& [k, v] : info.extra_keys) {
    if (k == key) {
      return &v;
    }
  }
  return nullptr;
}

void set_extra_key(BackupInfo& info, std::string_view key, std::string_view value) {
  for (auto& kv : info.extra_keys) {
    if (kv.first == key) {
      kv.second = std::string(value);
      return;
    }
  }
  info.extra_keys.emplace_back(std::string(key), std::string(value));
}

std::vector<std::string> remote_copies(const BackupInfo& info) {
  constexpr std::string_view kPrefix = "STORAGE_";
  std::vector<std::string> engines;
  for (const auto& [k, v] : info.extra_keys) {
    if (k.size() > kPrefix.size() && k.compare(0, kPrefix.size(), kPrefix) == 0 && !v.empty()) {
      std::string name = k.substr(kPrefix.size());
      for (char& ch : name) {
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      }
      engines.push_back(std::move(name));
    }
  }
  return engines;
}

void forget_remote_copies(BackupInfo& info) {
  std::erase_if(info.extra_keys, [](const auto& kv) { return kv.first.starts_with("STORAGE_"); });
  info.remote_ssh_elapsed = Seconds(0);
  info.remote_s3_elapsed = Seconds(0);
  info.remote_azure_elapsed = Seconds(0);
}

std::string first_wal_segment(const BackupInfo& info, uint64_t seg_size) {
  if (!wal::check_segment_size(seg_size)) {
    return {};
  }
  if (wal::parse_segment_name(info.wal, seg_size)) {
    return info.wal;
  }
  if (info.start_lsn == 0 || info.start_timeline == 0) {
    return {};
  }
  return wal::segment_name(wal::TimelineId(info.start_timeline), wal::Lsn(info.start_lsn),
                           seg_size);
}

uint64_t segment_size_from_info(const BackupInfo& info) {
  if (info.start_timeline == 0) {
    return 0;
  }
  uint64_t found = 0;
  for (uint64_t size = uint64_t{1} << 20; size <= uint64_t{1} << 30; size <<= 1) {
    if (wal::segment_name(wal::TimelineId(info.start_timeline), wal::Lsn(info.start_lsn), size) ==
        info.wal) {
      if (found != 0) {
        return 0;
      }
      found = size;
    }
  }
  return found;
}

}  // namespace pgm::backup
