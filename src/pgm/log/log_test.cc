#include "pgm/log/log.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "support/temp_dir.h"
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

namespace {

// Counts how often it is formatted.
struct Counted {
  int* count;
};

}  // namespace

template <>
struct fmt::formatter<Counted> : fmt::formatter<int> {
  template <typename Ctx>
  auto format(const Counted& c, Ctx& ctx) const {
    ++*c.count;
    return fmt::formatter<int>::format(*c.count, ctx);
  }
};

namespace pgm::log {
namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
  }
  return lines;
}

using test_support::read_text;

// Files in `dir` whose names start with `stem`, sorted by name.
std::vector<std::string> files_with_stem(const std::string& dir, const std::string& stem) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return out;
  }
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread
    std::string name = e->d_name;
    if (name.rfind(stem, 0) == 0) {
      std::string full = dir;
      full += '/';
      full += name;
      out.push_back(std::move(full));
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

class LogTest : public ::testing::Test {
 protected:
  void TearDown() override {
    Options console;
    console.type = Type::kConsole;
    ASSERT_TRUE(configure(console));
  }
  Options file_options(const std::string& name) {
    Options o;
    o.type = Type::kFile;
    o.path = dir_ + "/" + name;
    o.line_prefix = "";
    return o;
  }
  test_support::TempDir tmp_{"pgm-log-test"};
  std::string dir_ = tmp_.path();
};

TEST_F(LogTest, MacroSkipsArgumentsWhenLevelDisabled) {
  std::vector<std::string> lines;
  Options o;
  o.level = Level::kWarn;
  o.line_prefix = "";
  ASSERT_TRUE(configure(o));
  capture_to(&lines);
  int evaluated = 0;
  PGM_LOG_INFO("value {}", ++evaluated);
  PGM_LOG_DEBUG("value {}", ++evaluated);
  EXPECT_EQ(evaluated, 0);
  PGM_LOG_WARN("value {}", ++evaluated);
  PGM_LOG_ERROR("value {}", ++evaluated);
  EXPECT_EQ(evaluated, 2);
  EXPECT_EQ(lines, (std::vector<std::string>{"WARN value 1", "ERROR value 2"}));
}

TEST_F(LogTest, FunctionDoesNotFormatWhenLevelDisabled) {
  std::vector<std::string> lines;
  Options o;
  o.level = Level::kInfo;
  o.line_prefix = "";
  ASSERT_TRUE(configure(o));
  capture_to(&lines);
  int formatted = 0;
  debug("x {}", Counted{&formatted});
  trace("x {}", Counted{&formatted});
  EXPECT_EQ(formatted, 0);
  info("x {}", Counted{&formatted});
  EXPECT_EQ(formatted, 1);
  EXPECT_EQ(lines, std::vector<std::string>{"INFO x 1"});
}

TEST_F(LogTest, LevelsFollowPgmonetaOrder) {
  set_level(Level::kDebug2);
  EXPECT_TRUE(enabled(Level::kFatal));
  EXPECT_TRUE(enabled(Level::kDebug1));
  EXPECT_TRUE(enabled(Level::kDebug2));
  EXPECT_FALSE(enabled(Level::kDebug3));
  EXPECT_EQ(level(), Level::kDebug2);
  set_level(Level::kFatal);
  EXPECT_FALSE(enabled(Level::kError));
}

TEST_F(LogTest, LabelsAndLevelFunctions) {
  std::vector<std::string> lines;
  Options o;
  o.level = Level::kDebug5;
  o.line_prefix = "";
  ASSERT_TRUE(configure(o));
  capture_to(&lines);
  fatal("a");
  error("b");
  warn("c");
  info("d");
  debug("e");
  trace("f");
  log(Level::kDebug3, "g {}", 3);
  write(Level::kInfo, "h");
  EXPECT_EQ(lines, (std::vector<std::string>{"FATAL a", "ERROR b", "WARN c", "INFO d", "DEBUG e",
                                             "TRACE f", "TRACE g 3", "INFO h"}));
}

TEST_F(LogTest, PrefixIsExpandedWithStrftime) {
  std::vector<std::string> lines;
  Options o;
  o.line_prefix = "[%Y] %%";
  ASSERT_TRUE(configure(o));
  capture_to(&lines);
  info("server={} ready", "primary");
  time_t now = ::time(nullptr);
  struct tm tm {};
  ::localtime_r(&now, &tm);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], fmt::format("[{}] % INFO server=primary ready", tm.tm_year + 1900));
}

