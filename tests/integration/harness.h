// GoogleTest fixtures for integration tests: one PostgreSQL per test suite, one pgmoneta daemon
// per test. Single-threaded use (the fixture's methods run on the test's main thread).
//
// PostgresSuite: SetUpTestSuite starts a throwaway PostgreSQL 15; tests skip when PostgreSQL's
// binaries are absent and fail when it cannot start. start_suite_postgres(major) does the same
// for another major (suites parameterised over majors call it per test).
// DaemonTest: SetUp writes the daemon's config (override configure() to change keys), creates
// its master key and vaults, starts it and waits for `ping`. TearDown stops it with SIGTERM,
// checks it exited 0 (unless the test stopped it itself), and fails on ERROR/FATAL log lines
// the test did not declare with expect_log_errors(). On failure the log tail is printed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "integration/daemon_instance.h"
#include "integration/postgres_instance.h"
#include "integration/process.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace pgm::testing {

class PostgresSuite : public ::testing::Test {
 public:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  // Stops the suite's server, if any, and starts PostgreSQL `major` in its place (a missing
  // major makes the tests skip).
  static void start_suite_postgres(int major);

 protected:
  void SetUp() override;
  static PostgresInstance* pg();
};

class DaemonTest : public PostgresSuite {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Adjusts the default config before the daemon starts.
  virtual void configure(IniConfig& /*config*/) {}
  // False: SetUp prepares files but does not start the daemon.
  virtual bool auto_start() const { return true; }

  DaemonInstance& daemon() { return *daemon_; }
  CliResult cli(const std::vector<std::string>& args, const std::string& format = "") {
    return daemon_->cli(args, format);
  }
  // Log lines containing one of these substrings may be at ERROR/FATAL level.
  void expect_log_errors(std::vector<std::string> substrings);
  // The test stopped (or expects to have stopped) the daemon: TearDown won't require it alive.
  void mark_stopped() { stopped_by_test_ = true; }
  // Starts the daemon (for auto_start() == false) and, unless told not to, waits for `ping`;
  // ASSERT-style failure on error.
  void start_daemon(bool wait_for_ping = true);

 private:
  std::unique_ptr<DaemonInstance> daemon_;
  std::vector<std::string> expected_errors_;
  bool started_ = false;
  bool stopped_by_test_ = false;
};

// Finds the server object named `name` in a status details json document (null when absent).
nlohmann::json find_server(const nlohmann::json& doc, const std::string& name);
// Depth-first search for the first member whose key equals `key` case-insensitively.
const nlohmann::json* find_key(const nlohmann::json& doc, const std::string& key);
// Last `max_lines` lines of text.
std::string tail(const std::string& text, size_t max_lines = 60);

}  // namespace pgm::testing
