// SegmentWriter: durable writing of streamed WAL into a wal/ directory, the way
// pg_receivewal does it; finish_segment() compresses/encrypts a completed segment; and
// resume_position() finds where streaming restarts. One SegmentWriter is used by one thread;
// the free functions are thread-safe for distinct segments.
//
// Bytes for LSN X go to "<dir>/<segment>.partial" at offset X % seg_size. A new .partial is
// zero-filled to the full segment size and fsynced before use, so a resumed stream writes at
// exact offsets. A write never crosses a segment boundary (spans are split here). When a
// segment fills up it is fsynced, renamed to its final name, the directory is fsynced, and
// only then the completion callback runs. A segment never appears half-written under its
// final name.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/aes.h"
#include "pgm/io/file_system.h"
#include "pgm/wal/lsn.h"
#include "pgm/wal/segment.h"

namespace pgm::wal {

class SegmentWriter {
 public:
  // Runs after a segment is durable under its final name (e.g. to call finish_segment). Its
  // error is returned by the write() that completed the segment.
  using OnComplete = std::function<Result<void>(const std::string& segment_name)>;

  // `dir` must exist. An invalid seg_size or timeline -> kInvalidArgument. Opens no file yet.
  // All file I/O goes through `fs`, which must outlive the writer.
  static Result<SegmentWriter> create(std::string dir, uint64_t seg_size, TimelineId tli,
                                      OnComplete on_complete,
                                      io::FileSystem& fs = io::posix_file_system());

  SegmentWriter(SegmentWriter&&) noexcept = default;
  SegmentWriter& operator=(SegmentWriter&&) noexcept = default;
  SegmentWriter(const SegmentWriter&) = delete;
  SegmentWriter& operator=(const SegmentWriter&) = delete;
  // Closes the open .partial without fsync; unflushed bytes may be lost on a crash, never
  // misplaced.
  ~SegmentWriter() = default;

  // Writes `data`, the WAL starting at `start`. The first write after create() or
  // switch_timeline() may start anywhere (normally a segment start; mid-segment only into an
  // existing .partial); later writes must continue at position(), else kProtocol. I/O errors
  // name the file; after one the writer should be discarded and streaming resumed.
  Result<void> write(Lsn start, std::span<const uint8_t> data);

  // fsyncs the open .partial and returns the flushed position (everything before it is
  // durable).
  Result<Lsn> flush();

  // Flushes and closes the current .partial (kept under that name) and continues on `tli`;
  // the next write may start at any position.
  Result<void> switch_timeline(TimelineId tli);

  // Flushes and closes the open file. The writer stays usable.
  Result<void> close();

  Lsn position() const { return position_; }  // end of the bytes written so far
  Lsn flushed() const { return flushed_; }    // end of the bytes known durable
  TimelineId timeline() const { return tli_; }
  // Path of the open .partial, empty when none is open.
  const std::string& current_path() const { return partial_path_; }

 private:
  SegmentWriter(std::string dir, uint64_t seg_size, TimelineId tli, OnComplete on_complete,
                io::FileSystem& fs);
  Result<void> open_segment(SegmentNo segno, uint64_t offset);
  Result<void> complete_segment();

  std::string dir_;
  uint64_t seg_size_;
  TimelineId tli_;
  OnComplete on_complete_;
  io::FileSystem* fs_;
  UniqueFd fd_;
  SegmentNo segno_ = 0;
  std::string partial_path_;
  Lsn position_;
  Lsn flushed_;
  bool started_ = false;
};

// Turns the complete plain segment "<dir>/<name>" into "<name><suffix>[.aes]" (compression
// suffix from compress::file_suffix): temp file, fsync, rename, directory fsync, and only then
// the plain file is removed. Returns the resulting file name (`name` itself when both are
// none). Safe to re-run after a crash at any point, even with other settings: leftover temp
// files of any suffix are removed, and an existing stored form of the segment (complete,
// since it appears only by rename; the configured one preferred) just gets the plain file
// removed, so a segment is never stored twice. Encryption without `key` ->
// kInvalidArgument; a missing input -> kNotFound.
//
// A failure writing the stored form (a full disk) removes its temp file and keeps the plain
// segment; finishing it again later stores it.
//
// SegmentFinisher keeps the compressor context and the input/output buffers between
// segments, so a long-running receiver does not allocate (and page-fault in) ~50 MB of fresh
// memory per segment. One per thread; `key` and `fs` (used to write the stored form) must
// outlive it.
class SegmentFinisher {
 public:
  SegmentFinisher(compress::Algorithm algorithm, int level, crypto::AesMode mode,
                  const crypto::MasterKey* key, io::FileSystem& fs = io::posix_file_system());
  Result<std::string> finish(const std::string& dir, const std::string& name);

 private:
  Result<void> read_plain(const std::string& path);
  compress::Compressor compressor_;
  crypto::AesMode mode_;
  const crypto::MasterKey* key_;
  io::FileSystem* fs_;
  std::vector<uint8_t> input_;
  std::vector<uint8_t> encrypted_;
};

// A one-shot SegmentFinisher.
Result<std::string> finish_segment(const std::string& dir, const std::string& name,
                                   compress::Algorithm algorithm, int level, crypto::AesMode mode,
                                   const crypto::MasterKey* key);

struct ResumePoint {
  Lsn lsn;
  TimelineId tli;
  friend bool operator==(const ResumePoint&, const ResumePoint&) = default;
};

// Where to restart streaming from the files in `dir`: the newest segment (highest segment
// number, then timeline; a .partial wins over a complete one of the same name) gives the start
// of the .partial's segment, or the start of the segment after a complete one (compressed or
// encrypted ones count). nullopt when there is no segment. A segment name that does not fit
// seg_size -> kInvalidArgument naming the file.
Result<std::optional<ResumePoint>> resume_position(const std::string& dir, uint64_t seg_size);

}  // namespace pgm::wal
