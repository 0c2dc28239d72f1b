#include "pgm/backup/postgres_manifest.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "pgm/backup/crc32c.h"
#include "pgm/crypto/digest.h"

namespace pgm::backup {

namespace {

using json = nlohmann::json;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string to_lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  c = lower(c);
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  return -1;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return hex_value(c) >= 0; });
}

std::optional<std::string> decode_hex(std::string_view hex) {
  if (hex.size() % 2 != 0 || !is_hex(hex)) {
    return std::nullopt;
  }
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    out.push_back(static_cast<char>(hex_value(hex[i]) * 16 + hex_value(hex[i + 1])));
  }
  return out;
}

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// One entry of the Files array as the walker collects it (only string values count).
struct FileFields {
  std::optional<std::string> path;
  std::optional<std::string> encoded_path;
  std::optional<std::string> algorithm;
  std::optional<std::string> checksum;
};

// Our checksums in lower-case hex, whichever form they came in.
std::string sha512_hex(const ManifestEntryRef& e) { return to_lower(e.sha512); }
std::string sha512_hex(const ManifestDigestRef& e) { return crypto::Sha512::hex(*e.sha512); }
bool has_crc32c(const ManifestEntryRef& e) { return !e.crc32c.empty(); }
bool has_crc32c(const ManifestDigestRef& e) { return e.crc32c.has_value(); }
std::string crc32c_hex(const ManifestEntryRef& e) { return to_lower(e.crc32c); }
std::string crc32c_hex(const ManifestDigestRef& e) { return crc32c_manifest_hex(*e.crc32c); }

// Our side, sorted by path, and what the comparison found so far.
template <typename Entry>
class Comparison {
 public:
  explicit Comparison(std::span<const Entry> ours) {
    auto by_path = [](const Entry& a, const Entry& b) { return a.path < b.path; };
    // Already sorted with unique paths (a backup's own list): used in place, not copied.
    if (std::adjacent_find(ours.begin(), ours.end(), [](const Entry& a, const Entry& b) {
          return !(a.path < b.path);
        }) == ours.end()) {
      sorted_ = ours;
    } else {
      std::vector<Entry> copy(ours.begin(), ours.end());
      // Stable, then keep the last of equal paths: the entry a map assignment would have kept.
      std::stable_sort(copy.begin(), copy.end(), by_path);
      for (size_t i = 0; i < copy.size(); ++i) {
        if (i + 1 < copy.size() && copy[i + 1].path == copy[i].path) {
          continue;
        }
        copy_.push_back(copy[i]);
      }
      sorted_ = copy_;
    }
    seen_.assign(sorted_.size(), false);
  }

