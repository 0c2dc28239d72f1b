// Test helpers for files: a private temporary directory removed at the end of its scope, and
// whole-file text reads and writes. Not thread-safe per object.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

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

}  // namespace pgm::test_support
