#include "pgm/xlog/decoder.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "pgm/wal/segment.h"
#include "pgm/xlog/format.h"

namespace pgm::xlog {
namespace {

template <typename T>
T load(const uint8_t* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return value;
}

uint64_t align_up(uint64_t value) {
  return (value + kRecordAlignment - 1) & ~(kRecordAlignment - 1);
}

bool is_power_of_two(uint32_t value) { return value != 0 && (value & (value - 1)) == 0; }

}  // namespace

void Decoder::set_file_name(std::string name) {
  file_name_ = std::move(name);
  named_segment_.reset();
  if (segment_size_ != 0) {
    named_segment_ = (page_lsn_.value() + page_fill_) / segment_size_;
  }
}

std::string Decoder::name_of(wal::Lsn at) const {
  if (segment_size_ == 0) {
    return file_name_.empty() ? std::string("WAL stream") : file_name_;
  }
  const uint64_t segment = at.value() / segment_size_;
  const uint64_t first = first_lsn_.value() / segment_size_;
  if (!file_name_.empty() && segment == named_segment_.value_or(first)) {
    return file_name_;
  }
  return wal::segment_name(timeline_, at, segment_size_);
}

std::string Decoder::location(wal::Lsn at) const {
  if (segment_size_ == 0) {
    return fmt::format("{}: offset 0x0", name_of(at));  // the first page header
  }
  return fmt::format("{}: offset 0x{:X} (lsn {})", name_of(at), at.value() % segment_size_,
                     at.to_string());
}

tl::unexpected<Error> Decoder::fail(wal::Lsn at, const std::string& what) {
  failed_ = Error(ErrorCode::kCorruption, fmt::format("{}: {}", location(at), what));
  return tl::unexpected<Error>(*failed_);
}

Result<void> Decoder::feed(std::span<const uint8_t> bytes, const RecordSink& sink) {
  if (failed_) {
    return tl::unexpected<Error>(*failed_);
  }
  while (!bytes.empty()) {
    if (ended_) {
      stream_offset_ += bytes.size();
      return {};
    }
    if (page_.empty()) {
      page_.resize(kLongPageHeaderSize);
    }
    const size_t n = std::min(bytes.size(), page_.size() - page_fill_);
    std::memcpy(page_.data() + page_fill_, bytes.data(), n);
    page_fill_ += n;
    stream_offset_ += n;
    bytes = bytes.subspan(n);
    if (page_fill_ < page_.size()) {
      continue;
    }
    if (page_size_ == 0) {
      PGM_TRY(read_first_header());
      page_.resize(page_size_);
      continue;
    }
    PGM_TRY(process_page(sink));
    page_fill_ = 0;
    page_lsn_ += page_size_;
  }
  return {};
}

Result<void> Decoder::read_first_header() {
  const uint8_t* p = page_.data();
  const auto magic = load<uint16_t>(p);
  const auto info = load<uint16_t>(p + 2);
  const auto tli = load<uint32_t>(p + 4);
  const auto address = load<uint64_t>(p + 8);
  const auto system_id = load<uint64_t>(p + 24);
  const auto segment_size = load<uint32_t>(p + 32);
  const auto page_size = load<uint32_t>(p + 36);
  major_ = major_for_page_magic(magic);
  if (major_ == 0) {
    return fail(wal::Lsn(),
                fmt::format("invalid magic number 0x{:04X} in the first page header", magic));
  }
  if ((info & kPageLongHeader) == 0) {
    return fail(wal::Lsn(), "the stream does not start at a segment (no long page header)");
  }
  if (!is_power_of_two(page_size) || page_size < 1024 || page_size > 65536) {
    return fail(wal::Lsn(),
                fmt::format("invalid WAL page size {} in the long page header", page_size));
  }
  if (!is_power_of_two(segment_size) || segment_size < (1u << 20) || segment_size > (1u << 30)) {
    return fail(wal::Lsn(),
                fmt::format("invalid WAL segment size {} in the long page header", segment_size));
  }
  if (tli == 0) {
    return fail(wal::Lsn(), "timeline 0 in the first page header");
  }
  if (address % segment_size != 0) {
    return fail(wal::Lsn(), fmt::format("first page address {} is not the start of a segment",
                                        wal::Lsn(address).to_string()));
  }
  magic_ = magic;
  page_size_ = page_size;
  segment_size_ = segment_size;
  system_id_ = system_id;
  timeline_ = wal::TimelineId(tli);
  page_lsn_ = wal::Lsn(address);
  first_lsn_ = page_lsn_;
  if (!file_name_.empty() && !named_segment_) {
    named_segment_ = address / segment_size;
  }
  return {};
}

Result<void> Decoder::check_page_header(size_t& header_size, uint16_t& info, uint32_t& rem_len) {
  const uint8_t* p = page_.data();
  const auto magic = load<uint16_t>(p);
  info = load<uint16_t>(p + 2);
  const auto tli = load<uint32_t>(p + 4);
  const auto address = load<uint64_t>(p + 8);
  rem_len = load<uint32_t>(p + 16);
  if (magic != magic_) {
    return fail(page_lsn_, fmt::format("invalid magic number 0x{:04X} in page header, expected "
                                       "0x{:04X}",
                                       magic, magic_));
  }
  if ((info & ~kPageAllFlags) != 0) {
    return fail(page_lsn_, fmt::format("invalid info bits 0x{:04X} in page header", info));
  }
  if (address != page_lsn_.value()) {
    return fail(page_lsn_, fmt::format("unexpected page address {} in page header",
                                       wal::Lsn(address).to_string()));
  }
  if (tli < timeline_.value()) {
    return fail(page_lsn_, fmt::format("out-of-sequence timeline {} (after {}) in page header", tli,
                                       timeline_.value()));
  }
  timeline_ = wal::TimelineId(tli);
  const bool segment_start = page_lsn_.value() % segment_size_ == 0;
  const bool long_header = (info & kPageLongHeader) != 0;
  if (segment_start != long_header) {
    return fail(page_lsn_, segment_start ? "no long page header at the start of a segment"
                                         : "long page header inside a segment");
  }
  if (long_header) {
    const auto system_id = load<uint64_t>(p + 24);
    const auto segment_size = load<uint32_t>(p + 32);
    const auto page_size = load<uint32_t>(p + 36);
    if (system_id != system_id_) {
      return fail(page_lsn_, fmt::format("system identifier {} in page header, expected {}",
                                         system_id, system_id_));
    }
    if (segment_size != segment_size_ || page_size != page_size_) {
      return fail(page_lsn_, fmt::format("segment size {} and page size {} in page header, "
                                         "expected {} and {}",
                                         segment_size, page_size, segment_size_, page_size_));
    }
  }
  header_size = long_header ? kLongPageHeaderSize : kShortPageHeaderSize;
  return {};
}

Result<void> Decoder::append_to_record(std::span<const uint8_t> bytes) {
  const size_t before = record_.size();
  record_.insert(record_.end(), bytes.begin(), bytes.end());
  if (before < kRecordHeaderSize && record_.size() >= kRecordHeaderSize) {
    const uint8_t rmid = record_[17];
    const bool custom = major_ >= 15 && rmid >= kRmMinCustom;
    if (rmid > kRmMaxBuiltin && !custom) {
      return fail(record_lsn_, fmt::format("invalid resource manager id {} in record at {}", rmid,
                                           record_lsn_.to_string()));
    }
    const wal::Lsn prev(load<uint64_t>(record_.data() + 8));
    if (prev_lsn_ && prev != *prev_lsn_) {
      return fail(record_lsn_,
                  fmt::format("record with incorrect prev-link {} at {}, expected {}",
                              prev.to_string(), record_lsn_.to_string(), prev_lsn_->to_string()));
    }
  }
  return {};
}

Result<void> Decoder::complete_record(wal::Lsn end, const RecordSink& sink) {
  if (!record_crc_ok(record_)) {
    return fail(record_lsn_, fmt::format("incorrect resource manager data checksum in record at {}",
                                         record_lsn_.to_string()));
  }
  auto parsed = parse_record(record_, major_);
  if (!parsed) {
    return fail(record_lsn_,
                fmt::format("record at {}: {}", record_lsn_.to_string(), parsed.error().message()));
  }
  Record& record = *parsed;
  record.lsn = record_lsn_;
  record.end_lsn = end;
  if (record.rmid == kRmXlog && record.record_type() == kXlogSwitch) {
    // The rest of the segment is padding: the record extends to the segment's end.
    const uint64_t into_segment = end.value() % segment_size_;
    record.end_lsn = into_segment == 0 ? end : end + (segment_size_ - into_segment);
    skip_to_segment_end_ = end.value() % segment_size_ != 0;
  }
  prev_lsn_ = record_lsn_;
  end_lsn_ = record.end_lsn;
  ++records_;
  record_length_ = 0;
  if (sink) {
    auto delivered = sink(record);
    if (!delivered) {
      failed_ = delivered.error();
      return tl::unexpected<Error>(*failed_);
    }
  }
  return {};
}

Result<void> Decoder::process_page(const RecordSink& sink) {
  if (skip_to_segment_end_) {
    // After XLOG_SWITCH: the rest of the segment is not read at all, as PostgreSQL does.
    if (page_lsn_.value() % segment_size_ != 0) {
      return {};
    }
    skip_to_segment_end_ = false;
  }
  size_t header_size = 0;
  uint16_t info = 0;
  uint32_t rem_len = 0;
  PGM_TRY(check_page_header(header_size, info, rem_len));
  const bool first_page = first_page_;
  first_page_ = false;
  const std::span<const uint8_t> page(page_);
  size_t pos = header_size;
  const bool continued = (info & kPageFirstIsContRecord) != 0;
  if ((info & kPageFirstIsOverwriteContRecord) != 0 &&
      (record_length_ != 0 || skip_continuation_ != 0)) {
    // The record in progress was never finished: PostgreSQL wrote over its continuation.
    record_length_ = 0;
    record_.clear();
    skip_continuation_ = 0;
  } else if (record_length_ != 0) {
    const uint32_t missing = record_length_ - static_cast<uint32_t>(record_.size());
    if (!continued) {
      return fail(page_lsn_, fmt::format("there is no contrecord flag in the page header, record "
                                         "at {} misses {} bytes",
                                         record_lsn_.to_string(), missing));
    }
    if (rem_len != missing) {
      return fail(page_lsn_, fmt::format("invalid contrecord length {} in page header, expected "
                                         "{} for the record at {}",
                                         rem_len, missing, record_lsn_.to_string()));
    }
    PGM_ASSIGN_OR_RETURN(
        const bool more,
        take_record_bytes(page, pos, std::min<size_t>(missing, page_size_ - pos), sink));
    if (!more) {
      return {};
    }
  } else if (skip_continuation_ != 0 || (first_page && continued)) {
    // A record begun before the stream's first byte: skip its remaining bytes.
    if (!continued || (skip_continuation_ != 0 && rem_len != skip_continuation_)) {
      return fail(page_lsn_, fmt::format("invalid contrecord length {} in page header, expected {}",
                                         rem_len, skip_continuation_));
    }
    skip_continuation_ = rem_len;
    const size_t n = std::min<size_t>(skip_continuation_, page_size_ - pos);
    pos += n;
    skip_continuation_ -= static_cast<uint32_t>(n);
    if (skip_continuation_ != 0) {
      return {};
    }
    pos = align_up(pos);
  } else if (continued) {
    return fail(page_lsn_, "contrecord flag in page header, but no record continues");
  }

  while (pos < page_size_) {
    const wal::Lsn at = page_lsn_ + pos;
    const auto length = load<uint32_t>(page.data() + pos);
    if (length == 0) {
      ended_ = true;  // zeros where a record should start: the end of the WAL
      return {};
    }
    if (length < kRecordHeaderSize || length > kMaxRecordLength) {
      return fail(at, fmt::format("invalid record length at {}: wanted at least {}, got {}",
                                  at.to_string(), kRecordHeaderSize, length));
    }
    record_lsn_ = at;
    record_length_ = length;
    record_.clear();
    record_.reserve(std::min<uint32_t>(length, 1u << 16));
    PGM_ASSIGN_OR_RETURN(
        const bool more,
        take_record_bytes(page, pos, std::min<size_t>(length, page_size_ - pos), sink));
    if (!more) {
      return {};
    }
  }
  return {};
}

Result<bool> Decoder::take_record_bytes(std::span<const uint8_t> page, size_t& pos, size_t n,
                                        const RecordSink& sink) {
  PGM_TRY(append_to_record(page.subspan(pos, n)));
  pos += n;
  if (record_.size() < record_length_) {
    return false;  // continues on the next page
  }
  PGM_TRY(complete_record(page_lsn_ + pos, sink));
  if (skip_to_segment_end_) {
    return false;
  }
  pos = align_up(pos);
  return true;
}

Result<void> Decoder::finish() const {
  if (failed_) {
    return tl::unexpected<Error>(*failed_);
  }
  if (ended_) {
    return {};
  }
  if (page_size_ == 0) {
    return make_error(
        ErrorCode::kCorruption,
        fmt::format("{}: the input ends inside the first page header", location(wal::Lsn())));
  }
  if (page_fill_ != 0 && !skip_to_segment_end_) {
    return make_error(ErrorCode::kCorruption, fmt::format("{}: the input ends inside a page",
                                                          location(page_lsn_ + page_fill_)));
  }
  if (record_length_ != 0) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: the input ends inside the record at {} ({} of {} bytes)",
                                  location(page_lsn_ + page_fill_), record_lsn_.to_string(),
                                  record_.size(), record_length_));
  }
  return {};
}

}  // namespace pgm::xlog
