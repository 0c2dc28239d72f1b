#include "pgm/xlog/rmgr.h"

#include <array>
#include <cstring>
#include <optional>
#include <string_view>

#include <fmt/format.h>

#include "pgm/xlog/format.h"

namespace pgm::xlog {
namespace {

constexpr std::array<const char*, kRmMaxBuiltin + 1> kRmgrNames = {
    "XLOG",       "Transaction",    "Storage", "CLOG",     "Database",
    "Tablespace", "MultiXact",      "RelMap",  "Standby",  "Heap2",
    "Heap",       "Btree",          "Hash",    "Gin",      "Gist",
    "Sequence",   "SPGist",         "BRIN",    "CommitTs", "ReplicationOrigin",
    "Generic",    "LogicalMessage",
};

// A record type: its value in the rmgr's part of xl_info, and its name.
struct TypeName {
  uint8_t value;
  const char* name;
};

const char* find_name(std::initializer_list<TypeName> names, uint8_t value) {
  for (const TypeName& entry : names) {
    if (entry.value == value) {
      return entry.name;
    }
  }
  return nullptr;
}

const char* xlog_type(uint8_t type, int major) {
  if (type == 0xE0 && major >= 17) {
    return "CHECKPOINT_REDO";
  }
  return find_name({{0x00, "CHECKPOINT_SHUTDOWN"},
                    {0x10, "CHECKPOINT_ONLINE"},
                    {0x20, "NOOP"},
                    {0x30, "NEXTOID"},
                    {0x40, "SWITCH"},
                    {0x50, "BACKUP_END"},
                    {0x60, "PARAMETER_CHANGE"},
                    {0x70, "RESTORE_POINT"},
                    {0x80, "FPW_CHANGE"},
                    {0x90, "END_OF_RECOVERY"},
                    {0xA0, "FPI_FOR_HINT"},
                    {0xB0, "FPI"},
                    {0xD0, "OVERWRITE_CONTRECORD"}},
                   type);
}

const char* xact_type(uint8_t type, int major) {
  const uint8_t op = type & 0x70;  // XLOG_XACT_OPMASK; 0x80 says an xinfo field follows
  if (op == 0x60 && major < 14) {
    return nullptr;
  }
  return find_name({{0x00, "COMMIT"},
                    {0x10, "PREPARE"},
                    {0x20, "ABORT"},
                    {0x30, "COMMIT_PREPARED"},
                    {0x40, "ABORT_PREPARED"},
                    {0x50, "ASSIGNMENT"},
                    {0x60, "INVALIDATION"}},
                   op);
}

const char* database_type(uint8_t type, int major) {
  if (major >= 15) {
    return find_name({{0x00, "CREATE_FILE_COPY"}, {0x10, "CREATE_WAL_LOG"}, {0x20, "DROP"}}, type);
  }
  return find_name({{0x00, "CREATE"}, {0x10, "DROP"}}, type);
}

const char* heap2_type(uint8_t type, int major) {
  const uint8_t op = type & 0x70;
  if (op == 0x00) {
    return "REWRITE";
  }
  if (op == 0x40) {
    return "VISIBLE";
  }
  if (op == 0x50) {
    return (type & 0x80) != 0 ? "MULTI_INSERT+INIT" : "MULTI_INSERT";
  }
  if (op == 0x60) {
    return "LOCK_UPDATED";
  }
  if (op == 0x70) {
    return "NEW_CID";
  }
  if (major >= 17) {
    return find_name(
        {{0x10, "PRUNE_ON_ACCESS"}, {0x20, "PRUNE_VACUUM_SCAN"}, {0x30, "PRUNE_VACUUM_CLEANUP"}},
        op);
  }
  if (major >= 14) {
    return find_name({{0x10, "PRUNE"}, {0x20, "VACUUM"}, {0x30, "FREEZE_PAGE"}}, op);
  }
  return find_name({{0x10, "CLEAN"}, {0x20, "FREEZE_PAGE"}, {0x30, "CLEANUP_INFO"}}, op);
}

const char* heap_type(uint8_t type) {
  static constexpr std::array<const char*, 8> kNames = {
      "INSERT", "DELETE", "UPDATE", "TRUNCATE", "HOT_UPDATE", "CONFIRM", "LOCK", "INPLACE"};
  static constexpr std::array<const char*, 8> kInitNames = {
      "INSERT+INIT",     "DELETE+INIT",  "UPDATE+INIT", "TRUNCATE+INIT",
      "HOT_UPDATE+INIT", "CONFIRM+INIT", "LOCK+INIT",   "INPLACE+INIT"};
  const size_t op = (type & 0x70) >> 4;
  return (type & 0x80) != 0 ? kInitNames[op] : kNames[op];
}

const char* btree_type(uint8_t type) {
  return find_name({{0x00, "INSERT_LEAF"},
                    {0x10, "INSERT_UPPER"},
                    {0x20, "INSERT_META"},
                    {0x30, "SPLIT_L"},
                    {0x40, "SPLIT_R"},
                    {0x50, "INSERT_POST"},
                    {0x60, "DEDUP"},
                    {0x70, "DELETE"},
                    {0x80, "UNLINK_PAGE"},
                    {0x90, "UNLINK_PAGE_META"},
                    {0xA0, "NEWROOT"},
                    {0xB0, "MARK_PAGE_HALFDEAD"},
                    {0xC0, "VACUUM"},
                    {0xD0, "REUSE_PAGE"},
                    {0xE0, "META_CLEANUP"}},
                   type);
}

const char* hash_type(uint8_t type) {
  return find_name({{0x00, "INIT_META_PAGE"},
                    {0x10, "INIT_BITMAP_PAGE"},
                    {0x20, "INSERT"},
                    {0x30, "ADD_OVFL_PAGE"},
                    {0x40, "SPLIT_ALLOCATE_PAGE"},
                    {0x50, "SPLIT_PAGE"},
                    {0x60, "SPLIT_COMPLETE"},
                    {0x70, "MOVE_PAGE_CONTENTS"},
                    {0x80, "SQUEEZE_PAGE"},
                    {0x90, "DELETE"},
                    {0xA0, "SPLIT_CLEANUP"},
                    {0xB0, "UPDATE_META_PAGE"},
                    {0xC0, "VACUUM_ONE_PAGE"}},
                   type);
}

const char* gin_type(uint8_t type) {
  return find_name({{0x10, "CREATE_PTREE"},
                    {0x20, "INSERT"},
                    {0x30, "SPLIT"},
                    {0x40, "VACUUM_PAGE"},
                    {0x50, "DELETE_PAGE"},
                    {0x60, "UPDATE_META_PAGE"},
                    {0x70, "INSERT_LISTPAGE"},
                    {0x80, "DELETE_LISTPAGE"},
                    {0x90, "VACUUM_DATA_LEAF_PAGE"}},
                   type);
}

const char* gist_type(uint8_t type) {
  return find_name({{0x00, "PAGE_UPDATE"},
                    {0x10, "DELETE"},
                    {0x20, "PAGE_REUSE"},
                    {0x30, "PAGE_SPLIT"},
                    {0x60, "PAGE_DELETE"},
                    {0x70, "ASSIGN_LSN"}},
                   type);
}

const char* spgist_type(uint8_t type) {
  return find_name({{0x10, "ADD_LEAF"},
                    {0x20, "MOVE_LEAFS"},
                    {0x30, "ADD_NODE"},
                    {0x40, "SPLIT_TUPLE"},
                    {0x50, "PICKSPLIT"},
                    {0x60, "VACUUM_LEAF"},
                    {0x70, "VACUUM_ROOT"},
                    {0x80, "VACUUM_REDIRECT"}},
                   type);
}

const char* brin_type(uint8_t type) {
  const uint8_t op = type & 0x70;
  const bool init = (type & 0x80) != 0;
  switch (op) {
    case 0x00:
      return init ? "CREATE_INDEX+INIT" : "CREATE_INDEX";
    case 0x10:
      return init ? "INSERT+INIT" : "INSERT";
    case 0x20:
      return init ? "UPDATE+INIT" : "UPDATE";
    case 0x30:
      return init ? "SAMEPAGE_UPDATE+INIT" : "SAMEPAGE_UPDATE";
    case 0x40:
      return init ? "REVMAP_EXTEND+INIT" : "REVMAP_EXTEND";
    case 0x50:
      return init ? "DESUMMARIZE+INIT" : "DESUMMARIZE";
    default:
      return nullptr;
  }
}

const char* type_name(uint8_t rmid, uint8_t type, int major) {
  switch (rmid) {
    case kRmXlog:
      return xlog_type(type, major);
    case kRmTransaction:
      return xact_type(type, major);
    case kRmStorage:
      return find_name({{0x10, "CREATE"}, {0x20, "TRUNCATE"}}, type);
    case kRmClog:
    case kRmCommitTs:
      return find_name({{0x00, "ZEROPAGE"}, {0x10, "TRUNCATE"}}, type);
    case kRmDatabase:
      return database_type(type, major);
    case kRmTablespace:
      return find_name({{0x00, "CREATE"}, {0x10, "DROP"}}, type);
    case kRmMultiXact:
      return find_name({{0x00, "ZERO_OFF_PAGE"},
                        {0x10, "ZERO_MEM_PAGE"},
                        {0x20, "CREATE_ID"},
                        {0x30, "TRUNCATE_ID"}},
                       type);
    case kRmRelMap:
      return find_name({{0x00, "UPDATE"}}, type);
    case kRmStandby:
      return find_name({{0x00, "LOCK"}, {0x10, "RUNNING_XACTS"}, {0x20, "INVALIDATIONS"}}, type);
    case kRmHeap2:
      return heap2_type(type, major);
    case kRmHeap:
      return heap_type(type);
    case kRmBtree:
      return btree_type(type);
    case kRmHash:
      return hash_type(type);
    case kRmGin:
      return gin_type(type);
    case kRmGist:
      return gist_type(type);
    case kRmSequence:
      return find_name({{0x00, "LOG"}}, type);
    case kRmSpGist:
      return spgist_type(type);
    case kRmBrin:
      return brin_type(type);
    case kRmReplicationOrigin:
      return find_name({{0x00, "SET"}, {0x10, "DROP"}}, type);
    case kRmGeneric:
      return "Generic";
    case kRmLogicalMessage:
      return find_name({{0x00, "MESSAGE"}}, type);
    default:
      return nullptr;
  }
}

// Little-endian fields of the main data, read only when present.
class Fields {
 public:
  explicit Fields(std::span<const uint8_t> data) : data_(data) {}
  template <typename T>
  std::optional<T> at(size_t offset) const {
    if (offset + sizeof(T) > data_.size()) {
      return std::nullopt;
    }
    T value;
    std::memcpy(&value, data_.data() + offset, sizeof(T));
    return value;
  }
  size_t size() const { return data_.size(); }

