#include "pgm/walfilter/rewrite.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "pgm/xlog/format.h"

namespace pgm::walfilter {

namespace {

// Transaction rmgr (access/xact.h): the operation in bits 0x70, 0x80 = an xinfo word follows
// the time; xinfo bits in the order their parts follow.
constexpr uint8_t kXactOpMask = 0x70;
constexpr uint8_t kXactCommit = 0x00;
constexpr uint8_t kXactAbort = 0x20;
constexpr uint8_t kXactHasInfo = 0x80;
constexpr uint32_t kXinfoHasDbInfo = 1u << 0;
constexpr uint32_t kXinfoHasSubxacts = 1u << 1;
// Heap rmgr (access/heapam_xlog.h).
constexpr uint8_t kHeapOpMask = 0x70;
constexpr uint8_t kHeapDelete = 0x10;
// xl_heap_delete: xmax u32, offnum u16, infobits u8, flags u8.
constexpr size_t kHeapDeleteFlagsOffset = 7;
constexpr uint8_t kDeleteIsSuper = 1u << 3;
constexpr uint8_t kDeleteIsPartitionMove = 1u << 4;
constexpr uint32_t kFirstNormalObjectId = 16384;

template <typename T>
T load(const uint8_t* p) {
  T value;
  std::memcpy(&value, p, sizeof(T));
  return value;
}

template <typename T>
void store(std::vector<uint8_t>& out, size_t at, T value) {
  std::memcpy(out.data() + at, &value, sizeof(T));
}

std::string lsn_text(wal::Lsn lsn) { return fmt::format("{:X}/{:X}", lsn.high(), lsn.low()); }

}  // namespace

Result<std::optional<CommitInfo>> parse_commit(const xlog::Record& record) {
  if (record.rmid != xlog::kRmTransaction || (record.info & kXactOpMask) != kXactCommit) {
    return std::optional<CommitInfo>();
  }
  const std::span<const uint8_t> data = record.main_data;
  auto short_data = [&] {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("commit at {}: main data too short ({} bytes)",
                                  lsn_text(record.lsn), data.size()));
  };
  CommitInfo info;
  info.xid = record.xid;
  if (data.size() < 8) {
    return short_data();
  }
  info.time = load<int64_t>(data.data());
  size_t at = 8;
  uint32_t xinfo = 0;
  if ((record.info & kXactHasInfo) != 0) {
    if (data.size() < at + 4) {
      return short_data();
    }
    xinfo = load<uint32_t>(data.data() + at);
    at += 4;
  }
  if ((xinfo & kXinfoHasDbInfo) != 0) {
    at += 8;
  }
  if ((xinfo & kXinfoHasSubxacts) != 0) {
    if (data.size() < at + 4) {
      return short_data();
    }
    const auto count = load<int32_t>(data.data() + at);
    at += 4;
    if (count < 0 || data.size() < at + size_t{4} * static_cast<size_t>(count)) {
      return short_data();
    }
    for (int32_t i = 0; i < count; ++i, at += 4) {
      info.subxacts.push_back(load<uint32_t>(data.data() + at));
    }
  }
  return std::optional<CommitInfo>(std::move(info));
}

bool is_user_delete(const xlog::Record& record) {
  if (record.rmid != xlog::kRmHeap || (record.info & kHeapOpMask) != kHeapDelete ||
      record.blocks.empty() || record.blocks[0].rel.rel < kFirstNormalObjectId ||
      record.main_data.size() <= kHeapDeleteFlagsOffset) {
    return false;
  }
  return (record.main_data[kHeapDeleteFlagsOffset] & (kDeleteIsSuper | kDeleteIsPartitionMove)) ==
         0;
}