  // One file of PostgreSQL's manifest, validated; `index` names it in errors.
  Result<void> file(size_t index, FileFields& f) {
    auto where = [index](std::string_view what) {
      return make_error(ErrorCode::kCorruption,
                        fmt::format("backup_manifest: Files[{}]: {}", index, what));
    };
    std::string path;
    if (f.path) {
      path = std::move(*f.path);
    } else if (f.encoded_path) {
      auto decoded = decode_hex(*f.encoded_path);
      if (!decoded) {
        return where("Encoded-Path is not hex");
      }
      path = std::move(*decoded);
    } else {
      return where("no Path or Encoded-Path");
    }
    const bool crc = f.algorithm && *f.algorithm == "CRC32C";
    if (!crc && (!f.algorithm || *f.algorithm != "SHA512")) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("backup_manifest: {}: checksum algorithm is neither SHA512 nor CRC32C",
                      path));
    }
    if (!f.checksum || (crc ? f.checksum->size() != 8 || !is_hex(*f.checksum)
                            : !crypto::is_sha512_hex(*f.checksum))) {
      return where(fmt::format("{}: Checksum is not {} hex", path, crc ? "CRC32C" : "SHA-512"));
    }
    // CRC32C values carry a "crc32c:" prefix in mismatches so that they never equal a SHA-512.
    auto theirs = [&] { return (crc ? "crc32c:" : "") + to_lower(*f.checksum); };
    auto it = std::lower_bound(sorted_.begin(), sorted_.end(), path,
                               [](const Entry& e, const std::string& p) { return e.path < p; });
    if (it == sorted_.end() || it->path != path) {
      mismatches_.push_back({ManifestMismatch::Kind::kMissingInOurs, path, "", theirs()});
      return {};
    }
    seen_[static_cast<size_t>(it - sorted_.begin())] = true;
    if (crc && !has_crc32c(*it)) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("backup_manifest: {}: CRC32C checksum but none computed here", path));
    }
    const std::string mine = crc ? crc32c_hex(*it) : sha512_hex(*it);
    if (!equal_ignoring_case(mine, *f.checksum)) {
      mismatches_.push_back({ManifestMismatch::Kind::kChecksumDiffers, path,
                             (crc ? "crc32c:" : "") + mine, theirs()});
    }
    return {};
  }

  std::vector<ManifestMismatch> finish() {
    for (size_t i = 0; i < sorted_.size(); ++i) {
      if (!seen_[i]) {
        mismatches_.push_back({ManifestMismatch::Kind::kMissingInPostgres,
                               std::string(sorted_[i].path), sha512_hex(sorted_[i]), ""});
      }
    }
    std::stable_sort(
        mismatches_.begin(), mismatches_.end(),
        [](const ManifestMismatch& a, const ManifestMismatch& b) { return a.path < b.path; });
    return std::move(mismatches_);
  }

 private:
  std::span<const Entry> sorted_;
  std::vector<Entry> copy_;  // when `ours` came unsorted
  std::vector<bool> seen_;
  std::vector<ManifestMismatch> mismatches_;
};

// A SAX handler for nlohmann::json: follows the nesting, collects each object of the top
// object's "Files" array and hands it to the Comparison; everything else is skipped unbuilt.
// Returning false stops the parse; error() says why.
class FilesWalker {
 public:
  using FileHandler = std::function<Result<void>(size_t index, FileFields& fields)>;
  explicit FilesWalker(FileHandler on_file) : on_file_(std::move(on_file)) {}

  bool null() { return scalar(); }
  bool boolean(bool /*value*/) { return scalar(); }
  bool number_integer(json::number_integer_t /*value*/) { return scalar(); }
  bool number_unsigned(json::number_unsigned_t /*value*/) { return scalar(); }
  bool number_float(json::number_float_t /*value*/, const std::string& /*text*/) {
    return scalar();
  }
  bool binary(json::binary_t& /*value*/) { return scalar(); }

  bool string(std::string& value) {
    if (in_entry_ && depth_ == entry_depth_) {
      if (entry_key_ == "Path") {
        fields_.path = std::move(value);
      } else if (entry_key_ == "Encoded-Path") {
        fields_.encoded_path = std::move(value);
      } else if (entry_key_ == "Checksum-Algorithm") {
        fields_.algorithm = std::move(value);
      } else if (entry_key_ == "Checksum") {
        fields_.checksum = std::move(value);
      }
      return true;
    }
    return scalar();
  }

  bool start_object(std::size_t /*elements*/) {
    if (depth_ == 0) {
      top_is_object_ = true;
    } else if (files_pending_) {
      return fail(corrupt("no Files array"));
    } else if (in_files_ && depth_ == files_depth_) {
      in_entry_ = true;
      entry_depth_ = depth_ + 1;
      fields_ = FileFields{};
      entry_key_.clear();
    }
    ++depth_;
    return true;
  }

  bool key(std::string& name) {
    if (depth_ == 1) {
      files_pending_ = name == "Files" && !files_seen_;
    } else if (in_entry_ && depth_ == entry_depth_) {
      entry_key_ = std::move(name);
    }
    return true;
  }

  bool end_object() {
    --depth_;
    if (in_entry_ && depth_ == files_depth_) {
      in_entry_ = false;
      Result<void> r = on_file_(index_++, fields_);
      if (!r) {
        return fail(r.error());
      }
    }
    return true;
  }

  bool start_array(std::size_t /*elements*/) {
    if (depth_ == 0) {
      return fail(corrupt("not a JSON object"));
    }
    if (files_pending_) {
      files_pending_ = false;
      files_seen_ = true;
      in_files_ = true;
      files_depth_ = depth_ + 1;
    } else if (in_files_ && depth_ == files_depth_) {
      return fail(where("not an object"));
    }
    ++depth_;
    return true;
  }

