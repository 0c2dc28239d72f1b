#include "pgm/backup/manifest_index.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "pgm/core/markup.h"
#include "pgm/io/file.h"

namespace pgm::backup {

std::string_view PathArena::add(std::string_view text) {
  if (text.size() > room_) {
    const size_t size = std::max(kChunkBytes, text.size());
    chunks_.push_back(std::make_unique<char[]>(size));
    allocated_ += size;
    used_ = 0;
    room_ = size;
  }
  char* at = chunks_.back().get() + used_;
  if (!text.empty()) {
    std::memcpy(at, text.data(), text.size());
  }
  used_ += text.size();
  room_ -= text.size();
  return {at, text.size()};
}

Result<ManifestLine> parse_manifest_line(std::string_view line, size_t number) {
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kCorruption, fmt::format("backup.manifest line {}: {}", number,
                                                          core::printable(what, 160)));
  };
  size_t comma = line.rfind(',');
  if (comma == std::string_view::npos || comma == 0) {
    return bad(fmt::format("expected <path>,<sha512>, got '{}'", line));
  }
  auto digest = crypto::sha512_from_hex(line.substr(comma + 1));
  if (!digest) {
    return bad(fmt::format("'{}' is not a SHA-512 hex", line.substr(comma + 1)));
  }
  return ManifestLine{line.substr(0, comma), *digest};
}

Result<Sha512Line> parse_sha512_line(std::string_view line, size_t number) {
  auto bad = [&](std::string_view what) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("backup.sha512 line {}: {}", number, what));
  };
  if (!line.empty() && line.front() == '\\') {
    return bad("escaped file names are not supported");
  }
  std::optional<crypto::Sha512Digest> digest;
  if (line.size() < 130 || !(digest = crypto::sha512_from_hex(line.substr(0, 128)))) {
    return bad("expected 128 hex digits");
  }
  if (line[128] != ' ' || (line[129] != '*' && line[129] != ' ')) {
    return bad("expected ' *' or '  ' after the checksum");
  }
  std::string_view path = line.substr(130);
  if (path.starts_with("./")) {
    path.remove_prefix(2);
  }
  if (path.empty()) {
    return bad("empty path");
  }
  return Sha512Line{path, *digest};
}

Result<ManifestIndex> ManifestIndex::load(const std::string& manifest_path) {
  ManifestIndex index;
  auto read = io::for_each_line(
      manifest_path, [&index](std::string_view line, size_t number) -> Result<void> {
        if (line.empty()) {
          return {};
        }
        PGM_ASSIGN_OR_RETURN(ManifestLine parsed, parse_manifest_line(line, number));
        index.add(parsed.path, parsed.sha512);
        return {};
      });
  if (!read) {
    // Read errors name the file already; a bad line only its number.
    return tl::unexpected(read.error().code() == ErrorCode::kCorruption
                              ? read.error().with_context(manifest_path)
                              : read.error());
  }
  index.seal();
  return index;
}

void ManifestIndex::add(std::string_view path, const crypto::Sha512Digest& sha512) {
  rows_.push_back({arena_.add(path), sha512});
}

void ManifestIndex::seal() {
  auto by_path = [](const Row& a, const Row& b) { return a.path < b.path; };
  // Our backup.manifest is written sorted: then there is nothing to do (and no sort buffer).
  if (!std::is_sorted(rows_.begin(), rows_.end(), by_path)) {
    std::sort(rows_.begin(), rows_.end(), by_path);
  }
  auto same_path = [](const Row& a, const Row& b) { return a.path == b.path; };
  const auto first = std::adjacent_find(rows_.begin(), rows_.end(), same_path);
  repeated_ = first != rows_.end() ? first->path : std::string_view();
  rows_.erase(std::unique(rows_.begin(), rows_.end(), same_path), rows_.end());
}

size_t ManifestIndex::lookup(std::string_view path) const {
  auto it = std::lower_bound(rows_.begin(), rows_.end(), path,
                             [](const Row& r, std::string_view p) { return r.path < p; });
  return it != rows_.end() && it->path == path ? static_cast<size_t>(it - rows_.begin())
                                               : rows_.size();
}

const crypto::Sha512Digest* ManifestIndex::find(std::string_view path) const {
  const size_t i = lookup(path);
  return i < rows_.size() ? &rows_[i].sha512 : nullptr;
}

}  // namespace pgm::backup
