// FinishQueue with a fake finisher and a fake free-space probe: a segment whose finishing
// failed (a full disk, or any error) is tried again on the next pass and never forgotten.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/wal/finish_queue_internal.h"

namespace pgm::wal {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr const char* kA = "000000010000000000000001";
constexpr const char* kB = "000000010000000000000002";
constexpr const char* kC = "000000010000000000000003";
constexpr uint64_t kMiB = uint64_t{1} << 20;

// A finisher that fails with ENOSPC while `space` is below `needed`, and with a chosen error
// for named segments; records every attempt.
class FakeFinisher {
 public:
  FinishQueue::FinishFn finish_fn() {
    return [this](const std::string& dir, const std::string& name) -> Result<std::string> {
      std::lock_guard lock(mutex_);
      attempts_.push_back(name);
      if (auto it = errors_.find(name); it != errors_.end()) {
        return tl::unexpected(it->second);
      }
      if (space.load() < needed) {
        return make_errno_error(fmt_write(dir, name), ENOSPC);
      }
      stored_.push_back(name);
      return name + ".zstd";
    };
  }
  FinishQueue::SpaceFn space_fn() {
    return [this](const std::string&) -> std::optional<uint64_t> { return space.load(); };
  }
  void fail(const std::string& name, Error e) {
    std::lock_guard lock(mutex_);
    errors_.insert_or_assign(name, std::move(e));
  }
  void heal(const std::string& name) {
    std::lock_guard lock(mutex_);
    errors_.erase(name);
  }
  std::vector<std::string> attempts() const {
    std::lock_guard lock(mutex_);
    return attempts_;
  }
  std::vector<std::string> stored() const {
    std::lock_guard lock(mutex_);
    return stored_;
  }

  std::atomic<uint64_t> space{100 * kMiB};
  uint64_t needed = 10 * kMiB;

 private:
  static std::string fmt_write(const std::string& dir, const std::string& name) {
    return "write " + dir + "/" + name + ".zstd.tmp.1";
  }
  mutable std::mutex mutex_;
  std::map<std::string, Error> errors_;
  std::vector<std::string> attempts_;
  std::vector<std::string> stored_;
};

// Polls `pred` for up to 5 s.
template <typename Pred>
bool eventually(Pred pred) {
  auto deadline = steady_clock::now() + std::chrono::seconds(5);
  while (!pred()) {
    if (steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(milliseconds(2));
  }
  return true;
}

// Back-off so long that only the trigger under test can cause a retry.
constexpr FinishQueue::Timing kNoBackoff{milliseconds(5), std::chrono::hours(1),
                                         std::chrono::hours(1)};

TEST(FinishQueueTest, FinishesPushedSegmentsOldestFirst) {
  FakeFinisher fake;
  FinishQueue q("s", true, fake.finish_fn(), fake.space_fn(), kNoBackoff);
  q.push("/wal", kB);
  q.push("/wal", kA);
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }));
  EXPECT_EQ(fake.stored().size(), 2u);
}

TEST(FinishQueueTest, RetriesASegmentThatFailedOnAFullDiskWhenTheNextOneCompletes) {
  FakeFinisher fake;
  fake.space = 0;
  FinishQueue q("s", true, fake.finish_fn(), FinishQueue::SpaceFn(), kNoBackoff);
  q.push("/wal", kA);
  ASSERT_TRUE(eventually([&] { return q.backlog().failed == 1; }));
  FinishBacklog b = q.backlog();
  EXPECT_EQ(b.waiting, 1u);
  EXPECT_EQ(b.out_of_space, 1u);

  fake.space = 100 * kMiB;  // space is back; the next segment completing is the next pass
  q.push("/wal", kB);
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }))
      << "attempts: " << fake.attempts().size();
  EXPECT_EQ(fake.stored(), (std::vector<std::string>{kA, kB}));
}

TEST(FinishQueueTest, RetriesWhenTheDirectoryHasMoreFreeSpaceWithoutANewSegment) {
  FakeFinisher fake;
  fake.space = 3 * kMiB;
  FinishQueue q("s", true, fake.finish_fn(), fake.space_fn(), kNoBackoff);
  q.push("/wal", kA);
  q.push("/wal", kB);
  ASSERT_TRUE(eventually([&] { return q.backlog().failed == 2; }));
  size_t attempts = fake.attempts().size();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(fake.attempts().size(), attempts) << "no retry while the free space stays the same";
  fake.space = 3 * kMiB + 4096;
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(fake.attempts().size(), attempts) << "no retry for a few freed kilobytes";

  fake.space = 50 * kMiB;
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }));
  EXPECT_EQ(fake.stored(), (std::vector<std::string>{kA, kB}));
}