  bool end_array() {
    --depth_;
    if (in_files_ && depth_ + 1 == files_depth_) {
      in_files_ = false;
    }
    return true;
  }

  bool parse_error(std::size_t /*position*/, const std::string& /*last_token*/,
                   const nlohmann::detail::exception& e) {
    return fail(corrupt(fmt::format("not valid JSON ({})", e.what())));
  }

  // After a successful parse: the document's shape.
  Result<void> check_shape() const {
    if (!top_is_object_) {
      return tl::unexpected(corrupt("not a JSON object"));
    }
    if (!files_seen_) {
      return tl::unexpected(corrupt("no Files array"));
    }
    return {};
  }

  const std::optional<Error>& error() const { return error_; }

 private:
  static Error corrupt(std::string_view what) {
    return Error(ErrorCode::kCorruption, fmt::format("backup_manifest: {}", what));
  }
  Error where(std::string_view what) const {
    return Error(ErrorCode::kCorruption,
                 fmt::format("backup_manifest: Files[{}]: {}", index_, what));
  }
  bool fail(Error e) {
    if (!error_) {
      error_ = std::move(e);
    }
    return false;
  }
  // A value that is no container.
  bool scalar() {
    if (depth_ == 0) {
      return fail(corrupt("not a JSON object"));
    }
    if (files_pending_) {
      return fail(corrupt("no Files array"));
    }
    if (in_files_ && depth_ == files_depth_) {
      return fail(where("not an object"));
    }
    return true;
  }

  FileHandler on_file_;
  std::optional<Error> error_;
  int depth_ = 0;  // containers open
  bool top_is_object_ = false;
  bool files_pending_ = false;  // the top object's "Files" key was read; its value comes next
  bool files_seen_ = false;
  bool in_files_ = false;
  int files_depth_ = 0;  // depth_ inside the Files array
  bool in_entry_ = false;
  int entry_depth_ = 0;  // depth_ inside an entry
  std::string entry_key_;
  FileFields fields_;
  size_t index_ = 0;
};

template <typename Entry, typename Input>
Result<std::vector<ManifestMismatch>> compare(std::span<const Entry> ours, Input&& input) {
  Comparison<Entry> comparison(ours);
  FilesWalker walker(
      [&comparison](size_t index, FileFields& fields) { return comparison.file(index, fields); });
  const bool ok = json::sax_parse(std::forward<Input>(input), &walker);
  if (!ok || walker.error()) {
    if (walker.error()) {
      return tl::unexpected(*walker.error());
    }
    return make_error(ErrorCode::kCorruption, "backup_manifest: not valid JSON");
  }
  PGM_TRY(walker.check_shape());
  return comparison.finish();
}

}  // namespace

Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestEntryRef> ours, std::string_view postgres_manifest_json) {
  return compare(ours, postgres_manifest_json);
}

Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest(
    std::span<const ManifestDigestRef> ours, std::string_view postgres_manifest_json) {
  return compare(ours, postgres_manifest_json);
}

namespace {

template <typename Entry>
Result<std::vector<ManifestMismatch>> compare_file(std::span<const Entry> ours,
                                                   const std::string& manifest_path) {
  std::ifstream in(manifest_path, std::ios::binary);
  if (!in.is_open()) {
    return make_errno_error(fmt::format("open {}", manifest_path), errno);
  }
  auto result = compare(ours, in);
  if (in.bad()) {
    return make_error(ErrorCode::kIo, fmt::format("read {}: an I/O error", manifest_path));
  }
  return result;
}

}  // namespace

Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest_file(
    std::span<const ManifestEntryRef> ours, const std::string& manifest_path) {
  return compare_file(ours, manifest_path);
}

Result<std::vector<ManifestMismatch>> compare_with_postgres_manifest_file(
    std::span<const ManifestDigestRef> ours, const std::string& manifest_path) {
  return compare_file(ours, manifest_path);
}

}  // namespace pgm::backup
