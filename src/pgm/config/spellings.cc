#include "pgm/config/spellings.h"

#include <array>
#include <utility>

#include <fmt/format.h>

#include "pgm/config/values.h"

namespace pgm::config {

namespace {

using compress::Algorithm;
using crypto::AesMode;

template <typename T>
struct Spelling {
  std::string_view text;
  T value;
};

// Looks `text` up case-insensitively in `table`; the error lists the first spellings.
template <typename T, size_t N>
Result<T> lookup(std::string_view what, std::string_view text,
                 const std::array<Spelling<T>, N>& table) {
  const std::string lower = to_lower(trim(text));
  for (const auto& s : table) {
    if (s.text == lower) {
      return s.value;
    }
  }
  std::string accepted;
  for (const auto& s : table) {
    accepted += accepted.empty() ? "" : ", ";
    accepted += s.text;
  }
  return make_error(ErrorCode::kConfig,
                    fmt::format("invalid {} \"{}\" (expected one of: {})", what, text, accepted));
}

// The first spelling listed for a value is its canonical spelling.
template <typename T, size_t N>
std::string name_of(T value, const std::array<Spelling<T>, N>& table) {
  for (const auto& s : table) {
    if (s.value == value) {
      return std::string(s.text);
    }
  }
  return "";
}

constexpr Compression client(Algorithm a) { return Compression{a, false}; }
constexpr Compression server(Algorithm a) { return Compression{a, true}; }

constexpr std::array<Spelling<Compression>, 14> kCompressions{{
    {"none", client(Algorithm::kNone)},
    {"gzip", client(Algorithm::kGzip)},
    {"client-gzip", client(Algorithm::kGzip)},
    {"server-gzip", server(Algorithm::kGzip)},
    {"zstd", client(Algorithm::kZstd)},
    {"client-zstd", client(Algorithm::kZstd)},
    {"server-zstd", server(Algorithm::kZstd)},
    {"lz4", client(Algorithm::kLz4)},
    {"client-lz4", client(Algorithm::kLz4)},
    {"server-lz4", server(Algorithm::kLz4)},
    {"bz2", client(Algorithm::kBzip2)},
    {"client-bz2", client(Algorithm::kBzip2)},
    {"bzip2", client(Algorithm::kBzip2)},
    {"client-bzip2", client(Algorithm::kBzip2)},
}};

constexpr std::array<Spelling<AesMode>, 8> kEncryptions{{
    {"none", AesMode::kNone},
    {"aes-256-gcm", AesMode::kAes256Gcm},
    {"aes", AesMode::kAes256Gcm},
    {"aes-256", AesMode::kAes256Gcm},
    {"aes-192-gcm", AesMode::kAes192Gcm},
    {"aes-192", AesMode::kAes192Gcm},
    {"aes-128-gcm", AesMode::kAes128Gcm},
    {"aes-128", AesMode::kAes128Gcm},
}};

constexpr std::array<Spelling<LogType>, 3> kLogTypes{
    {{"console", LogType::kConsole}, {"file", LogType::kFile}, {"syslog", LogType::kSyslog}}};

constexpr std::array<Spelling<LogMode>, 2> kLogModes{
    {{"append", LogMode::kAppend}, {"create", LogMode::kCreate}}};

constexpr std::array<Spelling<Hugepage>, 3> kHugepages{
    {{"off", Hugepage::kOff}, {"try", Hugepage::kTry}, {"on", Hugepage::kOn}}};

constexpr std::array<Spelling<ManifestChecksums>, 2> kManifestChecksums{
    {{"sha512", ManifestChecksums::kSha512}, {"crc32c", ManifestChecksums::kCrc32c}}};

constexpr std::array<Spelling<DirectIo>, 3> kDirectIos{
    {{"off", DirectIo::kOff}, {"auto", DirectIo::kAuto}, {"on", DirectIo::kOn}}};

constexpr std::array<Spelling<Libev>, 7> kLibevs{{{"auto", Libev::kAuto},
                                                  {"select", Libev::kSelect},
                                                  {"poll", Libev::kPoll},
                                                  {"epoll", Libev::kEpoll},
                                                  {"iouring", Libev::kIouring},
                                                  {"devpoll", Libev::kDevpoll},
                                                  {"port", Libev::kPort}}};

constexpr std::array<Spelling<ProcessTitle>, 6> kTitles{{{"never", ProcessTitle::kNever},
                                                         {"off", ProcessTitle::kNever},
                                                         {"strict", ProcessTitle::kStrict},
                                                         {"minimal", ProcessTitle::kMinimal},
                                                         {"verbose", ProcessTitle::kVerbose},
                                                         {"full", ProcessTitle::kVerbose}}};

// pgmoneta accepts the cbc names too; libssh spellings (aes256-ctr) are accepted as well.
constexpr std::array<Spelling<std::string_view>, 12> kCiphers{{
    {"aes-256-ctr", "aes-256-ctr"},
    {"aes-192-ctr", "aes-192-ctr"},
    {"aes-128-ctr", "aes-128-ctr"},
    {"aes-256-cbc", "aes-256-cbc"},
    {"aes-192-cbc", "aes-192-cbc"},
    {"aes-128-cbc", "aes-128-cbc"},
    {"aes256-ctr", "aes-256-ctr"},
    {"aes192-ctr", "aes-192-ctr"},
    {"aes128-ctr", "aes-128-ctr"},
    {"aes256-cbc", "aes-256-cbc"},
    {"aes192-cbc", "aes-192-cbc"},
    {"aes128-cbc", "aes-128-cbc"},
}};

Result<std::optional<int>> parse_retention_field(std::string_view field) {
  field = trim(field);
  if (field.empty() || field == "-") {
    return std::optional<int>();
  }
  auto n = parse_int(field, 0, 1000000);
  if (!n) {
    return make_error(
        ErrorCode::kConfig,
        fmt::format("invalid retention field \"{}\" (expected an integer or '-')", field));
  }
  return std::optional<int>(static_cast<int>(*n));
}

}  // namespace

Result<Compression> parse_compression(std::string_view text) {
  return lookup("compression", text, kCompressions);
}

std::string format_compression(const Compression& c) {
  if (c.algorithm == Algorithm::kNone) {
    return "none";
  }
  return name_of(c, kCompressions);
}

Result<AesMode> parse_encryption(std::string_view text) {
  return lookup("encryption", text, kEncryptions);
}
std::string format_encryption(AesMode m) { return name_of(m, kEncryptions); }

Result<StorageEngines> parse_storage_engine(std::string_view text) {
  StorageEngines s{false, false, false, false};
  const std::vector<std::string> items = split_list(text, ',');
  if (items.empty()) {
    return make_error(ErrorCode::kConfig, "empty storage_engine (expected local, ssh, s3, azure)");
  }
  for (const std::string& item : items) {
    const std::string lower = to_lower(item);
    if (lower == "local") {
      s.local = true;
    } else if (lower == "ssh") {
      s.ssh = true;
    } else if (lower == "s3") {
      s.s3 = true;
    } else if (lower == "azure") {
      s.azure = true;
    } else {
      return make_error(ErrorCode::kConfig,
                        fmt::format("invalid storage engine \"{}\" (expected a comma list of "
                                    "local, ssh, s3, azure)",
                                    item));
    }
  }
  return s;
}

std::string format_storage_engine(const StorageEngines& s) {
  std::string out;
  auto add = [&out](bool on, const char* name) {
    if (on) {
      out += out.empty() ? "" : ",";
      out += name;
    }
  };
  add(s.local, "local");
  add(s.ssh, "ssh");
  add(s.s3, "s3");
  add(s.azure, "azure");
  return out;
}

Result<Retention> parse_retention(std::string_view text) {
  std::vector<std::string_view> fields;
  std::string_view rest = text;
  while (true) {
    const size_t comma = rest.find(',');
    fields.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(comma + 1);
  }
  if (fields.size() > 4) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("invalid retention \"{}\" (expected at most 4 fields: days, "
                                  "weeks, months, years)",
                                  text));
  }
  Retention r;
  std::optional<int>* slots[] = {&r.days, &r.weeks, &r.months, &r.years};
  for (size_t i = 0; i < fields.size(); ++i) {
    PGM_ASSIGN_OR_RETURN(*slots[i], parse_retention_field(fields[i]));
  }
  return r;
}

