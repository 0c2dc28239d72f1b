#include "pgm/io/process.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace pgm::io {
namespace {

struct PidCase {
  const char* text;
  std::optional<pid_t> pid;
};

TEST(ProcessTest, ParsesPidsAndRejectsEverythingElse) {
  const PidCase cases[] = {
      {"4242", 4242},          {"4242\n", 4242},
      {"  17 \r\n", 17},       {"1", 1},
      {"", std::nullopt},      {"\n", std::nullopt},
      {"0", std::nullopt},     {"-5", std::nullopt},
      {"+5", std::nullopt},    {"12a", std::nullopt},
      {"1 2", std::nullopt},   {"99999999999999999999", std::nullopt},
      {"pid=3", std::nullopt},
  };
  for (const PidCase& c : cases) {
    EXPECT_EQ(parse_pid(c.text), c.pid) << "'" << c.text << "'";
  }
}

TEST(ProcessTest, ParsesStatWithSpacesAndParenthesesInTheName) {
  const std::string stat =
      "1234 (pgmoneta: wal/a (b)) S 77 1234 1234 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 "
      "987654 12345678 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";
  std::optional<ProcessStat> s = parse_process_stat(stat);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, 'S');
  EXPECT_EQ(s->ppid, 77);
  EXPECT_EQ(s->start_time, 987654U);
}

TEST(ProcessTest, RejectsMalformedStat) {
  for (const char* text : {"", "1234 no parentheses S 1", "1 (x) SS 2", "1 (x) S 2 3 4",
                           "1 (x) S notanumber 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5"}) {
    EXPECT_FALSE(parse_process_stat(text).has_value()) << text;
  }
}

TEST(ProcessTest, ReadsItsOwnStatAndExecutable) {
  std::optional<ProcessStat> self = read_process_stat(::getpid());
  ASSERT_TRUE(self.has_value());
  EXPECT_EQ(self->state, 'R');
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_GT(self->start_time, 0U);
  EXPECT_NE(process_executable(::getpid()).find("io_test"), std::string::npos)
      << process_executable(::getpid());
  EXPECT_TRUE(process_alive(::getpid()));
  EXPECT_EQ(boot_id().size(), 36U) << boot_id();
}

TEST(ProcessTest, AZombieCountsAsDeadAndAReapedPidToo) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::_exit(0);
  }
  // Not reaped yet: kill(pid, 0) still succeeds, but the process has exited.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (read_process_stat(child).value_or(ProcessStat{}).state != 'Z' &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_EQ(read_process_stat(child).value_or(ProcessStat{}).state, 'Z');
  EXPECT_EQ(::kill(child, 0), 0);
  EXPECT_FALSE(process_alive(child));
  ASSERT_EQ(::waitpid(child, nullptr, 0), child);
  EXPECT_FALSE(process_alive(child));
  EXPECT_FALSE(read_process_stat(child).has_value());
  EXPECT_EQ(process_executable(child), "");
}

TEST(ProcessTest, AStoppedProcessIsAlive) {
  pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  EXPECT_TRUE(process_alive(child));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

// /proc/<pid>/stat read while the process is reaped fails with ESRCH between open and read
// (a std::ifstream threw from its buffer then): the answer is "gone", never an exception.
TEST(ProcessTest, AProcessReapedWhileItsStatIsReadIsJustGone) {
  for (int i = 0; i < 100; ++i) {
    pid_t child = ::fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      ::_exit(0);
    }
    std::atomic<bool> reaped{false};
    std::thread reader([child, &reaped] {
      while (!reaped.load()) {
        (void)read_process_stat(child);
        (void)process_alive(child);
      }
    });
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    ::waitpid(child, nullptr, 0);
    reaped.store(true);
    reader.join();
    EXPECT_FALSE(process_alive(child));
  }
}

TEST(ProcessTest, NonPositivePidsAreNeverAlive) {
  EXPECT_FALSE(process_alive(0));
  EXPECT_FALSE(process_alive(-1));
  EXPECT_FALSE(read_process_stat(0).has_value());
}

}  // namespace
}  // namespace pgm::io
