#include "pgm/daemon/pid_file.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <sys/wait.h>

#include "pgm/io/process.h"

namespace pgm::daemon {
namespace {

// A forked child that has exited but is not reaped: kill(pid, 0) still succeeds.
pid_t make_zombie() {
  pid_t pid = ::fork();
  if (pid == 0) {
    ::_exit(0);
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (io::read_process_stat(pid).value_or(io::ProcessStat{}).state != 'Z' &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return pid;
}

TEST(PidFileTest, AZombieInThePidFileCountsAsDead) {
  test_support::TempDir dir("pid-file");
  const std::string path = dir.file("pgmoneta.pid");
  const pid_t zombie = make_zombie();
  test_support::write_text(path, std::to_string(zombie) + "\n");
  auto pid_file = PidFile::create(path);
  ::waitpid(zombie, nullptr, 0);
  ASSERT_TRUE(pid_file.has_value()) << pid_file.error().message();
  EXPECT_EQ(test_support::read_text(path), std::to_string(::getpid()) + "\n");
}

TEST(PidFileTest, ALiveProcessInThePidFileIsRefused) {
  test_support::TempDir dir("pid-file");
  const std::string path = dir.file("pgmoneta.pid");
  pid_t child = ::fork();
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  test_support::write_text(path, std::to_string(child) + "\n");
  auto pid_file = PidFile::create(path);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ASSERT_FALSE(pid_file.has_value());
  EXPECT_NE(pid_file.error().message().find("is running"), std::string::npos)
      << pid_file.error().message();
}

}  // namespace
}  // namespace pgm::daemon
