#include "pgm/daemon/child_record.h"

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

using std::chrono::milliseconds;

TEST(ChildRecordTest, FormatsAndParsesARecord) {
  ChildrenRecord r;
  r.boot_id = "0b5c1a9e-4b1e-4a8e-9a57-2f4c3c8d1e77";
  r.main = {100, 5000, "main"};
  r.children = {{101, 5001, "wal/primary"}, {102, 5002, "backup primary (full)"}};
  const std::string text = format_children_record(r);
  std::optional<ChildrenRecord> back = parse_children_record(text);
  ASSERT_TRUE(back.has_value()) << text;
  EXPECT_EQ(back->boot_id, r.boot_id);
  EXPECT_EQ(back->main.pid, 100);
  EXPECT_EQ(back->main.start_time, 5000U);
  ASSERT_EQ(back->children.size(), 2U);
  EXPECT_EQ(back->children[1].pid, 102);
  EXPECT_EQ(back->children[1].start_time, 5002U);
  EXPECT_EQ(back->children[1].what, "backup primary (full)");
}

TEST(ChildRecordTest, RejectsWhatIsNoRecord) {
  for (const char* text :
       {"", "4242\n", "pgmoneta children\nmain 1 2\n", "pgmoneta children\nboot x\n",
        "pgmoneta children\nboot x\nmain 1 2\nchild -3 4 wal\n",
        "pgmoneta children\nboot x\nmain 1 2\nchild 3\n",
        "pgmoneta children\nboot x\nmain 1 2\nother 3 4\n"}) {
    EXPECT_FALSE(parse_children_record(text).has_value()) << text;
  }
}

// A forked copy of this test binary: the same executable, as the daemon's children are.
class LeftoverChildrenTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t pid : forked_) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }

  pid_t spawn(bool ignore_sigterm) {
    pid_t pid = ::fork();
    if (pid == 0) {
      if (ignore_sigterm) {
        ::signal(SIGTERM, SIG_IGN);
      }
      while (true) {
        ::pause();
      }
    }
    forked_.push_back(pid);
    return pid;
  }

  // A process that is gone: forked, ended and reaped.
  static pid_t dead_pid() {
    pid_t pid = ::fork();
    if (pid == 0) {
      ::_exit(0);
    }
    ::waitpid(pid, nullptr, 0);
    return pid;
  }

  static RecordedProcess recorded(pid_t pid, const std::string& what) {
    return {pid, io::read_process_stat(pid).value_or(io::ProcessStat{}).start_time, what};
  }

  void write_record(const RecordedProcess& main, const std::vector<RecordedProcess>& children,
                    const std::string& boot = io::boot_id()) {
    ChildrenRecord r{boot, main, children};
    test_support::write_text(dir_.file(ChildRecordFile::kFileName), format_children_record(r));
  }

  // Reaps `pid`; its wait status.
  static int reap(pid_t pid) {
    int status = 0;
    EXPECT_EQ(::waitpid(pid, &status, 0), pid);
    return status;
  }

  test_support::TempDir dir_{"child-record"};
  std::vector<pid_t> forked_;
};

TEST_F(LeftoverChildrenTest, OneIgnoringSigtermIsKilledAfterTheGrace) {
  const pid_t child = spawn(true);
  std::this_thread::sleep_for(milliseconds(20));  // SIG_IGN in place
  write_record({dead_pid(), 1, "main"}, {recorded(child, "wal/primary")});
  EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(200)), 1U);
  // Dead, a zombie until reaped here: no longer "alive".
  EXPECT_FALSE(io::process_alive(child));
  const int status = reap(child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
}

TEST_F(LeftoverChildrenTest, AStoppedOneEndsWithSigterm) {
  const pid_t child = spawn(false);
  ASSERT_EQ(::kill(child, SIGSTOP), 0);
  write_record({dead_pid(), 1, "main"}, {recorded(child, "metrics")});
  EXPECT_EQ(stop_leftover_children(dir_.path(), std::chrono::seconds(5)), 1U);
  const int status = reap(child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
}

TEST_F(LeftoverChildrenTest, OnlyProvablyOursAreTouched) {
  const pid_t child = spawn(false);
  const RecordedProcess ok = recorded(child, "wal/primary");
  RecordedProcess reused = ok;  // the pid now names another process
  reused.start_time += 1;
  const pid_t dead = dead_pid();
  // A live main process still owns its children, and so does one of this boot only.
  const pid_t live_main = spawn(false);
  struct Case {
    const char* why;
    RecordedProcess main;
    RecordedProcess child;
    std::string boot;
  };
  const Case cases[] = {
      {"other start time", {dead, 1, "main"}, reused, io::boot_id()},
      {"unknown start time", {dead, 1, "main"}, {child, 0, "wal/primary"}, io::boot_id()},
      {"main still runs", recorded(live_main, "main"), ok, io::boot_id()},
      {"another boot", {dead, 1, "main"}, ok, "3f1e0f6c-0000-4000-8000-000000000000"},
      {"this process", {dead, 1, "main"}, recorded(::getpid(), "main"), io::boot_id()},
  };
  for (const Case& c : cases) {
    write_record(c.main, {c.child}, c.boot);
    EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(100)), 0U) << c.why;
    EXPECT_TRUE(io::process_alive(child)) << c.why;
  }
}

TEST_F(LeftoverChildrenTest, AChildOfTheRecordedMainOrAnotherProgramIsLeftAlone) {
  // Another executable: sleep(1) under a recorded pid.
  pid_t other = ::fork();
  if (other == 0) {
    ::execlp("sleep", "sleep", "30", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  forked_.push_back(other);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (io::process_executable(other) == io::process_executable(::getpid()) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  write_record({dead_pid(), 1, "main"}, {recorded(other, "metrics")});
  EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(100)), 0U);
  EXPECT_TRUE(io::process_alive(other));

  // Its parent is the recorded main process (this one, under a stale start time): not orphaned.
  const pid_t child = spawn(false);
  write_record({::getpid(), 1, "main"}, {recorded(child, "wal/primary")});
  EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(100)), 0U);
  EXPECT_TRUE(io::process_alive(child));
}

TEST_F(LeftoverChildrenTest, NoRecordOrAForeignFileStopsNothing) {
  EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(100)), 0U);
  test_support::write_text(dir_.file(ChildRecordFile::kFileName), "garbage\n");
  EXPECT_EQ(stop_leftover_children(dir_.path(), milliseconds(100)), 0U);
}

TEST_F(LeftoverChildrenTest, TheWriterRecordsThisProcessAndItsChildren) {
  const pid_t child = spawn(false);
  ChildRecordFile file(dir_.path());
  file.write({{child, "wal/primary"}});
  std::optional<ChildrenRecord> r =
      parse_children_record(test_support::read_text(dir_.file(ChildRecordFile::kFileName)));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->boot_id, io::boot_id());
  EXPECT_EQ(r->main.pid, ::getpid());
  EXPECT_EQ(r->main.start_time, io::read_process_stat(::getpid())->start_time);
  ASSERT_EQ(r->children.size(), 1U);
  EXPECT_EQ(r->children[0].pid, child);
  EXPECT_EQ(r->children[0].start_time, io::read_process_stat(child)->start_time);
}

}  // namespace
}  // namespace pgm::daemon