TEST_F(LogTest, DefaultPrefixIsDateAndTime) {
  std::vector<std::string> lines;
  ASSERT_TRUE(configure(Options{}));
  capture_to(&lines);
  info("x");
  ASSERT_EQ(lines.size(), 1u);
  // "YYYY-MM-DD HH:MM:SS INFO x"
  ASSERT_EQ(lines[0].size(), 19u + 7u);
  EXPECT_EQ(lines[0][4], '-');
  EXPECT_EQ(lines[0][13], ':');
  EXPECT_EQ(lines[0].substr(19), " INFO x");
}

TEST_F(LogTest, MessageNewlinesBecomeSpaces) {
  std::vector<std::string> lines;
  Options o;
  o.line_prefix = "";
  ASSERT_TRUE(configure(o));
  capture_to(&lines);
  error("connection failed: refused\n\tis the server running?\n");
  EXPECT_EQ(lines,
            std::vector<std::string>{"ERROR connection failed: refused \tis the server running?"});
}

TEST_F(LogTest, FileAppendKeepsEarlierLines) {
  std::string path = dir_ + "/a.log";
  {
    std::ofstream out(path);
    out << "old line\n";
  }
  Options o = file_options("a.log");
  o.append = true;
  ASSERT_TRUE(configure(o));
  info("new line");
  EXPECT_EQ(read_lines(path), (std::vector<std::string>{"old line", "INFO new line"}));
}

TEST_F(LogTest, FileCreateTruncates) {
  std::string path = dir_ + "/c.log";
  {
    std::ofstream out(path);
    out << "old line\n";
  }
  Options o = file_options("c.log");
  o.append = false;
  ASSERT_TRUE(configure(o));
  info("new line");
  EXPECT_EQ(read_lines(path), std::vector<std::string>{"INFO new line"});
  // Reconfiguring (SIGHUP) with the same file does not truncate again.
  ASSERT_TRUE(configure(o));
  info("after reload");
  EXPECT_EQ(read_lines(path), (std::vector<std::string>{"INFO new line", "INFO after reload"}));
}

TEST_F(LogTest, FilePathIsExpandedWithStrftime) {
  Options o = file_options("pgmoneta-%Y.log");
  ASSERT_TRUE(configure(o));
  info("x");
  time_t now = ::time(nullptr);
  struct tm tm {};
  ::localtime_r(&now, &tm);
  std::string path = fmt::format("{}/pgmoneta-{}.log", dir_, tm.tm_year + 1900);
  EXPECT_EQ(read_lines(path), std::vector<std::string>{"INFO x"});
}

TEST_F(LogTest, ConfigureFailureKeepsPreviousSink) {
  Options good = file_options("good.log");
  good.level = Level::kInfo;
  ASSERT_TRUE(configure(good));
  Options bad = file_options("missing-dir/bad.log");
  bad.level = Level::kDebug5;
  auto r = configure(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("missing-dir/bad.log"), std::string::npos);
  EXPECT_EQ(level(), Level::kInfo);
  info("still here");
  EXPECT_EQ(read_lines(dir_ + "/good.log"), std::vector<std::string>{"INFO still here"});

  Options no_path = file_options("");
  no_path.path.clear();
  auto r2 = configure(no_path);
  ASSERT_FALSE(r2);
  EXPECT_EQ(r2.error().code(), ErrorCode::kConfig);
}

TEST_F(LogTest, SyslogSinkAcceptsLines) {
  Options o;
  o.type = Type::kSyslog;
  o.ident = "pgm-log-test";
  ASSERT_TRUE(configure(o));
  info("syslog smoke test");  // delivered or dropped by the system, never blocking or failing
  EXPECT_EQ(options().type, Type::kSyslog);
  EXPECT_EQ(options().ident, "pgm-log-test");
}

TEST_F(LogTest, ReopenFollowsExternalRename) {
  Options o = file_options("r.log");
  ASSERT_TRUE(configure(o));
  info("one");
  ASSERT_EQ(::rename((dir_ + "/r.log").c_str(), (dir_ + "/r.log.old").c_str()), 0);
  reopen();
  info("two");
  EXPECT_EQ(read_lines(dir_ + "/r.log.old"), std::vector<std::string>{"INFO one"});
  EXPECT_EQ(read_lines(dir_ + "/r.log"), std::vector<std::string>{"INFO two"});
}

