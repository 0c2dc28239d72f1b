#include "pgm/xlog/wal_builder.h"

#include <algorithm>
#include <cstring>

#include "pgm/xlog/format.h"

namespace pgm::xlog::testing {
namespace {

template <typename T>
void put_le(std::vector<uint8_t>& out, T value) {
  uint8_t bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));
  out.insert(out.end(), bytes, bytes + sizeof(T));
}

}  // namespace

std::vector<uint8_t> encode_record(const RecordSpec& spec, wal::Lsn prev) {
  std::vector<uint8_t> out(kRecordHeaderSize, 0);
  for (const BlockSpec& b : spec.blocks) {
    out.push_back(b.id);
    auto fork_flags = static_cast<uint8_t>(b.fork | b.flags);
    if (b.image_info) {
      fork_flags |= kBlockHasImage;
    }
    if (!b.data.empty()) {
      fork_flags |= kBlockHasData;
    }
    if (b.same_rel) {
      fork_flags |= kBlockSameRel;
    }
    out.push_back(fork_flags);
    put_le<uint16_t>(out, static_cast<uint16_t>(b.data.size()));
    if (b.image_info) {
      put_le<uint16_t>(out, static_cast<uint16_t>(b.image.size()));
      put_le<uint16_t>(out, b.hole_offset);
      out.push_back(*b.image_info);
      const bool holed = (*b.image_info & kImageHasHole) != 0;
      const bool compressed = (*b.image_info & 0x1C) != 0;  // 15+ methods (tests use 15+ here)
      if (holed && compressed) {
        put_le<uint16_t>(out, b.hole_length);
      }
    }
    if (!b.same_rel) {
      put_le(out, b.rel.spc);
      put_le(out, b.rel.db);
      put_le(out, b.rel.rel);
    }
    put_le(out, b.block);
  }
  if (spec.origin) {
    out.push_back(kBlockIdOrigin);
    put_le(out, *spec.origin);
  }
  if (spec.toplevel_xid) {
    out.push_back(kBlockIdToplevelXid);
    put_le(out, *spec.toplevel_xid);
  }
  if (spec.main_data.size() > 255) {
    out.push_back(kBlockIdDataLong);
    put_le<uint32_t>(out, static_cast<uint32_t>(spec.main_data.size()));
  } else if (!spec.main_data.empty()) {
    out.push_back(kBlockIdDataShort);
    out.push_back(static_cast<uint8_t>(spec.main_data.size()));
  }
  for (const BlockSpec& b : spec.blocks) {
    out.insert(out.end(), b.image.begin(), b.image.end());
    out.insert(out.end(), b.data.begin(), b.data.end());
  }
  out.insert(out.end(), spec.main_data.begin(), spec.main_data.end());

  const auto total = static_cast<uint32_t>(out.size());
  std::memcpy(out.data(), &total, 4);
  std::memcpy(out.data() + 4, &spec.xid, 4);
  const uint64_t prev_value = prev.value();
  std::memcpy(out.data() + 8, &prev_value, 8);
  out[16] = spec.info;
  out[17] = spec.rmid;
  const uint32_t crc = compute_record_crc(out);
  std::memcpy(out.data() + kRecordCrcOffset, &crc, 4);
  return out;
}

WalBuilder::WalBuilder(int major, uint32_t segment_size, uint32_t page_size, uint64_t first_segment,
                       uint32_t timeline)
    : magic_(page_magic_for_major(major)),
      segment_size_(segment_size),
      page_size_(page_size),
      timeline_(timeline),
      start_(first_segment * segment_size) {}

void WalBuilder::page_header(uint16_t flags, uint32_t rem_len) {
  const wal::Lsn at = position();
  const bool long_header = at.value() % segment_size_ == 0;
  flags |= next_page_flags_;
  next_page_flags_ = 0;
  if (long_header) {
    flags |= kPageLongHeader;
  }
  put_le(data_, magic_);
  put_le(data_, flags);
  put_le(data_, timeline_);
  put_le(data_, at.value());
  put_le(data_, rem_len);
  put_le<uint32_t>(data_, 0);  // padding to 8
  if (long_header) {
    put_le<uint64_t>(data_, 7000000000000000001ull);
    put_le(data_, segment_size_);
    put_le(data_, page_size_);
  }
}

void WalBuilder::put(const std::vector<uint8_t>& record, size_t limit) {
  size_t i = 0;
  while (i < limit) {
    if (position().value() % page_size_ == 0) {
      if (i == 0) {
        page_header(0, 0);
      } else {
        page_header(kPageFirstIsContRecord, static_cast<uint32_t>(record.size() - i));
      }
    }
    const size_t room = page_size_ - position().value() % page_size_;
    const size_t n = std::min(limit - i, room);
    data_.insert(data_.end(), record.begin() + static_cast<std::ptrdiff_t>(i),
                 record.begin() + static_cast<std::ptrdiff_t>(i + n));
    i += n;
  }
}

void WalBuilder::align() {
  while (position().value() % kRecordAlignment != 0) {
    data_.push_back(0);
  }
}

wal::Lsn WalBuilder::append_raw(const std::vector<uint8_t>& bytes) {
  if (position().value() % page_size_ == 0) {
    page_header(0, 0);
  }
  last_ = position();
  put(bytes, bytes.size());
  align();
  return last_;
}

wal::Lsn WalBuilder::append(const RecordSpec& spec) {
  return append_raw(encode_record(spec, last_));
}

wal::Lsn WalBuilder::append_aborted(const RecordSpec& spec) {
  if (position().value() % page_size_ == 0) {
    page_header(0, 0);
  }
  const wal::Lsn at = position();
  const std::vector<uint8_t> bytes = encode_record(spec, last_);
  const size_t room = page_size_ - at.value() % page_size_;
  put(bytes, std::min(room, bytes.size() - 1));
  while (position().value() % page_size_ != 0) {
    data_.push_back(0);
  }
  next_page_flags_ = kPageFirstIsOverwriteContRecord;
  return at;  // last_ stays: the next record points back past the lost one
}

wal::Lsn WalBuilder::append_switch() {
  RecordSpec spec;
  spec.rmid = kRmXlog;
  spec.info = kXlogSwitch;
  spec.xid = 0;
  const wal::Lsn at = append(spec);
  while (position().value() % segment_size_ != 0) {
    data_.push_back(0);
  }
  return at;
}

std::vector<uint8_t> WalBuilder::bytes() const {
  std::vector<uint8_t> out = data_;
  while ((start_.value() + out.size()) % page_size_ != 0) {
    out.push_back(0);
  }
  return out;
}

std::vector<uint8_t> WalBuilder::bytes_to_segment_end() const {
  std::vector<uint8_t> out = data_;
  while ((start_.value() + out.size()) % segment_size_ != 0) {
    out.push_back(0);
  }
  return out;
}

}  // namespace pgm::xlog::testing
