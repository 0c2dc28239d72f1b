// RecordFilter: which decoded records pgmoneta-walinfo shows (-r, -s, -e, -x, -RT/-RD/-RR/-R).
// Immutable once built; thread-safe to read.
//
// A record is shown when it passes every filter given: its resource manager is one of -r, its
// LSN is at or after -s and before -e, its xid is one of -x, and it touches one of the listed
// objects. A record touches a tablespace, database or relation when one of its block
// references names it, or its description names a relation ("rel 1663/5/16384",
// "base/5/16384", "global/1262", "pg_tblspc/16400/5/16384"): Storage CREATE or a commit's
// dropped relations have no block reference. As in pgmoneta, the three object lists form one
// list: touching any object of any list is enough.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"
#include "pgm/wal/lsn.h"
#include "pgm/xlog/record.h"

namespace pgm::walinfo {

class OidMapping;
struct Options;

struct ObjectFilter {
  std::set<uint32_t> tablespaces;
  std::set<uint32_t> databases;
  std::set<uint32_t> relations;
  bool empty() const { return tablespaces.empty() && databases.empty() && relations.empty(); }
};

struct RecordFilter {
  std::set<uint8_t> rmids;  // empty: any
  std::optional<wal::Lsn> start;
  std::optional<wal::Lsn> end;
  std::set<uint32_t> xids;  // empty: any
  ObjectFilter objects;     // empty: any

  // `description` is describe()'s text for the record (searched for relations).
  bool matches(const xlog::Record& record, std::string_view description) const;
  // True when no record at or after `lsn` can pass (past -e): reading may stop.
  bool past_end(wal::Lsn lsn) const { return end && lsn >= *end; }
};

// The resource manager id of a name as pg_waldump prints it, case-insensitive ("heap2",
// "Btree"); nullopt for an unknown name.
std::optional<uint8_t> rmgr_id(std::string_view name);
// The built-in names, in id order, for -r list and error messages.
std::vector<std::string> rmgr_names();

// Builds the filter from the options. Objects given by name need `mapping` (kConfig when it is
// null, or when a name is not in it); objects given by OID do not.
Result<RecordFilter> make_filter(const Options& options, const OidMapping* mapping);

// The relations a description names, in order.
std::vector<xlog::RelLocator> relations_in_text(std::string_view text);

}  // namespace pgm::walinfo