std::string format_retention(const Retention& r) {
  auto field = [](const std::optional<int>& v) { return v ? std::to_string(*v) : "-"; };
  return fmt::format("{},{},{},{}", field(r.days), field(r.weeks), field(r.months), field(r.years));
}

Result<LogType> parse_log_type(std::string_view text) {
  return lookup("log_type", text, kLogTypes);
}
std::string format_log_type(LogType t) { return name_of(t, kLogTypes); }

Result<log::Level> parse_log_level(std::string_view text) {
  if (std::optional<log::Level> level = log::parse_level(trim(text))) {
    return *level;
  }
  return make_error(ErrorCode::kConfig,
                    fmt::format("invalid log_level \"{}\" (expected fatal, error, warn, info, "
                                "debug1..debug5)",
                                text));
}

Result<LogMode> parse_log_mode(std::string_view text) {
  return lookup("log_mode", text, kLogModes);
}
std::string format_log_mode(LogMode m) { return name_of(m, kLogModes); }

Result<Hugepage> parse_hugepage(std::string_view text) {
  return lookup("hugepage", text, kHugepages);
}
std::string format_hugepage(Hugepage h) { return name_of(h, kHugepages); }

Result<ManifestChecksums> parse_manifest_checksums(std::string_view text) {
  return lookup("manifest_checksums", text, kManifestChecksums);
}
std::string format_manifest_checksums(ManifestChecksums m) {
  return name_of(m, kManifestChecksums);
}