TEST(FinishQueueTest, RetriesAnyFailureAfterABackOff) {
  FakeFinisher fake;
  fake.fail(kA, Error(ErrorCode::kIo, "read /wal/A: Input/output error"));
  FinishQueue q("s", true, fake.finish_fn(), fake.space_fn(),
                FinishQueue::Timing{milliseconds(5), milliseconds(20), milliseconds(40)});
  q.push("/wal", kA);
  ASSERT_TRUE(eventually([&] { return fake.attempts().size() >= 3; }));
  FinishBacklog b = q.backlog();
  EXPECT_EQ(b.waiting, 1u);
  EXPECT_EQ(b.out_of_space, 0u);
  fake.heal(kA);
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }));
  EXPECT_EQ(fake.stored(), (std::vector<std::string>{kA}));
}

TEST(FinishQueueTest, RetryNowTriesFailedSegmentsAtOnce) {
  FakeFinisher fake;
  fake.space = 0;
  FinishQueue q("s", true, fake.finish_fn(), FinishQueue::SpaceFn(), kNoBackoff);
  q.push("/wal", kA);
  ASSERT_TRUE(eventually([&] { return q.backlog().failed == 1; }));
  fake.space = 100 * kMiB;
  q.retry_now();
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }));
}

TEST(FinishQueueTest, DropsASegmentThatIsGone) {
  FakeFinisher fake;
  fake.fail(kA, Error(ErrorCode::kNotFound, "open /wal/A: No such file or directory"));
  FinishQueue q("s", true, fake.finish_fn(), fake.space_fn(), kNoBackoff);
  q.push("/wal", kA);
  q.push("/wal", kC);
  ASSERT_TRUE(eventually([&] { return q.backlog().waiting == 0; }));
  EXPECT_EQ(fake.stored(), (std::vector<std::string>{kC}));
}

TEST(FinishQueueTest, QueuesASegmentPushedTwiceOnce) {
  FakeFinisher fake;
  fake.space = 0;
  FinishQueue q("s", true, fake.finish_fn(), FinishQueue::SpaceFn(), kNoBackoff);
  q.push("/wal", kA);
  q.push("/wal", kA);
  q.push("/ship", kA);
  ASSERT_TRUE(eventually([&] { return q.backlog().failed == 2; }));
  EXPECT_EQ(q.backlog().waiting, 2u);
}

TEST(FinishQueueTest, StopsPromptlyWithFailedSegmentsLeft) {
  FakeFinisher fake;
  fake.space = 0;
  auto q = std::make_unique<FinishQueue>("s", true, fake.finish_fn(), fake.space_fn(), kNoBackoff);
  q->push("/wal", kA);
  ASSERT_TRUE(eventually([&] { return q->backlog().failed == 1; }));
  auto start = steady_clock::now();
  q.reset();
  EXPECT_LT(steady_clock::now() - start, milliseconds(500));
}

TEST(FinishQueueTest, DoesNothingWhenNotNeeded) {
  FakeFinisher fake;
  FinishQueue q("s", false, fake.finish_fn(), fake.space_fn(), kNoBackoff);
  q.push("/wal", kA);
  EXPECT_EQ(q.backlog().waiting, 0u);
  EXPECT_TRUE(fake.attempts().empty());
}

TEST(IsOutOfSpaceTest, RecognisesFullDisksAndQuotasOnly) {
  EXPECT_TRUE(is_out_of_space(errno_error("write /wal/x", ENOSPC)));
  EXPECT_TRUE(is_out_of_space(errno_error("allocate /wal/x.partial", EDQUOT)));
  EXPECT_TRUE(is_out_of_space(errno_error("write /wal/x", ENOSPC).with_context("segment x")));
  EXPECT_FALSE(is_out_of_space(errno_error("write /wal/x", EIO)));
  EXPECT_FALSE(is_out_of_space(errno_error("open /wal/x", ENOENT)));
  EXPECT_FALSE(is_out_of_space(Error(ErrorCode::kIo, "replication stream: server closed")));
}

}  // namespace
}  // namespace pgm::wal