Result<std::vector<uint8_t>> abort_in_place_of(const xlog::Record& commit, const CommitInfo& info) {
  const size_t total = commit.bytes.size();
  if (total != commit.total_length || total < xlog::kRecordHeaderSize + 2) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("commit at {}: length {} cannot hold an abort", lsn_text(commit.lsn), total));
  }
  // xl_xact_abort: the time, then (with subtransactions) xinfo and the subxact list.
  std::vector<uint8_t> payload(8);
  store(payload, 0, info.time);
  uint8_t op = kXactAbort;
  if (!info.subxacts.empty()) {
    op |= kXactHasInfo;
    payload.resize(8 + 4 + 4 + 4 * info.subxacts.size());
    store(payload, 8, kXinfoHasSubxacts);
    store(payload, 12, static_cast<int32_t>(info.subxacts.size()));
    for (size_t i = 0; i < info.subxacts.size(); ++i) {
      store(payload, 16 + 4 * i, info.subxacts[i]);
    }
  }
  // The main data fills the record: its header is the short form when the length fits a byte.
  const size_t body = total - xlog::kRecordHeaderSize;
  const bool short_form = body - 2 <= 255;
  const size_t data_length = short_form ? body - 2 : body - 5;
  if (body < (short_form ? 2u : 5u) || data_length < payload.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("commit at {}: length {} cannot hold an abort of {} bytes",
                                  lsn_text(commit.lsn), total, payload.size()));
  }
  std::vector<uint8_t> out(total, 0);
  std::copy_n(commit.bytes.begin(), xlog::kRecordCrcOffset, out.begin());  // len, xid, prev
  out[16] = op;
  out[17] = xlog::kRmTransaction;
  size_t at = xlog::kRecordHeaderSize;
  if (short_form) {
    out[at++] = xlog::kBlockIdDataShort;
    out[at++] = static_cast<uint8_t>(data_length);
  } else {
    out[at++] = xlog::kBlockIdDataLong;
    store(out, at, static_cast<uint32_t>(data_length));
    at += 4;
  }
  std::copy(payload.begin(), payload.end(), out.begin() + static_cast<std::ptrdiff_t>(at));
  store(out, xlog::kRecordCrcOffset, xlog::compute_record_crc(out));
  return out;
}

Result<void> SegmentWindow::add(std::string name, std::vector<uint8_t> bytes) {
  if (bytes.size() < xlog::kLongPageHeaderSize ||
      (load<uint16_t>(bytes.data() + 2) & xlog::kPageLongHeader) == 0) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: no long page header at offset 0", name));
  }
  Segment segment{std::move(name), wal::Lsn(load<uint64_t>(bytes.data() + 8)), std::move(bytes)};
  segments_.push_back(std::move(segment));
  return {};
}

SegmentWindow::Segment* SegmentWindow::find(wal::Lsn lsn, size_t& offset) {
  for (Segment& segment : segments_) {
    if (lsn >= segment.start && lsn - segment.start < segment.bytes.size()) {
      offset = static_cast<size_t>(lsn - segment.start);
      return &segment;
    }
  }
  return nullptr;
}

Result<void> SegmentWindow::overwrite(wal::Lsn lsn, std::span<const uint8_t> original,
                                      std::span<const uint8_t> replacement) {
  if (original.size() != replacement.size()) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("record at {}: replacement of {} bytes for {}", lsn_text(lsn),
                                  replacement.size(), original.size()));
  }
  // Two passes: check every byte first, so that a mismatch leaves the segments unchanged.
  for (const bool write : {false, true}) {
    wal::Lsn pos = lsn;
    size_t done = 0;
    while (done < original.size()) {
      size_t offset = 0;
      Segment* segment = find(pos, offset);
      if (segment == nullptr) {
        return make_error(ErrorCode::kCorruption,
                          fmt::format("record at {}: byte at {} is in no segment held",
                                      lsn_text(lsn), lsn_text(pos)));
      }
      if (offset % page_size_ == 0) {  // a page header: skip it
        const bool long_header =
            (load<uint16_t>(segment->bytes.data() + offset + 2) & xlog::kPageLongHeader) != 0;
        pos += long_header ? xlog::kLongPageHeaderSize : xlog::kShortPageHeaderSize;
        continue;
      }
      const size_t page_left = page_size_ - offset % page_size_;
      const size_t n =
          std::min({page_left, original.size() - done, segment->bytes.size() - offset});
      uint8_t* held = segment->bytes.data() + offset;
      if (!write && std::memcmp(held, original.data() + done, n) != 0) {
        return make_error(ErrorCode::kCorruption,
                          fmt::format("record at {}: {} holds other bytes than the record",
                                      lsn_text(lsn), segment->name));
      }
      if (write) {
        std::memcpy(held, replacement.data() + done, n);
      }
      done += n;
      pos += n;
    }
  }
  return {};
}

std::vector<SegmentWindow::Segment> SegmentWindow::take_before(std::optional<wal::Lsn> lsn) {
  std::vector<Segment> taken;
  auto it = segments_.begin();
  while (it != segments_.end() && (!lsn || it->start + it->bytes.size() <= *lsn)) {
    ++it;
  }
  std::move(segments_.begin(), it, std::back_inserter(taken));
  segments_.erase(segments_.begin(), it);
  return taken;
}

}  // namespace pgm::walfilter
