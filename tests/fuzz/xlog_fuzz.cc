// libFuzzer target: the WAL decoder (pgm::xlog).
//
// Input: one byte choosing the chunk size, then WAL bytes. The bytes are fed to a Decoder in
// chunks of that size (a record's spans and lengths must agree with each other; every record is
// named and described for the major the decoder read), then finish() gives its verdict. The
// same bytes also go to parse_record() for each major 13..18, as one record. Any verdict is
// fine; a crash, a sanitizer report, a leak or a hang is not.
//
// Corpus: tests/fuzz/corpus/xlog (the first pages of segments written by PostgreSQL 15's initdb
// with 1 MB segments: a segment start, a segment that begins inside a record, the end of WAL).
// Run longer: build/fuzz/xlog_fuzz build/fuzz/scratch/xlog tests/fuzz/corpus/xlog
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pgm/xlog/decoder.h"
#include "pgm/xlog/record.h"
#include "pgm/xlog/rmgr.h"

namespace {

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void check(const pgm::xlog::Record& record, int major) {
  require(record.bytes.size() == record.total_length);
  size_t payload = record.main_data.size();
  for (const pgm::xlog::BlockRef& block : record.blocks) {
    require(block.data.size() == block.data_length);
    require(block.image.size() == (block.has_image ? block.image_length : 0u));
    payload += block.data.size() + block.image.size();
  }
  require(payload <= record.bytes.size());
  require(!pgm::xlog::describe(record, major).empty());
  (void)pgm::xlog::rmgr_name(record.rmid);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const size_t chunk = 1 + static_cast<size_t>(data[0]) * 61;
  const std::span<const uint8_t> wal(data + 1, size - 1);

  pgm::xlog::Decoder decoder;
  uint64_t records = 0;
  auto sink = [&](const pgm::xlog::Record& record) -> pgm::Result<void> {
    check(record, decoder.major());
    require(record.lsn < record.end_lsn);
    ++records;
    return {};
  };
  for (size_t at = 0; at < wal.size(); at += chunk) {
    if (!decoder.feed(wal.subspan(at, std::min(chunk, wal.size() - at)), sink)) {
      break;
    }
  }
  decoder.finish().ignore_error();  // either verdict is fine
  require(records == decoder.records_decoded());

  for (int major = 13; major <= 18; ++major) {
    auto record = pgm::xlog::parse_record(wal, major);
    if (record) {
      check(*record, major);
    }
  }
  return 0;
}
