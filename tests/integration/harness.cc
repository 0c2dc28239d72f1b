#include "integration/harness.h"

#include <algorithm>
#include <cctype>

namespace pgm::testing {

namespace {

struct SuiteState {
  std::unique_ptr<TempDir> dir;
  std::unique_ptr<PostgresInstance> pg;
  std::string skip_reason;
  std::string error;
};

SuiteState& suite() {
  static SuiteState state;
  return state;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

void PostgresSuite::SetUpTestSuite() { start_suite_postgres(kDefaultPgMajor); }

void PostgresSuite::start_suite_postgres(int major) {
  SuiteState& s = suite();
  s.pg.reset();  // stops the previous server before its directory goes
  s = SuiteState{};
  if (!run_as().error.empty()) {
    s.error = run_as().error;
    return;
  }
  if (pg_bin_dir(major).empty()) {
    s.skip_reason = major == kDefaultPgMajor
                        ? "PostgreSQL binaries not found (set PGM_PG_BINDIR or install "
                          "postgresql-15)"
                        : "PostgreSQL " + std::to_string(major) +
                              " binaries not found (run scripts/install-deps.sh as root, or set "
                              "PGM_PG_TOOLS_DIR)";
    return;
  }
  s.dir = std::make_unique<TempDir>("pgm-pg");
  s.pg = std::make_unique<PostgresInstance>(s.dir->path(), major);
  s.error = s.pg->start();
}

void PostgresSuite::TearDownTestSuite() {
  SuiteState& s = suite();
  s.pg.reset();
  s.dir.reset();
}

void PostgresSuite::SetUp() {
  const SuiteState& s = suite();
  if (!s.skip_reason.empty()) {
    GTEST_SKIP() << s.skip_reason;
  }
  ASSERT_TRUE(s.error.empty()) << "PostgreSQL set-up failed: " << s.error;
}

PostgresInstance* PostgresSuite::pg() { return suite().pg.get(); }

void DaemonTest::SetUp() {
  PostgresSuite::SetUp();
  if (IsSkipped() || HasFatalFailure()) {
    return;
  }
  daemon_ = std::make_unique<DaemonInstance>(pg());
  configure(daemon_->config());
  if (auto_start()) {
    start_daemon();
  } else {
    std::string err = daemon_->prepare();
    ASSERT_TRUE(err.empty()) << err;
  }
}

void DaemonTest::start_daemon(bool wait_for_ping) {
  std::string err = daemon_->start(wait_for_ping);
  started_ = daemon_->process().pid() > 0;
  ASSERT_TRUE(err.empty()) << err;
}

void DaemonTest::TearDown() {
  if (!daemon_) {
    return;
  }
  if (started_) {
    bool alive = daemon_->process().running();
    if (!alive && !stopped_by_test_) {
      ADD_FAILURE() << "pgmoneta exited during the test with status "
                    << daemon_->process().exit_status().value_or(-1);
    }
    if (alive) {
      std::optional<int> status = daemon_->stop();
      EXPECT_EQ(status, std::optional<int>(0)) << "pgmoneta did not exit 0 within 15 s of SIGTERM";
    }
  }
  std::vector<std::string> errors = daemon_->unexpected_errors(expected_errors_);
  EXPECT_TRUE(errors.empty()) << "unexpected ERROR lines in the daemon log:\n"
                              << [&] {
                                   std::string all;
                                   for (const std::string& e : errors) {
                                     all += e + "\n";
                                   }
                                   return all;
                                 }();
  if (HasFailure()) {
    std::cerr << "---- pgmoneta.log (tail) ----\n"
              << tail(daemon_->log()) << "---- pgmoneta stderr ----\n"
              << tail(daemon_->stderr_text()) << "---- end ----\n";
  }
  daemon_.reset();
}

void DaemonTest::expect_log_errors(std::vector<std::string> substrings) {
  expected_errors_.insert(expected_errors_.end(), substrings.begin(), substrings.end());
}

nlohmann::json find_server(const nlohmann::json& doc, const std::string& name) {
  const nlohmann::json* servers = find_key(doc, "Servers");
  if (servers == nullptr || !servers->is_array()) {
    return nullptr;
  }
  for (const nlohmann::json& s : *servers) {
    if (s.is_object() && s.contains("Server") && s["Server"] == name) {
      return s;
    }
  }
  return nullptr;
}

const nlohmann::json* find_key(const nlohmann::json& doc, const std::string& key) {
  if (doc.is_object()) {
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (lower(it.key()) == lower(key)) {
        return &it.value();
      }
    }
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      if (const nlohmann::json* found = find_key(it.value(), key)) {
        return found;
      }
    }
  } else if (doc.is_array()) {
    for (const nlohmann::json& e : doc) {
      if (const nlohmann::json* found = find_key(e, key)) {
        return found;
      }
    }
  }
  return nullptr;
}

std::string tail(const std::string& text, size_t max_lines) {
  std::vector<size_t> starts;  // start offset of each line
  for (size_t pos = 0; pos < text.size(); pos = text.find('\n', pos) + 1) {
    starts.push_back(pos);
    if (text.find('\n', pos) == std::string::npos) {
      break;
    }
  }
  if (starts.size() <= max_lines) {
    return text;
  }
  return text.substr(starts[starts.size() - max_lines]);
}

}  // namespace pgm::testing
