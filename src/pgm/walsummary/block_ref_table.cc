#include "pgm/walsummary/block_ref_table.h"

#include <algorithm>

namespace pgm::walsummary {

void BlockRefTable::mark_changed(const ForkKey& key, uint32_t block) {
  ForkChanges& changes = forks_[key];
  if (block >= changes.limit) {
    return;  // the limit says so already
  }
  if (!changes.blocks.empty() && changes.blocks.back() == block) {
    return;  // the same block again: common (several references to one page)
  }
  changes.blocks.push_back(block);
  // Keep the vector from growing with repeats: sort and dedup when it doubled since the last
  // time (amortised O(log n) a block).
  size_t& sorted = sorted_[key];
  if (changes.blocks.size() >= 1024 && changes.blocks.size() >= 2 * sorted) {
    normalize(changes);
    sorted = changes.blocks.size();
  }
}

void BlockRefTable::set_limit(const ForkKey& key, uint32_t limit) {
  ForkChanges& changes = forks_[key];
  if (limit >= changes.limit) {
    return;
  }
  changes.limit = limit;
  std::erase_if(changes.blocks, [limit](uint32_t b) { return b >= limit; });
  size_t& sorted = sorted_[key];
  sorted = 0;  // erase_if keeps order but the prefix length changed; recount at the next sort
}

void BlockRefTable::normalize(ForkChanges& changes) const {
  std::sort(changes.blocks.begin(), changes.blocks.end());
  changes.blocks.erase(std::unique(changes.blocks.begin(), changes.blocks.end()),
                       changes.blocks.end());
}

const std::map<ForkKey, ForkChanges>& BlockRefTable::forks() {
  for (auto& [key, changes] : forks_) {
    normalize(changes);
    sorted_[key] = changes.blocks.size();
  }
  return forks_;
}

size_t BlockRefTable::block_count() const {
  size_t n = 0;
  for (const auto& [key, changes] : forks_) {
    n += changes.blocks.size();
  }
  return n;
}

void BlockRefTable::clear() {
  forks_.clear();
  sorted_.clear();
}

}  // namespace pgm::walsummary
