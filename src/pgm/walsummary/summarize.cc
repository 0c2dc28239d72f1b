#include "pgm/walsummary/summarize.h"

#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "pgm/xlog/rmgr.h"

namespace pgm::walsummary {
namespace {

// Resource managers, record types and flags from PostgreSQL's public headers (rmgrlist.h,
// xlogrecord.h, storage_xlog.h, dbcommands_xlog.h, xact.h).
constexpr uint8_t kRmXact = 1;
constexpr uint8_t kRmSmgr = 2;
constexpr uint8_t kRmDbase = 4;
constexpr uint8_t kLastBuiltinRmgr = 21;     // LogicalMessage (RM_MAX_BUILTIN_ID)
constexpr uint8_t kSpecialRelUpdate = 0x01;  // XLR_SPECIAL_REL_UPDATE

constexpr uint8_t kSmgrCreate = 0x10;
constexpr uint8_t kSmgrTruncate = 0x20;
constexpr uint32_t kTruncateHeap = 0x1;
constexpr uint32_t kTruncateVm = 0x2;

constexpr uint8_t kForkMain = 0;
constexpr uint8_t kForkFsm = 1;
constexpr uint8_t kForkVm = 2;
constexpr uint8_t kMaxFork = 3;

constexpr uint8_t kXactOpMask = 0x70;
constexpr uint8_t kXactCommit = 0x00;
constexpr uint8_t kXactAbort = 0x20;
constexpr uint8_t kXactCommitPrepared = 0x30;
constexpr uint8_t kXactAbortPrepared = 0x40;
constexpr uint8_t kXactHasInfo = 0x80;
constexpr uint32_t kXinfoDbInfo = 0x01;
constexpr uint32_t kXinfoSubxacts = 0x02;
constexpr uint32_t kXinfoRelfilenodes = 0x04;

// 8 kB pages: (8192 - 24 header bytes) * 4 heap blocks a VM byte... as visibilitymap.c
// computes it (MAPSIZE * HEAPBLOCKS_PER_BYTE).
constexpr uint32_t kHeapBlocksPerVmPage = (8192 - 24) * 4;

// Little-endian fields of a record's main data, as PostgreSQL writes them on x86.
class Fields {
 public:
  explicit Fields(std::span<const uint8_t> data) : data_(data) {}
  std::optional<uint32_t> u32(size_t offset) const {
    if (offset + 4 > data_.size()) {
      return std::nullopt;
    }
    uint32_t v = 0;
    std::memcpy(&v, data_.data() + offset, 4);
    return v;
  }
  size_t size() const { return data_.size(); }

