#include "pgm/core/result.h"

#include <cerrno>

#include <gtest/gtest.h>

#include "pgm/core/scope_exit.h"
#include "pgm/core/unique_fd.h"

namespace pgm {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) {
    return make_error(ErrorCode::kInvalidArgument, "not positive");
  }
  return v;
}

Result<int> doubled(int v) {
  PGM_ASSIGN_OR_RETURN(int x, parse_positive(v));
  return 2 * x;
}

Result<void> check(int v) {
  PGM_TRY(parse_positive(v));
  return {};
}

TEST(ResultTest, PropagatesErrorsThroughMacros) {
  EXPECT_EQ(*doubled(4), 8);
  ASSERT_FALSE(doubled(-1));
  EXPECT_EQ(doubled(-1).error().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(check(1));
  EXPECT_FALSE(check(0));
}

TEST(ResultTest, ContextIsPrefixed) {
  Error e = errno_error("write base/1", ENOSPC).with_context("backup b42");
  EXPECT_EQ(e.message(), "backup b42: write base/1: No space left on device");
  EXPECT_EQ(e.code(), ErrorCode::kIo);
  EXPECT_EQ(errno_error("open x", ENOENT).code(), ErrorCode::kNotFound);
}

TEST(UniqueFdTest, ClosesOnDestructionAndRelease) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  {
    UniqueFd a(fds[0]);
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): checking moved-from state
    EXPECT_EQ(b.get(), fds[0]);
  }
  EXPECT_EQ(::close(fds[0]), -1);
  UniqueFd w(fds[1]);
  int raw = w.release();
  EXPECT_FALSE(w.valid());
  EXPECT_EQ(::close(raw), 0);
}

TEST(ScopeExitTest, RunsUnlessDismissed) {
  int n = 0;
  {
    ScopeExit guard([&] { ++n; });
  }
  {
    ScopeExit guard([&] { ++n; });
    guard.dismiss();
  }
  EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace pgm