 private:
  std::span<const uint8_t> data_;
};

// The infobits of heap delete, update and lock records, as pg_waldump spells them.
std::string infobits(uint8_t bits) {
  std::string out;
  if ((bits & 0x01) != 0) out += "IS_MULTI ";
  if ((bits & 0x02) != 0) out += "LOCK_ONLY ";
  if ((bits & 0x04) != 0) out += "EXCL_LOCK ";
  if ((bits & 0x08) != 0) out += "KEYSHR_LOCK ";
  if ((bits & 0x10) != 0) out += "KEYS_UPDATED ";
  return out;
}

std::optional<std::string> heap_details(uint8_t op, const Fields& f) {
  switch (op) {
    case 0x00: {  // insert: offnum u16, flags u8
      auto off = f.at<uint16_t>(0);
      auto flags = f.at<uint8_t>(2);
      if (!off || !flags) return std::nullopt;
      return fmt::format("off {} flags 0x{:02X}", *off, *flags);
    }
    case 0x10: {  // delete: xmax u32, offnum u16, infobits u8, flags u8
      auto off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      if (!off || !bits || !flags) return std::nullopt;
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
      if (!old_xmax || !old_off || !bits || !flags || !new_xmax || !new_off) return std::nullopt;
      return fmt::format("off {} xmax {} flags 0x{:02X} {}; new off {} xmax {}", *old_off,
                         *old_xmax, *flags, infobits(*bits), *new_off, *new_xmax);
    }
    case 0x50:
    case 0x70: {  // confirm, inplace: offnum u16
      auto off = f.at<uint16_t>(0);
      if (!off) return std::nullopt;
      return fmt::format("off {}", *off);
    }
    case 0x60: {  // lock: locking xid u32, offnum u16, infobits u8, flags u8
      auto xid = f.at<uint32_t>(0);
      auto off = f.at<uint16_t>(4);
      auto bits = f.at<uint8_t>(6);
      auto flags = f.at<uint8_t>(7);
      if (!xid || !off || !bits || !flags) return std::nullopt;
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
    if (!cutoff || !flags) return std::nullopt;
    return fmt::format("cutoff xid {} flags 0x{:02X}", *cutoff, *flags);
  }
  if (op == 0x50) {  // multi insert: flags u8, ntuples u16
    auto flags = f.at<uint8_t>(0);
    auto count = f.at<uint16_t>(2);
    if (!flags || !count) return std::nullopt;
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

std::optional<RelLocator> rel_at(const Fields& f, size_t offset) {
  auto spc = f.at<uint32_t>(offset);
  auto db = f.at<uint32_t>(offset + 4);
  auto rel = f.at<uint32_t>(offset + 8);
  if (!spc || !db || !rel) return std::nullopt;
  return RelLocator{*spc, *db, *rel};
}

// pg_waldump's paths of other tablespaces hold the catalog version, which WAL does not carry:
// those records get no path from us.
bool in_known_directory(const RelLocator& rel) { return rel.spc == 1663 || rel.spc == 1664; }

std::optional<std::string> details(const Record& record, int major) {
  const Fields f(record.main_data);
  const uint8_t type = record.record_type();
  switch (record.rmid) {
    case kRmXlog:
      if (type == 0x30) {  // nextoid
        auto oid = f.at<uint32_t>(0);
        return oid ? std::optional<std::string>(fmt::format("{}", *oid)) : std::nullopt;
      }
      if (type == 0x20 || type == 0x40 || type == 0xA0 || type == 0xB0) {
        return std::string();
      }
      return std::nullopt;
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
        if (!blocks || !rel || !flags || !in_known_directory(*rel)) return std::nullopt;
        return fmt::format("{} to {} blocks flags {}", relation_path(*rel, 0), *blocks, *flags);
      }
      return std::nullopt;
    case kRmSequence:
      if (type == 0x00) {
        auto rel = rel_at(f, 0);
        if (!rel) return std::nullopt;
        return fmt::format("rel {}/{}/{}", rel->spc, rel->db, rel->rel);
      }
      return std::nullopt;
    case kRmStandby:
      return type == 0x10 ? running_xacts(f) : std::nullopt;
    case kRmHeap:
      return heap_details(type & 0x70, f);
    case kRmHeap2:
      return heap2_details(type & 0x70, f);
    case kRmBtree:
      if (type <= 0x20) {  // inserts: offnum u16
        auto off = f.at<uint16_t>(0);
        return off ? std::optional<std::string>(fmt::format("off {}", *off)) : std::nullopt;
      }
      return std::nullopt;
    default:
      (void)major;
      return std::nullopt;
  }
}

}  // namespace

std::string rmgr_name(uint8_t rmid) {
  if (rmid <= kRmMaxBuiltin) {
    return kRmgrNames[rmid];
  }
  if (rmid >= kRmMinCustom) {
    return fmt::format("custom{:03}", rmid);
  }
  return "";
}

std::string record_type_name(uint8_t rmid, uint8_t info, int major) {
  const char* name = type_name(rmid, static_cast<uint8_t>(info & ~kInfoMask), major);
  return name != nullptr ? name : "UNKNOWN";
}

std::string describe(const Record& record, int major) {
  std::string out = record_type_name(record.rmid, record.info, major);
  if (auto more = details(record, major)) {
    if (!more->empty()) {
      out += ' ';
      out += *more;
    }
  }
  return out;
}

const char* fork_name(uint8_t fork) {
  static constexpr std::array<const char*, 4> kForks = {"main", "fsm", "vm", "init"};
  return fork < kForks.size() ? kForks[fork] : "unknown";
}

std::string relation_path(const RelLocator& rel, uint8_t fork) {
  std::string path;
  if (rel.spc == 1664) {  // GLOBALTABLESPACE_OID
    path = fmt::format("global/{}", rel.rel);
  } else if (rel.spc == 1663) {  // DEFAULTTABLESPACE_OID
    path = fmt::format("base/{}/{}", rel.db, rel.rel);
  } else {
    path = fmt::format("pg_tblspc/{}/{}/{}", rel.spc, rel.db, rel.rel);
  }
  if (fork != 0) {
    path += '_';
    path += fork_name(fork);
  }
  return path;
}

}  // namespace pgm::xlog