 private:
  std::span<const uint8_t> data_;
};

tl::unexpected<Error> too_short(const xlog::Record& record, int major) {
  return make_error(ErrorCode::kCorruption,
                    fmt::format("{} {} record at {}: main data too short ({} bytes)",
                                xlog::rmgr_name(record.rmid),
                                xlog::record_type_name(record.rmid, record.info, major),
                                record.lsn.to_string(), record.main_data.size()));
}

Result<void> smgr(const xlog::Record& record, int major, BlockRefTable& table, const Rules& rules) {
  const Fields f(record.main_data);
  const uint8_t type = record.info & 0xF0;
  if (type == kSmgrCreate) {  // rlocator (12), fork (4)
    auto spc = f.u32(0), db = f.u32(4), rel = f.u32(8), fork = f.u32(12);
    if (!fork) {
      return too_short(record, major);
    }
    if (*fork != kForkFsm && *fork <= kMaxFork) {
      table.set_limit({*spc, *db, *rel, static_cast<uint8_t>(*fork)}, 0);
    }
  } else if (type == kSmgrTruncate) {  // blkno (4), rlocator (12), flags (4)
    auto blkno = f.u32(0), spc = f.u32(4), db = f.u32(8), rel = f.u32(12), flags = f.u32(16);
    if (!flags) {
      return too_short(record, major);
    }
    if ((*flags & kTruncateHeap) != 0) {
      table.set_limit({*spc, *db, *rel, kForkMain}, *blkno);
    }
    if ((*flags & kTruncateVm) != 0) {
      const ForkKey vm{*spc, *db, *rel, kForkVm};
      table.set_limit(vm, vm_truncation_length(*blkno));
      if (rules.vm_cut_page && *blkno % kHeapBlocksPerVmPage != 0) {
        table.mark_changed(vm, *blkno / kHeapBlocksPerVmPage);
      }
    }
  }
  return {};
}

Result<void> dbase(const xlog::Record& record, int major, BlockRefTable& table) {
  const Fields f(record.main_data);
  const uint8_t type = record.info & 0xF0;
  // 13 and 14: CREATE 0x00, DROP 0x10. 15 and later: CREATE_FILE_COPY 0x00, CREATE_WAL_LOG
  // 0x10, DROP 0x20. Each CREATE starts with db_id, tablespace_id; DROP is db_id,
  // ntablespaces, tablespace_ids[].
  const bool drop = major >= 15 ? type == 0x20 : type == 0x10;
  const bool create = major >= 15 ? (type == 0x00 || type == 0x10) : type == 0x00;
  if (create) {
    auto db = f.u32(0), spc = f.u32(4);
    if (!spc) {
      return too_short(record, major);
    }
    table.set_limit({*spc, *db, 0, kForkMain}, 0);
  } else if (drop) {
    auto db = f.u32(0), count = f.u32(4);
    if (!count || f.size() < 8 + 4 * static_cast<size_t>(*count)) {
      return too_short(record, major);
    }
    for (uint32_t i = 0; i < *count; ++i) {
      table.set_limit({*f.u32(8 + 4 * static_cast<size_t>(i)), *db, 0, kForkMain}, 0);
    }
  }
  return {};
}

Result<void> xact(const xlog::Record& record, int major, BlockRefTable& table) {
  const uint8_t op = record.info & kXactOpMask;
  if (op != kXactCommit && op != kXactAbort && op != kXactCommitPrepared &&
      op != kXactAbortPrepared) {
    return {};
  }
  if ((record.info & kXactHasInfo) == 0) {
    return {};  // no xinfo: no dropped relations
  }
  // xact_time (8), xinfo (4), then in this order when flagged: dbinfo (8), subxacts
  // (count + 4 each), relations (count + 12 each); what follows differs by version and is
  // not needed here.
  const Fields f(record.main_data);
  auto xinfo = f.u32(8);
  if (!xinfo) {
    return too_short(record, major);
  }
  size_t at = 12;
  if ((*xinfo & kXinfoDbInfo) != 0) {
    at += 8;
  }
  if ((*xinfo & kXinfoSubxacts) != 0) {
    auto count = f.u32(at);
    if (!count) {
      return too_short(record, major);
    }
    at += 4 + 4 * static_cast<size_t>(*count);
  }
  if ((*xinfo & kXinfoRelfilenodes) == 0) {
    return {};
  }
  auto count = f.u32(at);
  if (!count || f.size() < at + 4 + 12 * static_cast<size_t>(*count)) {
    return too_short(record, major);
  }
  at += 4;
  for (uint32_t i = 0; i < *count; ++i, at += 12) {
    const uint32_t spc = *f.u32(at), db = *f.u32(at + 4), rel = *f.u32(at + 8);
    for (uint8_t fork = 0; fork <= kMaxFork; ++fork) {
      if (fork != kForkFsm) {
        table.set_limit({spc, db, rel, fork}, 0);
      }
    }
  }
  return {};
}

}  // namespace

uint32_t vm_truncation_length(uint32_t heap_blocks) {
  return heap_blocks / kHeapBlocksPerVmPage + (heap_blocks % kHeapBlocksPerVmPage != 0 ? 1 : 0);
}

Result<void> summarize_record(const xlog::Record& record, int major, BlockRefTable& table,
                              const Rules& rules) {
  for (const xlog::BlockRef& block : record.blocks) {
    if (block.fork != kForkFsm) {
      table.mark_changed({block.rel.spc, block.rel.db, block.rel.rel, block.fork}, block.block);
    }
  }
  switch (record.rmid) {
    case kRmSmgr:
      return smgr(record, major, table, rules);
    case kRmDbase:
      return dbase(record, major, table);
    case kRmXact:
      return xact(record, major, table);
    default:
      break;
  }
  // Built-in records with the flag are Storage's and Database's (above) and RelMap's (the map
  // file is copied whole by every backup); anything else with it is a resource manager we do
  // not know (a custom one, 15+).
  if (record.rmid > kLastBuiltinRmgr && (record.info & kSpecialRelUpdate) != 0) {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("{} record at {} changes relation files in a way a WAL summary "
                                  "cannot follow",
                                  xlog::rmgr_name(record.rmid), record.lsn.to_string()));
  }
  return {};
}

}  // namespace pgm::walsummary
