#include "pgm/incremental/reconstruct.h"

#include <algorithm>

#include <fmt/format.h>

namespace pgm::incremental {

namespace {

constexpr uint32_t kUnset = UINT32_MAX;

}  // namespace

uint64_t expected_size(const Version& version) {
  return version.kind == Version::Kind::kFull ? version.size : version.header.file_size();
}

Result<Plan> plan_reconstruction(std::span<const Version> newest_first) {
  if (newest_first.empty() || newest_first.front().kind != Version::Kind::kIncremental) {
    return make_error(ErrorCode::kInvalidArgument,
                      "reconstruction starts from an INCREMENTAL file");
  }
  const Header& latest = newest_first.front().header;
  Plan plan;
  plan.block_length = latest.reconstructed_length();
  // source[b]: the version index that provides block b.
  std::vector<uint32_t> source(plan.block_length, kUnset);
  uint32_t missing = latest.truncation_block_length;  // blocks below it still to find

  auto take = [&](uint32_t b, uint32_t version) {
    source[b] = version;
    if (b < latest.truncation_block_length) {
      --missing;
    }
  };

  plan.reads.emplace_back();
  for (size_t i = 0; i < latest.blocks.size(); ++i) {
    const uint32_t b = latest.blocks[i];
    take(b, 0);
    plan.reads[0].push_back(Read{latest.size() + uint64_t{kBlockSize} * i, b});
  }

  bool ended = false;
  for (size_t v = 1; v < newest_first.size() && !ended; ++v) {
    const Version& version = newest_first[v];
    auto& reads = plan.reads.emplace_back();
    if (version.kind == Version::Kind::kFull) {
      const uint64_t have = version.size / kBlockSize;
      for (uint32_t b = 0; b < latest.truncation_block_length && b < have; ++b) {
        if (source[b] == kUnset) {
          take(b, static_cast<uint32_t>(v));
          reads.push_back(Read{uint64_t{b} * kBlockSize, b});
        }
      }
      ended = true;
      break;
    }
    const Header& header = version.header;
    for (size_t i = 0; i < header.blocks.size(); ++i) {
      const uint32_t b = header.blocks[i];
      if (b < latest.truncation_block_length && source[b] == kUnset) {
        take(b, static_cast<uint32_t>(v));
        reads.push_back(Read{header.size() + uint64_t{kBlockSize} * i, b});
      }
    }
    if (missing == 0) {
      break;  // nothing older can contribute
    }
  }
  if (!ended && missing > 0) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: the chain has no full copy of this file and {} of its "
                                  "blocks are in no backup",
                                  newest_first.front().name, missing));
  }
  for (uint32_t b = 0; b < plan.block_length; ++b) {
    if (source[b] == kUnset) {
      plan.zeros.push_back(b);
    }
  }
  return plan;
}

MergePlan plan_merge(const Header& child, const Header& parent) {
  MergePlan plan;
  plan.header.truncation_block_length = child.truncation_block_length;
  // Which parent blocks survive: those below the child's truncation length it lacks.
  std::vector<size_t> parent_index;  // indexes into parent.blocks
  {
    size_t c = 0;
    for (size_t p = 0; p < parent.blocks.size(); ++p) {
      const uint32_t b = parent.blocks[p];
      if (b >= child.truncation_block_length) {
        break;
      }
      while (c < child.blocks.size() && child.blocks[c] < b) {
        ++c;
      }
      if (c < child.blocks.size() && child.blocks[c] == b) {
        continue;
      }
      parent_index.push_back(p);
    }
  }
  // The merged block list, ascending, and where each block comes from.
  plan.reads.resize(2);
  size_t c = 0;
  size_t p = 0;
  while (c < child.blocks.size() || p < parent_index.size()) {
    const auto target = static_cast<uint32_t>(plan.header.blocks.size());
    if (p == parent_index.size() ||
        (c < child.blocks.size() && child.blocks[c] < parent.blocks[parent_index[p]])) {
      plan.header.blocks.push_back(child.blocks[c]);
      plan.reads[0].push_back(Read{child.size() + uint64_t{kBlockSize} * c, target});
      ++c;
    } else {
      plan.header.blocks.push_back(parent.blocks[parent_index[p]]);
      plan.reads[1].push_back(Read{parent.size() + uint64_t{kBlockSize} * parent_index[p], target});
      ++p;
    }
  }
  return plan;
}

BlockRouter::BlockRouter(std::span<const Read> reads, uint64_t expected_size, std::string name,
                         Write write)
    : reads_(reads),
      expected_size_(expected_size),
      name_(std::move(name)),
      write_(std::move(write)) {}

Result<void> BlockRouter::consume(std::span<const uint8_t> bytes) {
  while (!bytes.empty()) {
    if (position_ + bytes.size() > expected_size_) {
      return make_error(ErrorCode::kCorruption, fmt::format("{}: longer than the {} bytes expected",
                                                            name_, expected_size_));
    }
    if (next_ == reads_.size()) {
      position_ += bytes.size();  // the rest holds nothing we need; only its length counts
      return {};
    }
    const Read& read = reads_[next_];
    const uint64_t block_end = read.offset + kBlockSize;
    if (position_ + bytes.size() <= read.offset) {
      position_ += bytes.size();
      return {};
    }
    if (position_ < read.offset) {
      const auto skip = static_cast<size_t>(read.offset - position_);
      bytes = bytes.subspan(skip);
      position_ += skip;
    }
    // position_ is inside [read.offset, block_end).
    const size_t n = static_cast<size_t>(std::min<uint64_t>(bytes.size(), block_end - position_));
    if (block_.empty() && n == kBlockSize) {
      if (auto written = write_(read.target, bytes.first(kBlockSize)); !written) {
        return written;
      }
    } else {
      block_.insert(block_.end(), bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
      if (block_.size() == kBlockSize) {
        if (auto written = write_(read.target, block_); !written) {
          return written;
        }
        block_.clear();
      }
    }
    bytes = bytes.subspan(n);
    position_ += n;
    if (position_ == block_end) {
      ++next_;
    }
  }
  return {};
}

Result<void> BlockRouter::finish() {
  if (allow_short_ && position_ < expected_size_) {
    return {};
  }
  if (position_ != expected_size_) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{}: {} bytes, expected {}", name_, position_, expected_size_));
  }
  if (next_ != reads_.size()) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("{}: {} planned blocks not read", name_, reads_.size() - next_));
  }
  return {};
}

}  // namespace pgm::incremental
