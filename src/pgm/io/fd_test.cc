#include "pgm/io/fd.h"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/time.h>

#include "pgm/core/unique_fd.h"

namespace pgm::io {
namespace {

struct Pipe {
  Pipe() {
    std::array<int, 2> fds{};
    EXPECT_EQ(::pipe(fds.data()), 0);
    in.reset(fds[0]);
    out.reset(fds[1]);
  }
  void write(std::string_view text) const {
    ASSERT_EQ(::write(out.get(), text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
  UniqueFd in;
  UniqueFd out;
};

TEST(ReadTest, ReadSomeReturnsWhatIsThereAndZeroAtEnd) {
  Pipe p;
  p.write("abc");
  std::array<uint8_t, 16> buf{};
  EXPECT_EQ(read_some(p.in.get(), buf, "read pipe").value(), 3u);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 3), "abc");
  p.out.reset();
  EXPECT_EQ(read_some(p.in.get(), buf, "read pipe").value(), 0u);
}

TEST(ReadTest, ReadFullCollectsShortReadsUntilFull) {
  Pipe p;
  std::thread writer([&] {
    for (std::string_view part : {"ab", "cd", "ef"}) {
      p.write(part);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::array<uint8_t, 5> buf{};
  auto n = read_full(p.in.get(), buf, "read pipe");
  writer.join();
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 5u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "abcde");
}

TEST(ReadTest, ReadFullStopsAtEndOfFile) {
  Pipe p;
  p.write("xy");
  p.out.reset();
  std::array<uint8_t, 8> buf{};
  EXPECT_EQ(read_full(p.in.get(), buf, "read pipe").value(), 2u);
}

void on_alarm(int /*signal*/) {}

TEST(ReadTest, ReadSomeRetriesAfterASignal) {
  struct sigaction sa {};
  sa.sa_handler = on_alarm;
  sa.sa_flags = 0;  // no SA_RESTART: the blocked read() fails with EINTR
  struct sigaction old {};
  ASSERT_EQ(::sigaction(SIGALRM, &sa, &old), 0);
  Pipe p;
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    p.write("late");
  });
  itimerval timer{};
  timer.it_value.tv_usec = 20000;
  ASSERT_EQ(::setitimer(ITIMER_REAL, &timer, nullptr), 0);
  std::array<char, 8> buf{};
  auto n = read_some(p.in.get(), buf, "read pipe");
  writer.join();
  ::sigaction(SIGALRM, &old, nullptr);
  ASSERT_TRUE(n);
  EXPECT_EQ(*n, 4u);
}

TEST(ReadTest, ErrorsCarryTheCallersContext) {
  std::array<uint8_t, 4> buf{};
  auto n = read_some(-1, buf, "read", "/nowhere");
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().message().rfind("read /nowhere: ", 0), 0u) << n.error().message();
  auto p = pread_full(-1, buf, 0, "read /nowhere");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().message().rfind("read /nowhere: ", 0), 0u) << p.error().message();
}

TEST(ReadTest, PreadFullReadsAtOffsetUntilEndOfFile) {
  char tmpl[] = "/tmp/pgm-read-test-XXXXXX";
  UniqueFd fd(::mkstemp(tmpl));
  ASSERT_TRUE(fd);
  ::unlink(tmpl);
  ASSERT_EQ(::write(fd.get(), "0123456789", 10), 10);
  std::vector<char> buf(4);
  EXPECT_EQ(pread_full(fd.get(), buf, 3, "read tmp").value(), 4u);
  EXPECT_EQ(std::string(buf.begin(), buf.end()), "3456");
  EXPECT_EQ(pread_full(fd.get(), buf, 8, "read tmp").value(), 2u);
  EXPECT_EQ(std::string(buf.begin(), buf.begin() + 2), "89");
}

TEST(WriteTest, WriteAllAndPwriteAllWriteEverything) {
  char tmpl[] = "/tmp/pgm-write-test-XXXXXX";
  UniqueFd fd(::mkstemp(tmpl));
  ASSERT_TRUE(fd);
  ::unlink(tmpl);
  std::vector<uint8_t> big(3 << 20, 0x5a);
  ASSERT_TRUE(write_all(fd.get(), big, "write tmp"));
  ASSERT_TRUE(write_all(fd.get(), std::string_view("tail"), "write tmp"));
  const std::array<uint8_t, 2> patch = {'A', 'B'};
  ASSERT_TRUE(pwrite_all(fd.get(), patch, 1, "write tmp"));
  std::vector<uint8_t> back(big.size() + 4);
  ASSERT_EQ(pread_full(fd.get(), back, 0, "read tmp").value(), back.size());
  EXPECT_EQ(back[0], 0x5a);
  EXPECT_EQ(back[1], 'A');
  EXPECT_EQ(back[2], 'B');
  EXPECT_EQ(std::string(back.end() - 4, back.end()), "tail");
}

TEST(WriteTest, WriteAllFillsAPipeAcrossShortWrites) {
  Pipe p;
  std::vector<uint8_t> data(1 << 20);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i * 7);
  }
  std::vector<uint8_t> got(data.size());
  std::thread reader(
      [&] { EXPECT_EQ(read_full(p.in.get(), got, "read pipe").value(), got.size()); });
  ASSERT_TRUE(write_all(p.out.get(), data, "write pipe"));
  reader.join();
  EXPECT_EQ(got, data);
  auto bad = write_all(-1, data, "write /nowhere");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().message().rfind("write /nowhere: ", 0), 0u);
}

}  // namespace
}  // namespace pgm::io