Result<DirectIo> parse_direct_io(std::string_view text) {
  return lookup("direct_io", text, kDirectIos);
}
std::string format_direct_io(DirectIo d) { return name_of(d, kDirectIos); }

Result<Libev> parse_libev(std::string_view text) { return lookup("libev", text, kLibevs); }
std::string format_libev(Libev l) { return name_of(l, kLibevs); }

Result<ProcessTitle> parse_update_process_title(std::string_view text) {
  return lookup("update_process_title", text, kTitles);
}
std::string format_update_process_title(ProcessTitle p) { return name_of(p, kTitles); }

Result<std::vector<std::string>> parse_ssh_ciphers(std::string_view text) {
  std::vector<std::string> out;
  for (const std::string& item : split_list(text, ',')) {
    PGM_ASSIGN_OR_RETURN(std::string_view canonical, lookup("ssh cipher", item, kCiphers));
    out.emplace_back(canonical);
  }
  if (out.empty()) {
    return make_error(ErrorCode::kConfig, "empty ssh_ciphers");
  }
  return out;
}

Result<std::vector<std::vector<TablespaceMapping>>> parse_tablespaces(std::string_view text) {
  std::vector<std::vector<TablespaceMapping>> out;
  if (trim(text).empty()) {
    return out;
  }
  std::string_view rest = text;
  while (true) {
    const size_t bar = rest.find('|');
    std::vector<TablespaceMapping> maps;
    for (const std::string& pair : split_list(rest.substr(0, bar), ',')) {
      const size_t arrow = pair.find("->");
      if (arrow == std::string::npos || trim(pair.substr(0, arrow)).empty() ||
          trim(pair.substr(arrow + 2)).empty()) {
        return make_error(
            ErrorCode::kConfig,
            fmt::format("invalid tablespace mapping \"{}\" (expected from->to)", pair));
      }
      maps.push_back(
          {std::string(trim(pair.substr(0, arrow))), std::string(trim(pair.substr(arrow + 2)))});
    }
    out.push_back(std::move(maps));
    if (bar == std::string_view::npos) {
      break;
    }
    rest.remove_prefix(bar + 1);
  }
  return out;
}

std::string format_tablespaces(const std::vector<std::vector<TablespaceMapping>>& t) {
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) {
    out += i == 0 ? "" : "|";
    for (size_t j = 0; j < t[i].size(); ++j) {
      out += j == 0 ? "" : ",";
      out += t[i][j].from + "->" + t[i][j].to;
    }
  }
  return out;
}

}  // namespace pgm::config
