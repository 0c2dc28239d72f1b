// BlockRefTable: which blocks of which relation forks a stretch of WAL changed, and for forks
// that were created, truncated or dropped in it, the "limit block": every block at or past it
// is to be taken as changed (its old contents are gone). This is the information PostgreSQL
// 17's walsummarizer keeps, with the same rules for combining the two. A value type; not
// thread-safe.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <vector>

namespace pgm::walsummary {

// A relation fork: tablespace, database, relation file number (0 with fork 0 stands for a
// whole database: created or dropped), fork (0 main, 1 fsm, 2 vm, 3 init).
struct ForkKey {
  uint32_t spc = 0;
  uint32_t db = 0;
  uint32_t rel = 0;
  uint8_t fork = 0;
  friend auto operator<=>(const ForkKey&, const ForkKey&) = default;
};

inline constexpr uint32_t kNoLimit = 0xFFFFFFFFu;  // InvalidBlockNumber: nothing was cut

struct ForkChanges {
  uint32_t limit = kNoLimit;     // blocks >= limit: changed (created, truncated or dropped)
  std::vector<uint32_t> blocks;  // changed blocks below the limit, sorted, no duplicates
};

class BlockRefTable {
 public:
  // A block was changed (a block reference of a record).
  void mark_changed(const ForkKey& key, uint32_t block);
  // The fork was cut at `limit` (0: created or dropped): the limit only ever goes down, and
  // the blocks marked so far at or past it are forgotten (they are covered by the limit).
  void set_limit(const ForkKey& key, uint32_t limit);
  // Every fork in key order, blocks sorted and unique.
  const std::map<ForkKey, ForkChanges>& forks();
  size_t fork_count() const { return forks_.size(); }
  // Blocks marked (after forks(): distinct ones), for sizing.
  size_t block_count() const;
  void clear();

 private:
  void normalize(ForkChanges& changes) const;
  std::map<ForkKey, ForkChanges> forks_;
  std::map<ForkKey, size_t> sorted_;  // blocks[0, n) are known sorted and unique
};

}  // namespace pgm::walsummary
