#include "pgm/restore/pg_manifest.h"

#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/crypto/digest.h"

namespace pgm::restore {

namespace {

constexpr std::string_view kIncremental = "INCREMENTAL.";
constexpr std::string_view kFileLine = "{ \"Path\": ";
constexpr std::string_view kChecksumLine = "\"Manifest-Checksum\": \"";

// "base/5/INCREMENTAL.16384" -> "base/5/16384"; "" when the name has no INCREMENTAL prefix.
std::string whole_path(const std::string& path) {
  size_t slash = path.rfind('/');
  size_t name = slash == std::string::npos ? 0 : slash + 1;
  if (path.compare(name, kIncremental.size(), kIncremental) != 0) {
    return {};
  }
  return path.substr(0, name) + path.substr(name + kIncremental.size());
}

tl::unexpected<Error> malformed(const std::string& what) {
  return tl::unexpected(Error(ErrorCode::kCorruption, fmt::format("backup_manifest: {}", what)));
}

// One rewritten file line, in PostgreSQL's own layout; `tail` is what followed the object.
Result<std::string> rewrite_entry(const nlohmann::json& entry, const std::string& tail,
                                  const std::map<std::string, RebuiltManifestFile>& rebuilt) {
  const std::string path = entry.value("Path", "");
  const std::string whole = whole_path(path);
  auto file = rebuilt.find(whole);
  if (file == rebuilt.end()) {
    return malformed(fmt::format("{} was not rebuilt by the restore", path));
  }
  std::string line =
      fmt::format("{{ \"Path\": {}, \"Size\": {}", nlohmann::json(whole).dump(), file->second.size);
  if (entry.contains("Last-Modified")) {
    line += fmt::format(", \"Last-Modified\": {}", entry["Last-Modified"].dump());
  }
  const std::string algorithm = entry.value("Checksum-Algorithm", "");
  if (algorithm == "SHA512" || algorithm == "CRC32C") {
    const std::string& sum = algorithm == "SHA512" ? file->second.sha512 : file->second.crc32c;
    if (sum.empty()) {
      return malformed(fmt::format("no {} of the rebuilt {}", algorithm, whole));
    }
    line += fmt::format(", \"Checksum-Algorithm\": \"{}\", \"Checksum\": \"{}\"", algorithm, sum);
  }
  return line + " }" + tail;
}

}  // namespace

bool lists_incremental_files(std::string_view manifest) {
  size_t at = 0;
  while ((at = manifest.find(kIncremental, at)) != std::string_view::npos) {
    if (at > 0 && (manifest[at - 1] == '/' || manifest[at - 1] == '"')) {
      return true;
    }
    at += kIncremental.size();
  }
  return false;
}

Result<std::string> manifest_for_rebuilt(
    std::string_view manifest, const std::map<std::string, RebuiltManifestFile>& rebuilt) {
  if (manifest.empty() || manifest.back() != '\n') {
    return malformed("does not end with a newline");
  }
  std::vector<std::string_view> lines;
  for (size_t start = 0; start < manifest.size();) {
    size_t end = manifest.find('\n', start);
    lines.push_back(manifest.substr(start, end - start));
    start = end + 1;
  }
  if (lines.size() < 2 || !lines.back().starts_with(kChecksumLine)) {
    return malformed("the last line is not its Manifest-Checksum");
  }
  std::string out;
  out.reserve(manifest.size());
  for (size_t i = 0; i + 1 < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.starts_with(kFileLine)) {
      out.append(line).push_back('\n');
      continue;
    }
    size_t close = line.rfind('}');
    nlohmann::json entry = close == std::string_view::npos
                               ? nlohmann::json()
                               : nlohmann::json::parse(line.substr(0, close + 1), nullptr, false);
    if (!entry.is_object() || !entry.contains("Path") || !entry["Path"].is_string()) {
      return malformed(fmt::format("line {} is not a file entry", i + 1));
    }
    if (whole_path(entry["Path"].get<std::string>()).empty()) {
      out.append(line).push_back('\n');
      continue;
    }
    PGM_ASSIGN_OR_RETURN(std::string rewritten,
                         rewrite_entry(entry, std::string(line.substr(close + 1)), rebuilt));
    out.append(rewritten).push_back('\n');
  }
  const std::string checksum = crypto::to_hex(crypto::sha256(crypto::bytes_of(out)));
  std::string_view last = lines.back();
  size_t end_quote = last.find('"', kChecksumLine.size());
  if (end_quote == std::string_view::npos) {
    return malformed("its Manifest-Checksum line is cut short");
  }
  out.append(kChecksumLine).append(checksum).append(last.substr(end_quote)).push_back('\n');
  return out;
}

}  // namespace pgm::restore
