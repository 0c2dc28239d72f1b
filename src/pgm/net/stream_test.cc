#include "pgm/net/stream.h"

#include <chrono>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace pgm::net {
namespace {

using namespace std::chrono_literals;

std::pair<UniqueFd, UniqueFd> socket_pair(int flags = 0) {
  int sv[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | flags, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

TEST(StreamTest, MaxDeadlineWaitsForData) {
  auto [a, b] = socket_pair();
  auto reader = Stream::plain(std::move(a));
  auto writer = Stream::plain(std::move(b));
  std::thread t([&writer] {
    std::this_thread::sleep_for(50ms);
    const uint8_t data[] = {1, 2, 3};
    EXPECT_TRUE(writer->write_all(data, Deadline::max()));
  });
  uint8_t buf[3];
  ASSERT_TRUE(reader->read_exact(buf, Deadline::max()));
  EXPECT_EQ(buf[2], 3);
  t.join();
}

TEST(StreamTest, NonBlockingSocketOnEntryStillWaits) {
  auto [a, b] = socket_pair(SOCK_NONBLOCK);
  auto reader = Stream::plain(std::move(a));
  auto start = std::chrono::steady_clock::now();
  uint8_t buf[1];
  auto r = reader->read_some(buf, deadline_after(100ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 95ms);
  b.reset();
  auto eof = reader->read_some(buf, deadline_after(1s));
  ASSERT_TRUE(eof);
  EXPECT_EQ(*eof, 0u);
  auto exact = reader->read_exact(buf, deadline_after(1s));
  ASSERT_FALSE(exact);
  EXPECT_EQ(exact.error().message(), "connection closed by peer");
}

TEST(StreamTest, WriteToAClosedPeerFailsWithoutSigpipe) {
  auto [a, b] = socket_pair();
  auto writer = Stream::plain(std::move(a));
  b.reset();
  std::vector<uint8_t> data(1 << 20, 7);
  auto r = writer->write_all(data, deadline_after(1s));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kIo);
}

TEST(StreamTest, WriteDeadlineWhenThePeerDoesNotRead) {
  auto [a, b] = socket_pair();
  auto writer = Stream::plain(std::move(a));
  std::vector<uint8_t> data(8 << 20, 7);  // far more than the socket buffers hold
  auto r = writer->write_all(data, deadline_after(100ms));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kTimeout);
}

TEST(StreamTest, ReleaseGivesTheSocketBack) {
  auto [a, b] = socket_pair();
  int raw = a.get();
  auto s = Stream::plain(std::move(a));
  EXPECT_EQ(s->fd(), raw);
  EXPECT_FALSE(s->tls());
  UniqueFd back = s->release();
  EXPECT_EQ(back.get(), raw);
  EXPECT_EQ(s->fd(), -1);
}

}  // namespace
}  // namespace pgm::net
