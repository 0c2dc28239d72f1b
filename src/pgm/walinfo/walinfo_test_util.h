// Test helpers shared by the walinfo tests: records built with WalBuilder and decoded back.
// Not thread-safe.
#pragma once

#include <functional>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/xlog/decoder.h"
#include "pgm/xlog/wal_builder.h"

namespace pgm::walinfo::testing {

using xlog::testing::BlockSpec;
using xlog::testing::RecordSpec;
using xlog::testing::WalBuilder;

// A Heap INSERT (xl_heap_insert: offset 3, flags 0x08) into block `block` of 1663/5/16384.
inline RecordSpec heap_insert(uint32_t xid, uint32_t block = 0) {
  RecordSpec spec;
  spec.rmid = 10;
  spec.info = 0x00;
  spec.xid = xid;
  spec.main_data = {3, 0, 0x08};
  BlockSpec b;
  b.block = block;
  b.data = {1, 2, 3, 4};
  spec.blocks.push_back(b);
  return spec;
}

// Decodes `bytes` and calls `each` for every record (valid during the call only).
inline void for_each_record(const std::vector<uint8_t>& bytes,
                            const std::function<void(const xlog::Record&)>& each) {
  xlog::Decoder decoder;
  auto fed = decoder.feed(bytes, [&](const xlog::Record& r) -> Result<void> {
    each(r);
    return {};
  });
  ASSERT_TRUE(fed) << fed.error().message();
}

}  // namespace pgm::walinfo::testing
