// Test helpers for files: a private temporary directory removed at the end of its scope, and
// whole-file text and byte reads and writes. Not thread-safe per object.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgm::test_support {

// A fresh directory "<tmp>/<prefix>-XXXXXX" (aborts the test binary when it cannot be made),
// removed recursively by the destructor.
class TempDir {
 public:
  explicit TempDir(std::string_view prefix = "pgm-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // path() + "/" + name
  std::string file(std::string_view name) const;

 private:
  std::string path_;
};

// A whole file ("" when unreadable), and a file replaced by `text`.
std::string read_text(const std::filesystem::path& path);
void write_text(const std::filesystem::path& path, std::string_view text);
// The same for bytes: a whole file (empty when unreadable), and a file replaced by `bytes`.
std::vector<uint8_t> read_bytes(const std::filesystem::path& path);
void write_bytes(const std::filesystem::path& path, std::span<const uint8_t> bytes);

}  // namespace pgm::test_support
