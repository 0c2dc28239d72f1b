#include "pgm/xlog/rmgr.h"

#include <array>
#include <string_view>

#include <fmt/format.h>

#include "pgm/xlog/format.h"
#include "pgm/xlog/rmgr_internal.h"

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
  if (auto more = describe_details(record, major)) {
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
