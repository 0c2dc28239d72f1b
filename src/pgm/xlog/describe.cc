// What pg_waldump 15 prints after a record's type name, for the record types we describe.
#include <array>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "pgm/xlog/describe_internal.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/rmgr.h"
#include "pgm/xlog/rmgr_internal.h"

namespace pgm::xlog {

using namespace details;  // NOLINT(google-build-using-namespace): this file's own helpers

namespace {

// The infobits of heap delete, update and lock records, as pg_waldump spells them.
std::string infobits(uint8_t bits) {
  std::string out;
  if ((bits & 0x01) != 0) {
    out += "IS_MULTI ";
  }
  if ((bits & 0x02) != 0) {
    out += "LOCK_ONLY ";
  }
  if ((bits & 0x04) != 0) {
    out += "EXCL_LOCK ";
  }
  if ((bits & 0x08) != 0) {
    out += "KEYSHR_LOCK ";
  }
  if ((bits & 0x10) != 0) {
    out += "KEYS_UPDATED ";
  }
  return out;
}

std::optional<std::string> heap_details(uint8_t op, const Fields& f) {
  switch (op) {
    case 0x00: {  // insert: offnum u16, flags u8
      auto off = f.at<uint16_t>(0);
      auto flags = f.at<uint8_t>(2);
      if (!off || !flags) {
        return std::nullopt;
      }
      return fmt::format("off {} flags 0x{:02X}", *off, *flags);
    }
    case 0x10: {  // delete: xmax u32, offnum u16, infobits u8, flags u8
      auto off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      if (!off || !bits || !flags) {
        return std::nullopt;
      }
      return fmt::format("off {} flags 0x{:02X} {}", *off, *flags, infobits(*bits));
    }
    case 0x20:
    case 0x40: {  // update: old xmax u32, old off u16, infobits u8, flags u8, new xmax, new off
      auto old_xmax = f.at<uint32_t>(0);
      auto old_off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      auto new_xmax = f.at<uint32_t>(8);
      auto new_off = f.at<uint16_t>(12);
      if (!old_xmax || !old_off || !bits || !flags || !new_xmax || !new_off) {
        return std::nullopt;
      }
      return fmt::format("off {} xmax {} flags 0x{:02X} {}; new off {} xmax {}", *old_off,
                         *old_xmax, *flags, infobits(*bits), *new_off, *new_xmax);
    }
    case 0x50:
    case 0x70: {  // confirm, inplace: offnum u16
      auto off = f.at<uint16_t>(0);
      if (!off) {
        return std::nullopt;
      }
      return fmt::format("off {}", *off);
    }
    case 0x60: {  // lock: locking xid u32, offnum u16, infobits u8, flags u8
      auto xid = f.at<uint32_t>(0);
      auto off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      if (!xid || !off || !bits || !flags) {
        return std::nullopt;
      }
      return fmt::format("off {}: xid {}: flags 0x{:02X} {}", *off, *xid, *flags, infobits(*bits));
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string> heap2_details(uint8_t op, const Fields& f) {
  if (op == 0x40) {  // visible: cutoff xid u32, flags u8
    auto cutoff = f.at<uint32_t>(0);
    auto flags = f.at<uint8_t>(4);
    if (!cutoff || !flags) {
      return std::nullopt;
    }
    return fmt::format("cutoff xid {} flags 0x{:02X}", *cutoff, *flags);
  }
  if (op == 0x50) {  // multi insert: flags u8, ntuples u16
    auto flags = f.at<uint8_t>(0);
    auto count = f.at<uint16_t>(2);
    if (!flags || !count) {
      return std::nullopt;
    }
    return fmt::format("{} tuples flags 0x{:02X}", *count, *flags);
  }
  return std::nullopt;
}

std::optional<std::string> running_xacts(const Fields& f) {
  // xcnt i32, subxcnt i32, overflow bool (padded), next xid, oldest running, latest completed,
  // then the xids and subxids.
  auto xcnt = f.at<int32_t>(0);
  auto subxcnt = f.at<int32_t>(4);
  auto overflow = f.at<uint8_t>(8);
  auto next = f.at<uint32_t>(12);
  auto oldest = f.at<uint32_t>(16);
  auto latest = f.at<uint32_t>(20);
  if (!xcnt || !subxcnt || !overflow || !next || !oldest || !latest || *xcnt < 0 || *subxcnt < 0 ||
      24 + 4 * (uint64_t{static_cast<uint32_t>(*xcnt)} + *subxcnt) > f.size()) {
    return std::nullopt;
  }
  std::string out =
      fmt::format("nextXid {} latestCompletedXid {} oldestRunningXid {}", *next, *latest, *oldest);
  if (*xcnt > 0) {
    out += fmt::format("; {} xacts:", *xcnt);
    for (int32_t i = 0; i < *xcnt; ++i) {
      out += fmt::format(" {}", *f.at<uint32_t>(24 + 4 * static_cast<size_t>(i)));
    }
  }
  if (*overflow != 0) {
    out += "; subxid overflowed";
  }
  if (*subxcnt > 0) {
    out += fmt::format("; {} subxacts:", *subxcnt);
    for (int32_t i = 0; i < *subxcnt; ++i) {
      out += fmt::format(" {}", *f.at<uint32_t>(24 + 4 * static_cast<size_t>(*xcnt + i)));
    }
  }
  return out;
}

std::optional<std::string> checkpoint(const Fields& f, bool shutdown) {
  // CheckPoint: redo u64, tli u32, prev tli u32, fpw bool (padded), next xid u64 (epoch:xid),
  // next oid, next multi, next offset, oldest xid, its db, oldest multi, its db, time i64 (at
  // 64), oldest and newest commit timestamp xids, oldest active xid.
  auto redo = f.at<uint64_t>(0);
  auto tli = f.at<uint32_t>(8);
  auto prev_tli = f.at<uint32_t>(12);
  auto fpw = f.at<uint8_t>(16);
  auto next_xid = f.at<uint64_t>(24);
  auto oid = f.at<uint32_t>(32);
  auto multi = f.at<uint32_t>(36);
  auto offset = f.at<uint32_t>(40);
  auto oldest_xid = f.at<uint32_t>(44);
  auto oldest_xid_db = f.at<uint32_t>(48);
  auto oldest_multi = f.at<uint32_t>(52);
  auto oldest_multi_db = f.at<uint32_t>(56);
  auto oldest_ts = f.at<uint32_t>(72);
  auto newest_ts = f.at<uint32_t>(76);
  auto oldest_active = f.at<uint32_t>(80);
  if (!redo || !tli || !prev_tli || !fpw || !next_xid || !oid || !multi || !offset || !oldest_xid ||
      !oldest_xid_db || !oldest_multi || !oldest_multi_db || !oldest_ts || !newest_ts ||
      !oldest_active) {
    return std::nullopt;
  }
  return fmt::format(
      "redo {}; tli {}; prev tli {}; fpw {}; xid {}:{}; oid {}; multi {}; offset {}; oldest xid "
      "{} in DB {}; oldest multi {} in DB {}; oldest/newest commit timestamp xid: {}/{}; oldest "
      "running xid {}; {}",
      lsn_text(*redo), *tli, *prev_tli, *fpw != 0 ? "true" : "false", *next_xid >> 32,
      *next_xid & 0xFFFFFFFFu, *oid, *multi, *offset, *oldest_xid, *oldest_xid_db, *oldest_multi,
      *oldest_multi_db, *oldest_ts, *newest_ts, *oldest_active, shutdown ? "shutdown" : "online");
}

std::optional<std::string> parameter_change(const Fields& f) {
  auto connections = f.at<int32_t>(0);
  auto workers = f.at<int32_t>(4);
  auto senders = f.at<int32_t>(8);
  auto prepared = f.at<int32_t>(12);
  auto locks = f.at<int32_t>(16);
  auto level = f.at<int32_t>(20);
  auto hints = f.at<uint8_t>(24);
  auto commit_ts = f.at<uint8_t>(25);
  if (!connections || !workers || !senders || !prepared || !locks || !level || !hints ||
      !commit_ts || *level < 0 || *level > 2) {
    return std::nullopt;
  }
  static constexpr std::array<const char*, 3> kLevels = {"minimal", "replica", "logical"};
  return fmt::format(
      "max_connections={} max_worker_processes={} max_wal_senders={} max_prepared_xacts={} "
      "max_locks_per_xact={} wal_level={} wal_log_hints={} track_commit_timestamp={}",
      *connections, *workers, *senders, *prepared, *locks, kLevels[static_cast<size_t>(*level)],
      *hints != 0 ? "on" : "off", *commit_ts != 0 ? "on" : "off");
}

std::optional<std::string> xlog_details(uint8_t type, const Fields& f) {
  switch (type) {
    case 0x00:
    case 0x10:
      return checkpoint(f, type == 0x00);
    case 0x20:  // noop
    case 0x40:  // switch
    case 0xA0:  // fpi for hint
    case 0xB0:  // fpi
      return std::string();
    case 0x30: {  // nextoid
      auto oid = f.at<uint32_t>(0);
      if (!oid) {
        return std::nullopt;
      }
      return fmt::format("{}", *oid);
    }
    case 0x50: {  // backup end: start LSN
      auto start = f.at<uint64_t>(0);
      if (!start) {
        return std::nullopt;
      }
      return lsn_text(*start);
    }
    case 0x60:
      return parameter_change(f);
    default:
      return std::nullopt;
  }
}

std::optional<std::string> heap2_more(uint8_t op, const Fields& f) {
  switch (op) {
    case 0x10: {  // prune: latest removed xid u32, nredirected u16, ndead u16
      auto xid = f.at<uint32_t>(0);
      auto redirected = f.at<uint16_t>(4);
      auto dead = f.at<uint16_t>(6);
      if (!xid || !redirected || !dead) {
        return std::nullopt;
      }
      return fmt::format("latestRemovedXid {} nredirected {} ndead {}", *xid, *redirected, *dead);
    }
    case 0x20: {  // vacuum: nunused u16
      auto unused = f.at<uint16_t>(0);
      if (!unused) {
        return std::nullopt;
      }
      return fmt::format("nunused {}", *unused);
    }
    case 0x30: {  // freeze page: cutoff xid u32, ntuples u16
      auto cutoff = f.at<uint32_t>(0);
      auto count = f.at<uint16_t>(4);
      if (!cutoff || !count) {
        return std::nullopt;
      }
      return fmt::format("cutoff xid {} ntuples {}", *cutoff, *count);
    }
    case 0x60: {  // lock updated: xmax u32, offnum u16, infobits u8, flags u8
      auto xmax = f.at<uint32_t>(0);
      auto off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      if (!xmax || !off || !bits || !flags) {
        return std::nullopt;
      }
      return fmt::format("off {}: xmax {}: flags 0x{:02X} {}", *off, *xmax, *flags,
                         infobits(*bits));
    }
    case 0x70: {  // new cid: top xid, cmin, cmax, combocid, relation, tid (block hi/lo, off)
      auto cmin = f.at<uint32_t>(4);
      auto cmax = f.at<uint32_t>(8);
      auto combo = f.at<uint32_t>(12);
      auto rel = rel_at(f, 16);
      auto block_hi = f.at<uint16_t>(28);
      auto block_lo = f.at<uint16_t>(30);
      auto off = f.at<uint16_t>(32);
      if (!cmin || !cmax || !combo || !rel || !block_hi || !block_lo || !off) {
        return std::nullopt;
      }
      return fmt::format("rel {}/{}/{}; tid {}/{}; cmin: {}, cmax: {}, combo: {}", rel->spc,
                         rel->db, rel->rel, (uint32_t{*block_hi} << 16) | *block_lo, *off, *cmin,
                         *cmax, *combo);
    }
    default:
      return heap2_details(op, f);
  }
}

std::optional<std::string> heap_truncate(const Fields& f) {
  // db u32, nrelids u32, flags u8 (padded), relids
  auto db = f.at<uint32_t>(0);
  auto count = f.at<uint32_t>(4);
  auto flags = f.at<uint8_t>(8);
  if (!db || !count || !flags || 12 + uint64_t{*count} * 4 > f.size()) {
    return std::nullopt;
  }
  std::string out;
  if ((*flags & 0x01) != 0) {
    out += "cascade ";
  }
  if ((*flags & 0x02) != 0) {
    out += "restart_seqs ";
  }
  out += fmt::format("nrelids {} relids", *count);
  for (uint32_t i = 0; i < *count; ++i) {
    out += fmt::format(" {}", *f.at<uint32_t>(12 + 4 * size_t{i}));
  }
  return out;
}

std::optional<std::string> btree_details(uint8_t type, const Fields& f) {
  switch (type) {
    case 0x00:
    case 0x10:
    case 0x20:
    case 0x50: {  // inserts: offnum u16
      auto off = f.at<uint16_t>(0);
      if (!off) {
        return std::nullopt;
      }
      return fmt::format("off {}", *off);
    }
    case 0x30:
    case 0x40: {  // split: level u32, firstrightoff u16, newitemoff u16, postingoff u16
      auto level = f.at<uint32_t>(0);
      auto first_right = f.at<uint16_t>(4);
      auto new_item = f.at<uint16_t>(6);
      auto posting = f.at<uint16_t>(8);
      if (!level || !first_right || !new_item || !posting) {
        return std::nullopt;
      }
      return fmt::format("level {}, firstrightoff {}, newitemoff {}, postingoff {}", *level,
                         *first_right, *new_item, *posting);
    }
    case 0x60: {  // dedup: nintervals u16
      auto intervals = f.at<uint16_t>(0);
      if (!intervals) {
        return std::nullopt;
      }
      return fmt::format("nintervals {}", *intervals);
    }
    case 0x70: {  // delete: latest removed xid u32, ndeleted u16, nupdated u16
      auto xid = f.at<uint32_t>(0);
      auto deleted = f.at<uint16_t>(4);
      auto updated = f.at<uint16_t>(6);
      if (!xid || !deleted || !updated) {
        return std::nullopt;
      }
      return fmt::format("latestRemovedXid {}; ndeleted {}; nupdated {}", *xid, *deleted, *updated);
    }
    case 0xA0: {  // new root: root block u32, level u32
      auto level = f.at<uint32_t>(4);
      if (!level) {
        return std::nullopt;
      }
      return fmt::format("lev {}", *level);
    }
    case 0xC0: {  // vacuum: ndeleted u16, nupdated u16
      auto deleted = f.at<uint16_t>(0);
      auto updated = f.at<uint16_t>(2);
      if (!deleted || !updated) {
        return std::nullopt;
      }
      return fmt::format("ndeleted {}; nupdated {}", *deleted, *updated);
    }
    default:
      return std::nullopt;
  }
}

std::optional<std::string> standby_lock(const Fields& f) {
  auto count = f.at<int32_t>(0);
  if (!count || *count < 0 || 4 + uint64_t{static_cast<uint32_t>(*count)} * 12 > f.size()) {
    return std::nullopt;
  }
  std::string out;
  for (int32_t i = 0; i < *count; ++i) {
    const size_t at = 4 + 12 * static_cast<size_t>(i);
    out += fmt::format("xid {} db {} rel {} ", *f.at<uint32_t>(at), *f.at<uint32_t>(at + 4),
                       *f.at<uint32_t>(at + 8));
  }
  return out;
}

std::optional<std::string> database_details(uint8_t type, const Fields& f, int major) {
  if (major < 15) {
    return std::nullopt;  // 13 and 14 word these differently
  }
  if (type == 0x00) {  // create by copy: db, tablespace, source db, source tablespace
    auto db = f.at<uint32_t>(0);
    auto spc = f.at<uint32_t>(4);
    auto src_db = f.at<uint32_t>(8);
    auto src_spc = f.at<uint32_t>(12);
    if (!db || !spc || !src_db || !src_spc) {
      return std::nullopt;
    }
    return fmt::format("copy dir {}/{} to {}/{}", *src_spc, *src_db, *spc, *db);
  }
  if (type == 0x10) {  // create by WAL: db, tablespace
    auto db = f.at<uint32_t>(0);
    auto spc = f.at<uint32_t>(4);
    if (!db || !spc) {
      return std::nullopt;
    }
    return fmt::format("create dir {}/{}", *spc, *db);
  }
  if (type == 0x20) {  // drop: db, ntablespaces i32, tablespaces
    auto db = f.at<uint32_t>(0);
    auto count = f.at<int32_t>(4);
    if (!db || !count || *count < 0 || 8 + uint64_t{static_cast<uint32_t>(*count)} * 4 > f.size()) {
      return std::nullopt;
    }
    std::string out = "dir";
    for (int32_t i = 0; i < *count; ++i) {
      out += fmt::format(" {}/{}", *f.at<uint32_t>(8 + 4 * static_cast<size_t>(i)), *db);
    }
    return out;
  }
  return std::nullopt;
}

std::optional<std::string> logical_message(const Fields& f, std::span<const uint8_t> data) {
  // db u32, transactional bool (padded), prefix size u64, message size u64, prefix + NUL, message
  auto transactional = f.at<uint8_t>(4);
  auto prefix_size = f.at<uint64_t>(8);
  auto message_size = f.at<uint64_t>(16);
  if (!transactional || !prefix_size || !message_size || *prefix_size == 0 ||
      *prefix_size > data.size() || *message_size > data.size() ||
      24 + *prefix_size + *message_size > data.size()) {
    return std::nullopt;
  }
  const auto* prefix = reinterpret_cast<const char*>(data.data() + 24);
  std::string out = fmt::format("{}, prefix \"{}\"; payload ({} bytes): ",
                                *transactional != 0 ? "transactional" : "non-transactional",
                                std::string(prefix, strnlen(prefix, *prefix_size)), *message_size);
  for (uint64_t i = 0; i < *message_size; ++i) {
    out += fmt::format("{}{:02X}", i == 0 ? "" : " ", data[24 + *prefix_size + i]);
  }
  return out;
}

std::optional<std::string> small_rmgrs(uint8_t rmid, uint8_t type, const Fields& f) {
  switch (rmid) {
    case kRmRelMap: {  // update: db, tablespace, nbytes i32
      auto db = f.at<uint32_t>(0);
      auto spc = f.at<uint32_t>(4);
      auto bytes = f.at<int32_t>(8);
      if (type != 0x00 || !db || !spc || !bytes) {
        return std::nullopt;
      }
      return fmt::format("database {} tablespace {} size {}", *db, *spc, *bytes);
    }
    case kRmTablespace: {
      auto id = f.at<uint32_t>(0);
      if (!id) {
        return std::nullopt;
      }
      if (type == 0x10) {
        return fmt::format("{}", *id);
      }
      return std::nullopt;
    }
    case kRmReplicationOrigin: {
      if (type == 0x00) {  // set: remote LSN u64, node u16, force bool
        auto lsn = f.at<uint64_t>(0);
        auto node = f.at<uint16_t>(8);
        auto force = f.at<uint8_t>(10);
        if (!lsn || !node || !force) {
          return std::nullopt;
        }
        return fmt::format("set {}; lsn {}; force: {}", *node, lsn_text(*lsn), *force);
      }
      if (type == 0x10) {  // drop: node u16
        auto node = f.at<uint16_t>(0);
        if (!node) {
          return std::nullopt;
        }
        return fmt::format("drop {}", *node);
      }
      return std::nullopt;
    }
    case kRmHash:
      if (type == 0x20) {  // insert: offnum u16
        auto off = f.at<uint16_t>(0);
        if (!off) {
          return std::nullopt;
        }
        return fmt::format("off {}", *off);
      }
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

}  // namespace

namespace details {

std::optional<RelLocator> rel_at(const Fields& f, size_t offset) {
  auto spc = f.at<uint32_t>(offset);
  auto db = f.at<uint32_t>(offset + 4);
  auto rel = f.at<uint32_t>(offset + 8);
  if (!spc || !db || !rel) {
    return std::nullopt;
  }
  return RelLocator{*spc, *db, *rel};
}

// pg_waldump's paths of other tablespaces hold the catalog version, which WAL does not carry:
// those records get no path from us.
bool in_known_directory(const RelLocator& rel) { return rel.spc == 1663 || rel.spc == 1664; }

std::string lsn_text(uint64_t lsn) {
  return fmt::format("{:X}/{:X}", lsn >> 32, lsn & 0xFFFFFFFFu);
}

}  // namespace details

std::optional<std::string> describe_details(const Record& record, int major) {
  const Fields f(record.main_data);
  const uint8_t type = record.record_type();
  switch (record.rmid) {
    case kRmXlog:
      return xlog_details(type, f);
    case kRmStorage:
      if (type == 0x10) {  // create: relation, fork i32
        auto rel = rel_at(f, 0);
        auto fork = f.at<int32_t>(12);
        if (!rel || !fork || *fork < 0 || *fork > 3 || !in_known_directory(*rel)) {
          return std::nullopt;
        }
        return relation_path(*rel, static_cast<uint8_t>(*fork));
      }
      if (type == 0x20) {  // truncate: block u32, relation, flags i32
        auto blocks = f.at<uint32_t>(0);
        auto rel = rel_at(f, 4);
        auto flags = f.at<int32_t>(16);
        if (!blocks || !rel || !flags || !in_known_directory(*rel)) {
          return std::nullopt;
        }
        return fmt::format("{} to {} blocks flags {}", relation_path(*rel, 0), *blocks, *flags);
      }
      return std::nullopt;
    case kRmSequence:
      if (type == 0x00) {
        auto rel = rel_at(f, 0);
        if (!rel) {
          return std::nullopt;
        }
        return fmt::format("rel {}/{}/{}", rel->spc, rel->db, rel->rel);
      }
      return std::nullopt;
    case kRmTransaction: {
      const uint8_t op = type & 0x70;
      if (op == 0x00 || op == 0x30) {
        return xact_end(record, f, true, major);
      }
      if (op == 0x20 || op == 0x40) {
        return xact_end(record, f, false, major);
      }
      return std::nullopt;
    }
    case kRmStandby:
      if (type == 0x00) {
        return standby_lock(f);
      }
      if (type == 0x20) {
        return standby_invalidations(f);
      }
      return type == 0x10 ? running_xacts(f) : std::nullopt;
    case kRmHeap:
      if ((type & 0x70) == 0x30) {
        return heap_truncate(f);
      }
      return heap_details(type & 0x70, f);
    case kRmHeap2:
      return heap2_more(type & 0x70, f);
    case kRmBtree:
      return btree_details(type, f);
    case kRmDatabase:
      return database_details(type, f, major);
    case kRmLogicalMessage:
      return type == 0x00 ? logical_message(f, record.main_data) : std::nullopt;
    default:
      return small_rmgrs(record.rmid, type, f);
  }
}

}  // namespace pgm::xlog
