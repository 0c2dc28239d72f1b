#include "pgm/walsummary/segment_summary.h"

#include <fcntl.h>

#include <optional>

#include <fmt/format.h>

#include "pgm/core/scope_exit.h"
#include "pgm/io/fd.h"
#include "pgm/io/file_system.h"
#include "pgm/wal/segment.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/stored_segment.h"

namespace pgm::walsummary {
namespace {

// The sink's way to say "the segment's records are all in": not an error of the input.
constexpr std::string_view kDone = "walsummary: past the segment";

bool is_done(const Error& e) { return e.code() == ErrorCode::kCancelled && e.message() == kDone; }

// Feeds one stored file to the decoder through its layers; stops early (true) when the sink
// said the segment is done.
Result<bool> feed_file(io::FileSystem& fs, const std::string& path, const SegmentSource& source,
                       xlog::Decoder& decoder, const xlog::RecordSink& sink) {
  PGM_ASSIGN_OR_RETURN(xlog::StoredSegmentFeeder feeder,
                       xlog::StoredSegmentFeeder::create(path, source.mode, source.key));
  const int fd = fs.open(path, O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  ScopeExit close_fd([&] { fs.close(fd); });
  std::vector<uint8_t> buffer(size_t{1} << 16);
  for (;;) {
    PGM_ASSIGN_OR_RETURN(size_t got, io::read_some(fs, fd, buffer, "read", path));
    if (got == 0) {
      break;
    }
    auto fed = feeder.update(std::span<const uint8_t>(buffer).first(got), decoder, sink);
    if (!fed && is_done(fed.error())) {
      return true;
    }
    PGM_TRY(fed);
  }
  auto finished = feeder.finish(decoder, sink);
  if (!finished && is_done(finished.error())) {
    return true;
  }
  PGM_TRY(finished);
  return false;
}

}  // namespace

Result<std::optional<SummaryRange>> summarize_stored_segment(io::FileSystem& fs,
                                                             const SegmentSource& source,
                                                             BlockRefTable& table,
                                                             const Rules& rules) {
  xlog::Decoder decoder;
  wal::Lsn end;
  bool have_end = false;  // known once the segment itself is fed
  std::optional<Error> failed;
  auto sink = [&](const xlog::Record& record) -> Result<void> {
    if (have_end && record.lsn >= end) {
      return make_error(ErrorCode::kCancelled, std::string(kDone));
    }
    auto added = summarize_record(record, decoder.major(), table, rules);
    if (!added) {
      failed = added.error();
    }
    return added;
  };
  PGM_ASSIGN_OR_RETURN(bool done, feed_file(fs, source.path, source, decoder, sink));
  if (failed) {
    return tl::unexpected(*failed);
  }
  // The segment's place from its name (a segment may hold no record start at all, when one
  // record spans it).
  const size_t slash = source.path.rfind('/');
  const wal::WalFileInfo info = wal::classify_wal_file(
      slash == std::string::npos ? source.path : source.path.substr(slash + 1));
  PGM_ASSIGN_OR_RETURN(wal::SegmentId id,
                       wal::parse_segment_name(info.base, decoder.segment_size()));
  const wal::Lsn start = wal::segment_start(id.segno, decoder.segment_size());
  end = wal::Lsn(start.value() + decoder.segment_size());
  have_end = true;
  if (!done && !decoder.ended()) {
    // The segment's last record, or the end of the segment without one after XLOG_SWITCH,
    // shows only when the next segment's first record does.
    for (const std::string& next : source.after) {
      PGM_ASSIGN_OR_RETURN(done, feed_file(fs, next, source, decoder, sink));
      if (failed) {
        return tl::unexpected(*failed);
      }
      if (done || decoder.ended()) {
        break;
      }
    }
  }
  if (!done && !decoder.ended()) {
    return std::nullopt;  // its last record continues past the segments stored
  }
  return SummaryRange{id.tli.value(), start, end, decoder.major()};
}

}  // namespace pgm::walsummary
