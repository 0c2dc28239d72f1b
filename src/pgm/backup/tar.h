// TarReader: a push-based streaming tar parser for the archives BASE_BACKUP sends (one per
// tablespace, in CopyData chunks of any size). Memory is bounded: member data is never
// buffered, it goes to a TarSink chunk by chunk as it arrives. One TarReader is used by one
// thread; distinct readers are independent.
//
// Formats: ustar (prefix + name), GNU (base-256 numbers, 'L' long names, 'K' long link
// names) and POSIX pax ('x' records path, linkpath and size; 'g' global headers ignored).
// Every header's checksum is verified. Entries are reported as:
//   '0', '\0'  kFile       data delivered through TarSink::data()
//   '5'        kDirectory  no data
//   '2'        kSymlink    no data; link_target as stored (may be absolute: pg_tblspc links)
//   '1'        kHardlink   no data; link_target is a path inside the archive
//   other      kOther      data (if any) skipped, never delivered; '3' '4' '6' carry none
// Trailing slashes are removed from paths ("base/" -> "base"); otherwise paths are reported as
// stored and never touched on disk. A path (or hard link target) that is empty, absolute,
// contains a ".." component or a NUL byte is rejected with kCorruption: callers write under a
// target directory.
//
// The archive must end with two zero blocks (PostgreSQL 15+ sends them after each tablespace;
// GNU tar may add more zeros to fill a record, which are accepted). PostgreSQL 14 and older
// end right after the last member; pass accept_missing_trailer for those.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "pgm/core/result.h"

namespace pgm::backup {

enum class TarType { kFile, kDirectory, kSymlink, kHardlink, kOther };

struct TarEntry {
  std::string path;  // relative, without trailing '/'
  TarType type = TarType::kOther;
  uint64_t size = 0;        // bytes data() will receive (kFile), bytes skipped (kOther), else 0
  uint32_t mode = 0;        // permission bits as stored
  int64_t mtime = 0;        // seconds since the epoch
  std::string link_target;  // kSymlink, kHardlink; empty otherwise
};

// Receives the members in archive order: begin(), data() zero or more times with the
// member's bytes in order (kFile only), end(). An error from any call stops the reader and is
// returned unchanged by the feed() that made the call; later calls return it again.
class TarSink {
 public:
  virtual ~TarSink() = default;
  virtual Result<void> begin(const TarEntry& entry) = 0;
  // `bytes` is only valid during the call.
  virtual Result<void> data(std::span<const uint8_t> bytes) = 0;
  virtual Result<void> end() = 0;
};

class TarReader {
 public:
  // `sink` is borrowed and must outlive the reader.
  explicit TarReader(TarSink& sink, bool accept_missing_trailer = false);

  TarReader(const TarReader&) = delete;
  TarReader& operator=(const TarReader&) = delete;

  // Consumes the next bytes of the archive, split anywhere (1 byte at a time works), calling
  // the sink as members complete or data arrives. Malformed input -> kCorruption naming the
  // offset or the member; bytes after the end marker must be zeros. After any error the
  // reader is stuck: every later call returns the same error.
  Result<void> feed(std::span<const uint8_t> bytes);

  // Declares the end of the stream. kCorruption unless the archive ended cleanly: inside a
  // member (data or padding) the message names the member; inside a header, after a single
  // zero block or without the end marker it names the offset.
  Result<void> finish();

  // True once the end-of-archive marker (or, with accept_missing_trailer, a clean finish())
  // was seen.
  bool done() const { return state_ == State::kEnd; }

  // Bytes consumed so far.
  uint64_t offset() const { return offset_; }

 private:
  enum class State { kHeader, kData, kPadding, kEnd, kFailed };
  // kSkip: a kOther member's data; kGlobal: a pax 'g' header (no begin/end).
  enum class DataMode { kDeliver, kSkip, kGlobal, kLongName, kLongLink, kPax };

  Result<void> on_block();
  Result<void> on_member(char typeflag, uint64_t header_size);
  Result<void> start_data(DataMode mode, uint64_t size);
  Result<void> on_data_done();
  Result<void> apply_pax();
  Result<void> fail(Error error);

  TarSink& sink_;
  bool accept_missing_trailer_;
  State state_ = State::kHeader;
  std::array<uint8_t, 512> block_{};
  size_t block_fill_ = 0;
  uint64_t offset_ = 0;
  uint64_t header_offset_ = 0;  // where the current header block started
  int zero_blocks_ = 0;
  DataMode mode_ = DataMode::kSkip;
  uint64_t member_size_ = 0;
  uint64_t remaining_ = 0;  // data bytes still to come
  uint64_t padding_ = 0;    // padding bytes still to come
  std::string member_;      // current member's path, for messages
  std::string extended_;    // body of an 'L', 'K' or 'x' header (bounded)
  std::optional<std::string> long_name_;
  std::optional<std::string> long_link_;
  std::optional<std::string> pax_path_;
  std::optional<std::string> pax_link_;
  std::optional<uint64_t> pax_size_;
  std::optional<Error> error_;
};

}  // namespace pgm::backup