TEST_F(LogTest, RotationBySizeLosesAndSplitsNothing) {
  Options o = file_options("s.log");
  o.rotation_size = 1000;
  ASSERT_TRUE(configure(o));
  for (int i = 0; i < 300; ++i) {
    info("line {:04} {}", i, std::string(40, 'x'));
  }
  std::vector<std::string> files = files_with_stem(dir_, "s.log");
  ASSERT_GT(files.size(), 5u);
  ASSERT_EQ(files.front(), dir_ + "/s.log");  // the live file
  std::vector<std::string> all;
  for (const std::string& f : files) {
    std::string content = read_text(f);
    ASSERT_FALSE(content.empty() && f != files.front()) << f;
    if (!content.empty()) {
      EXPECT_EQ(content.back(), '\n') << f;
    }
    // A rotated file is at most one line over the limit.
    if (f != files.front()) {
      EXPECT_GE(content.size(), 1000u) << f;
      EXPECT_LT(content.size(), 1000u + 60u) << f;
    }
    for (std::string& line : read_lines(f)) {
      all.push_back(std::move(line));
    }
  }
  ASSERT_EQ(all.size(), 300u);
  std::sort(all.begin(), all.end());
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(all[static_cast<size_t>(i)],
              fmt::format("INFO line {:04} {}", i, std::string(40, 'x')));
  }
}

TEST_F(LogTest, LinesAreCountedPerLevelOnlyWhenWritten) {
  std::atomic<uint64_t> counters[kLineCounterSlots] = {};
  Options o = file_options("count.log");
  o.level = Level::kInfo;
  ASSERT_TRUE(configure(o));
  count_lines_in(counters);
  info("one");
  warn("two");
  warn("three");
  error("four");
  debug("not written, not counted");
  count_lines_in(nullptr);
  info("after: not counted");
  EXPECT_EQ(counters[static_cast<int>(Level::kInfo)].load(), 1u);
  EXPECT_EQ(counters[static_cast<int>(Level::kWarn)].load(), 2u);
  EXPECT_EQ(counters[static_cast<int>(Level::kError)].load(), 1u);
  EXPECT_EQ(counters[static_cast<int>(Level::kDebug1)].load(), 0u);
  EXPECT_EQ(counters[static_cast<int>(Level::kFatal)].load(), 0u);
}

TEST_F(LogTest, RotationByAge) {
  Options o = file_options("age.log");
  o.rotation_age = std::chrono::seconds(1);
  ASSERT_TRUE(configure(o));
  info("first");
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  info("second");  // the file is now older than 1 s: rotated after this write
  info("third");
  std::vector<std::string> files = files_with_stem(dir_, "age.log");
  ASSERT_EQ(files.size(), 2u);
  EXPECT_EQ(read_lines(files[1]), (std::vector<std::string>{"INFO first", "INFO second"}));
  EXPECT_EQ(read_lines(files[0]), std::vector<std::string>{"INFO third"});
}

TEST_F(LogTest, ForkedProcessesShareRotatingFile) {
  constexpr int kProcesses = 2;
  constexpr int kLines = 2000;
  Options o = file_options("m.log");
  o.line_prefix = "%Y-%m-%d %H:%M:%S";
  o.rotation_size = 16384;
  ASSERT_TRUE(configure(o));
  std::vector<pid_t> children;
  for (int p = 0; p < kProcesses; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < kLines; ++i) {
        info("process={} line={} {}", p, i, std::string(static_cast<size_t>(i % 97), 'y'));
      }
      ::_exit(0);
    }
    children.push_back(pid);
  }
  for (pid_t pid : children) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  std::vector<std::string> files = files_with_stem(dir_, "m.log");
  EXPECT_GT(files.size(), 10u);
  std::map<int, std::set<int>> seen;
  size_t total = 0;
  for (const std::string& f : files) {
    std::string content = read_text(f);
    if (!content.empty()) {
      ASSERT_EQ(content.back(), '\n') << f;
    }
    for (const std::string& line : read_lines(f)) {
      ++total;
      int p = -1;
      int i = -1;
      int consumed = 0;
      // "YYYY-MM-DD HH:MM:SS INFO process=P line=I yyy"
      ASSERT_GT(line.size(), 20u) << line;
      ASSERT_EQ(std::sscanf(line.c_str() + 20, "INFO process=%d line=%d %n", &p, &i, &consumed), 2)
          << line;
      ASSERT_TRUE(p >= 0 && p < kProcesses && i >= 0 && i < kLines) << line;
      std::string expected_tail(static_cast<size_t>(i % 97), 'y');
      std::string tail = line.substr(20 + static_cast<size_t>(consumed));
      if (i % 97 == 0) {
        // "%n" after the trailing space: nothing follows.
        EXPECT_TRUE(tail.empty()) << line;
      } else {
        EXPECT_EQ(tail, expected_tail) << line;
      }
      EXPECT_TRUE(seen[p].insert(i).second) << "duplicate " << line;
    }
  }
  EXPECT_EQ(total, static_cast<size_t>(kProcesses * kLines));
  for (int p = 0; p < kProcesses; ++p) {
    EXPECT_EQ(seen[p].size(), static_cast<size_t>(kLines)) << "process " << p;
  }
}

}  // namespace
}  // namespace pgm::log
