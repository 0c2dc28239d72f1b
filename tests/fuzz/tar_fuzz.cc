// libFuzzer target: the tar reader over BASE_BACKUP archives.
//
// Input: an archive as PostgreSQL (or GNU tar) sends it. Three readers consume it: one in a
// single feed(), one in chunks of varying sizes (1 byte up to a block and a half), one that
// accepts a missing end marker. The first two must report the same members, data and verdict.
// A checking sink enforces the TarSink contract: begin/data/end in order, data only for regular
// files and exactly `size` bytes of it, no empty chunk, and only safe relative paths.
//
// Corpus: tests/fuzz/corpus/tar (small ustar, GNU long-name and pax archives).
// Run longer: build/fuzz/tar_fuzz build/fuzz/scratch/tar tests/fuzz/corpus/tar
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iterator>
#include <span>
#include <string>
#include <string_view>

#include "pgm/backup/tar.h"

namespace {

using pgm::Result;
using pgm::backup::TarEntry;
using pgm::backup::TarReader;
using pgm::backup::TarType;

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

bool safe_path(std::string_view path) {
  if (path.empty() || path.front() == '/' || path.find('\0') != std::string_view::npos) {
    return false;
  }
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    size_t end = slash == std::string_view::npos ? path.size() : slash;
    if (path.substr(start, end - start) == "..") {
      return false;
    }
    start = end + 1;
  }
  return true;
}

// Checks the sink contract and keeps a transcript of what was reported.
class CheckingSink : public pgm::backup::TarSink {
 public:
  Result<void> begin(const TarEntry& entry) override {
    require(!open_);
    require(safe_path(entry.path));
    require(entry.path.back() != '/');
    if (entry.type == TarType::kHardlink) {
      require(safe_path(entry.link_target));
    }
    if (entry.type != TarType::kFile && entry.type != TarType::kOther) {
      require(entry.size == 0);
    }
    open_ = true;
    entry_ = entry;
    received_ = 0;
    transcript_ += std::to_string(static_cast<int>(entry.type)) + ' ' + entry.path + ' ' +
                   entry.link_target + ' ' + std::to_string(entry.size) + ' ' +
                   std::to_string(entry.mode) + ' ' + std::to_string(entry.mtime) + '\n';
    return {};
  }
  Result<void> data(std::span<const uint8_t> bytes) override {
    require(open_ && entry_.type == TarType::kFile && !bytes.empty());
    received_ += bytes.size();
    require(received_ <= entry_.size);
    transcript_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return {};
  }
  Result<void> end() override {
    require(open_);
    require(entry_.type != TarType::kFile || received_ == entry_.size);
    open_ = false;
    transcript_ += "end\n";
    return {};
  }

  const std::string& transcript() const { return transcript_; }

 private:
  bool open_ = false;
  TarEntry entry_;
  uint64_t received_ = 0;
  std::string transcript_;
};

struct Outcome {
  bool ok = false;
  bool done = false;
  std::string transcript;
};

Outcome read_all(std::span<const uint8_t> input, bool chunked, bool accept_missing_trailer) {
  static constexpr size_t kChunks[] = {1, 511, 3, 512, 17, 768, 2, 100};
  CheckingSink sink;
  TarReader reader(sink, accept_missing_trailer);
  Result<void> fed;
  if (!chunked) {
    fed = reader.feed(input);
  } else {
    for (size_t at = 0, i = 0; at < input.size() && fed; ++i) {
      size_t n = std::min(kChunks[i % std::size(kChunks)], input.size() - at);
      fed = reader.feed(input.subspan(at, n));
      at += n;
    }
  }
  bool ok = fed && reader.finish().has_value();
  return {ok, reader.done(), sink.transcript()};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> input(data, size);
  Outcome whole = read_all(input, false, false);
  Outcome pieces = read_all(input, true, false);
  require(whole.ok == pieces.ok && whole.done == pieces.done);
  require(whole.transcript == pieces.transcript);
  read_all(input, false, true);
  return 0;
}
