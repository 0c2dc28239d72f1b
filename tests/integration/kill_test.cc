// kill -9 at random moments (issue 20): a seeded, bounded series of rounds, each starting one
// operation through the real CLI against the real daemon and PostgreSQL 15 (backup, restore,
// verify --start, archive, retention, or nothing but the daemon itself) and killing the
// process doing it (the worker child, or the main process) after a random delay. After each
// round:
//
//  - every backup listed as valid verifies (pgmoneta-cli verify, and the test's own decoding
//    once per backup); an interrupted backup is absent or listed as not valid;
//  - the interrupted operation run again succeeds (a restore into the same target, an archive
//    into the same directory, verify --start of the same backup);
//  - no workspace leftover (proven-*, archive-*) and no archive temp file remains after that
//    run, and no process of a killed run lives on (no pgmoneta process outside the daemon's
//    children, no PostgreSQL of a killed verify --start);
//  - after killing the main process the daemon starts again at once on the same ports and
//    streams WAL again;
//  - what the CLI reported as a success is one (the backup verifies, the restored target is
//    complete, the archive exists).
//
// PGM_KILL_SEED and PGM_KILL_ROUNDS override the seed and the number of rounds; failures
// name the seed and the round. The seed fixes the operations, the delays as fractions of each
// operation's duration (measured at the start: this box may be slow or fast) and whether a
// pgbench load runs; where a kill lands within the work still varies from run to run.
//
// Also here: a child of a daemon killed with -9 that survived (stopped, so PR_SET_PDEATHSIG's
// SIGTERM stays pending) is stopped by the restart; an archive re-run refused because a killed
// run had completed it still clears that run's leftovers.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include <sys/prctl.h>
#include <sys/wait.h>

#include "pgm/backup/info.h"
#include "pgm/core/scope_exit.h"
#include "pgm/io/process.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
namespace fs = std::filesystem;

// The daemon's children titled `what` ("pgmoneta: <what>" or "pgmoneta: <what> ...").
std::vector<pid_t> children_titled(pid_t main_pid, const std::string& what) {
  std::vector<pid_t> out;
  const std::string title = "pgmoneta: " + what;
  for (const std::string& name : list_dir("/proc")) {
    std::optional<pid_t> pid = io::parse_pid(name);
    if (!pid) {
      continue;
    }
    std::optional<io::ProcessStat> stat = io::read_process_stat(*pid);
    if (!stat || stat->ppid != main_pid || stat->state == 'Z') {
      continue;
    }
    std::string cmdline = trim(process_cmdline(*pid));
    if (cmdline == title || cmdline.rfind(title + " ", 0) == 0) {
      out.push_back(*pid);
    }
  }
  return out;
}

// Live processes running `executable`, and those whose command line mentions `path`.
std::vector<pid_t> processes_running(const std::string& executable) {
  std::vector<pid_t> out;
  for (const std::string& name : list_dir("/proc")) {
    std::optional<pid_t> pid = io::parse_pid(name);
    if (pid && io::process_alive(*pid) && io::process_executable(*pid) == executable) {
      out.push_back(*pid);
    }
  }
  return out;
}
std::vector<pid_t> processes_mentioning(const std::string& path) {
  std::vector<pid_t> out;
  for (const std::string& name : list_dir("/proc")) {
    std::optional<pid_t> pid = io::parse_pid(name);
    if (pid && *pid != ::getpid() && io::process_alive(*pid) &&
        process_cmdline(*pid).find(path) != std::string::npos) {
      out.push_back(*pid);
    }
  }
  return out;
}

std::string describe_pids(const std::vector<pid_t>& pids) {
  std::string out;
  for (pid_t pid : pids) {
    out += std::to_string(pid) + " (" + process_cmdline(pid) + ") ";
  }
  return out;
}

enum class Op { kBackup, kRestore, kVerifyStart, kArchive, kRetention, kMain };
constexpr Op kAllOps[] = {Op::kBackup,  Op::kRestore,   Op::kVerifyStart,
                          Op::kArchive, Op::kRetention, Op::kMain};

const char* op_name(Op op) {
  switch (op) {
    case Op::kBackup:
      return "backup";
    case Op::kRestore:
      return "restore";
    case Op::kVerifyStart:
      return "verify";
    case Op::kArchive:
      return "archive";
    case Op::kRetention:
      return "retention";
    case Op::kMain:
      return "main";
  }
  return "?";
}

uint64_t env_number(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): before any thread
  return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

class KillTest : public ClusterTest<KillTest> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {"autovacuum = off"},
            .tablespace = false,
            .pgbench_scale = 1,
            .once_per_process = false};
  }

 protected:
  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    c.set("pgmoneta", "retention", "7");
    c.set("pgmoneta", "metrics", std::to_string(free_port()));
    c.set("pgmoneta", "workspace", daemon().dir().make_dir("workspace"));
  }
  bool wait_for_wal_streaming() const override { return true; }

  std::string root() { return daemon_backup_root(daemon()); }
  std::string out_path(const std::string& name) { return daemon().dir() / name; }

  nlohmann::json list_backups() {
    CliResult r = cli({"list-backup", "primary"}, "raw");
    if (r.exit_code() != 0 || !r.json || !(*r.json)["Response"].contains("Backups")) {
      ADD_FAILURE() << "list-backup: " << r.describe();
      return nlohmann::json::array();
    }
    return (*r.json)["Response"]["Backups"];
  }
  std::vector<std::string> valid_labels() {
    std::vector<std::string> out;
    for (const nlohmann::json& b : list_backups()) {
      if (b.value("Valid", false)) {
        out.push_back(b.value("Backup", ""));
      }
    }
    return out;
  }

  // Waits until the primary streams WAL and holds what PostgreSQL wrote so far.
  void wait_streaming() {
    std::string last;
    auto s = wait_for_details(
        daemon(), "primary", [](const nlohmann::json& j) { return json_bool(j, "WalStreaming"); },
        seconds(60), &last);
    ASSERT_TRUE(s.has_value()) << "no WAL streaming after the restart: " << last;
    std::string error;
    ASSERT_FALSE(switch_wal(*pg(), &error).empty()) << error;
    ASSERT_NO_FATAL_FAILURE(wait_wal_received());
  }

  // kill -9 of the main process, then a restart at once with the same configuration (same
  // ports), waiting for WAL streaming. `before_kill` runs with the daemon's children found.
  //
  // The harness kills the old daemon's whole process group when it starts the new one, which
  // would hide what a real restart meets. So the test process adopts the orphans (a child
  // subreaper) and moves each into a process group of its own (which also keeps the kernel
  // from ending stopped ones with SIGHUP, as it does in an orphaned group). Each must be gone
  // (died with its parent, or stopped by the new daemon) once the new daemon runs.
  void kill_main_and_restart(const std::function<void(const std::vector<pid_t>&)>& before_kill) {
    const pid_t main_pid = daemon().pid();
    groups_.insert(main_pid);
    std::vector<pid_t> children;
    for (const std::string& name : list_dir("/proc")) {
      std::optional<pid_t> pid = io::parse_pid(name);
      std::optional<io::ProcessStat> stat = pid ? io::read_process_stat(*pid) : std::nullopt;
      if (stat && stat->ppid == main_pid && stat->state != 'Z') {
        children.push_back(*pid);
      }
    }
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ScopeExit adopted([&children] {
      for (pid_t pid : children) {
        if (io::process_alive(pid)) {
          ADD_FAILURE() << "child " << pid << " (" << process_cmdline(pid)
                        << ") of the killed daemon lives on after the restart";
          ::kill(pid, SIGKILL);
        }
        ::waitpid(pid, nullptr, 0);  // ours while we were the subreaper
      }
      ::prctl(PR_SET_CHILD_SUBREAPER, 0);
    });
    if (before_kill) {
      before_kill(children);
    }
    ASSERT_EQ(::kill(main_pid, SIGKILL), 0);
    ASSERT_TRUE(daemon().process().wait_for(seconds(10)).has_value());
    for (pid_t pid : children) {
      ::setpgid(pid, pid);  // fails for one already gone
    }
    std::string error = daemon().start();
    ASSERT_EQ(error, "") << "restart after kill -9 of the main process";
    // Those ending on PR_SET_PDEATHSIG's SIGTERM may take a moment.
    auto deadline = steady_clock::now() + seconds(10);
    while (std::any_of(children.begin(), children.end(), io::process_alive) &&
           steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(20));
    }
    ASSERT_NO_FATAL_FAILURE(wait_streaming());
  }

  // Starts `args` in the background; after `delay` kills the daemon's child titled `what`
  // (at the first moment it exists once the delay passed). Returns the CLI's exit status and
  // whether a child was killed.
  struct Run {
    int status = -1;
    bool killed = false;
    std::string stdout_text;  // the -F raw document
    std::string output;       // stdout and stderr
  };
  // An output path with no earlier round's text in it (the harness appends to its redirections).
  std::string fresh_out(const std::string& name) {
    const std::string out = out_path(name);
    ::unlink(out.c_str());
    ::unlink((out + ".err").c_str());
    return out;
  }
  Run run_and_kill(const std::vector<std::string>& args, const std::string& what,
                   milliseconds delay) {
    Run run;
    const std::string out = fresh_out("round.out");
    Process client = start_cli(daemon(), args, out);
    EXPECT_GT(client.pid(), 0) << client.error();
    const auto kill_at = steady_clock::now() + delay;
    const auto deadline = steady_clock::now() + seconds(120);
    while (client.running() && steady_clock::now() < deadline) {
      if (steady_clock::now() >= kill_at) {
        std::vector<pid_t> children = children_titled(daemon().pid(), what);
        if (!children.empty()) {
          run.killed = ::kill(children.front(), SIGKILL) == 0;
          break;
        }
      }
      std::this_thread::sleep_for(milliseconds(2));
    }
    std::optional<int> status = client.wait_for(seconds(120));
    EXPECT_TRUE(status.has_value()) << "pgmoneta-cli " << args.front() << " did not return";
    hits_ += run.killed ? 1 : 0;
    std::cout << "[   INFO   ] " << args.front()
              << (run.killed ? ": worker killed" : ": done before the kill") << ", cli exit "
              << status.value_or(-1) << "\n";
    run.status = status.value_or(-1);
    run.stdout_text = read_text(out);
    run.output = run.stdout_text + read_text(out + ".err");
    return run;
  }

  // A run that must succeed (the re-run of an interrupted operation).
  CliResult must_succeed(const std::vector<std::string>& args, const std::string& why) {
    CliResult r = cli(args, "raw");
    EXPECT_EQ(r.exit_code(), 0) << why << ": " << r.describe() << "\n" << tail(daemon().log());
    return r;
  }

  // A backup the CLI reported as made (exit 0, `raw` output in `text`) is listed valid.
  void expect_reported_backup_valid(const std::string& text) {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, false);
    std::string label;
    if (!doc.is_discarded() && doc.contains("Response") && doc["Response"].contains("Backup") &&
        doc["Response"]["Backup"].is_string()) {
      label = doc["Response"]["Backup"].get<std::string>();
    }
    ASSERT_FALSE(label.empty()) << "the CLI exited 0 but names no backup: " << text;
    std::vector<std::string> valid = valid_labels();
    EXPECT_NE(std::find(valid.begin(), valid.end(), label), valid.end())
        << "reported backup " << label << " is not listed valid";
  }

  void round_backup(milliseconds delay);
  void round_restore(milliseconds delay, int round);
  void round_verify_start(milliseconds delay);
  void round_archive(milliseconds delay, int round);
  void round_retention(milliseconds delay);
  void round_main(milliseconds delay, bool with_backup);
  void check_invariants();
  // A restored data directory is complete: no restore mark, pg_control present.
  static void expect_complete_restore(const std::string& target) {
    EXPECT_FALSE(path_exists(target + "/.pgmoneta-restore")) << target;
    EXPECT_TRUE(path_exists(target + "/global/pg_control")) << target;
  }

  std::set<std::string> checked_;  // backups our own decoder verified
  int hits_ = 0;                   // operations killed while they ran
  // The process groups of the daemons this test started (the harness starts each in a group of
  // its own, which its children inherit). Other tests may run daemons of the same executable
  // at the same time: only processes in these groups are ours. The children of a killed daemon
  // are moved to groups of their own, but kill_main_and_restart checks those itself.
  std::set<pid_t> groups_;
  int copies_started_ = 0;
};

void KillTest::round_backup(milliseconds delay) {
  Run run = run_and_kill({"backup", "primary"}, "backup", delay);
  if (run.status == 0) {
    // Done before the kill landed: what the CLI reported must be a valid backup.
    ASSERT_NO_FATAL_FAILURE(expect_reported_backup_valid(run.stdout_text));
  } else {
    EXPECT_TRUE(run.killed) << "backup failed without a kill: " << run.output;
    take_backup();  // the re-run
  }
  // Keep the repository small: at most three valid backups.
  std::vector<std::string> valid = valid_labels();
  for (size_t i = 0; i + 3 < valid.size(); ++i) {
    must_succeed({"delete", "primary", valid[i]}, "delete an older backup");
    checked_.erase(valid[i]);
  }
}

void KillTest::round_restore(milliseconds delay, int round) {
  std::vector<std::string> valid = valid_labels();
  ASSERT_FALSE(valid.empty());
  const std::string parent = daemon().dir().make_dir("restore-" + std::to_string(round));
  const std::string target = parent + "/primary-" + valid.back();
  const std::vector<std::string> args = {"restore", "primary", valid.back(), "current", parent};
  Run run = run_and_kill(args, "restore", delay);
  if (run.status == 0) {
    expect_complete_restore(target);
  } else {
    EXPECT_TRUE(run.killed) << "restore failed without a kill: " << run.output;
    must_succeed(args, "restore again into the target of the killed restore");
    expect_complete_restore(target);
  }
  // The first two restores also start: the copy must be a working cluster.
  if (copies_started_ < 2 && !HasFailure()) {
    ++copies_started_;
    PostgresInstance* copy = start_copy(target);
    ASSERT_NE(copy, nullptr);
    bool ok = false;
    EXPECT_EQ(sql_value(*copy, "SELECT count(*) FROM pgbench_accounts", &ok), "100000");
    copies_.back()->stop();
  }
  std::error_code ec;
  fs::remove_all(parent, ec);
}

void KillTest::round_verify_start(milliseconds delay) {
  const std::vector<std::string> args = {"verify", "primary", "newest", workspace(), "--start"};
  Run run = run_and_kill(args, "verify", delay);
  if (run.status != 0) {
    EXPECT_TRUE(run.killed) << "verify --start failed without a kill: " << run.output;
    run.output = must_succeed(args, "verify --start again").out();
  }
  nlohmann::json doc = nlohmann::json::parse(run.output, nullptr, false);
  const nlohmann::json* proven = doc.is_discarded() ? nullptr : find_key(doc, "ProvenRestore");
  EXPECT_TRUE(proven != nullptr && *proven == true) << run.output;
  // The killed run's PostgreSQL dies with it (PR_SET_PDEATHSIG); give its backends a moment.
  auto deadline = steady_clock::now() + seconds(10);
  while (!processes_mentioning(workspace()).empty() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  EXPECT_EQ(describe_pids(processes_mentioning(workspace())), "")
      << "processes of a killed verify --start live on";
}

void KillTest::round_archive(milliseconds delay, int round) {
  std::vector<std::string> valid = valid_labels();
  ASSERT_FALSE(valid.empty());
  const std::string parent = daemon().dir().make_dir("archive-" + std::to_string(round));
  const std::string file = parent + "/archive-primary-" + valid.back() + ".tar.zstd";
  const std::vector<std::string> args = {"archive", "primary", valid.back(), "current", parent};
  Run run = run_and_kill(args, "archive", delay);
  if (run.status != 0) {
    EXPECT_TRUE(run.killed) << "archive failed without a kill: " << run.output;
    CliResult again = cli(args, "raw");
    if (again.exit_code() != 0 && path_exists(file)) {
      // Killed after its rename: the archive is there (and refused again) but complete.
      EXPECT_NE(again.describe().find("already exists"), std::string::npos) << again.describe();
      std::cout << "[   INFO   ] archive killed after it was complete; the daemon's log:\n";
      std::istringstream lines(daemon().log());
      for (std::string line; std::getline(lines, line);) {
        if (line.find("archive") != std::string::npos) {
          std::cout << "    " << line << "\n";
        }
      }
    } else {
      EXPECT_EQ(again.exit_code(), 0) << "archive again: " << again.describe();
    }
  }
  // The one archive holds a whole data directory, and nothing else is left beside it.
  EXPECT_EQ(list_dir(parent), std::vector<std::string>{fs::path(file).filename().string()});
  // zstd checks its frame checksums, tar reads to the end: a cut archive fails here.
  CommandOutput listing =
      run_in(parent,
             {"/bin/sh", "-c",
              "zstd -q -dc '" + file +
                  "' > whole.tar && tar -tf whole.tar > members && rm -f "
                  "whole.tar && grep -c -E '^(\\./)?global/pg_control$' members && rm -f members"});
  EXPECT_EQ(trim(listing.out), "1") << listing.describe();
  std::error_code ec;
  fs::remove_all(parent, ec);
}

void KillTest::round_retention(milliseconds delay) {
  std::vector<std::string> valid = valid_labels();
  ASSERT_FALSE(valid.empty());
  const std::string old =
      backup::make_label(std::chrono::system_clock::now() - std::chrono::hours(24 * 30));
  ASSERT_EQ(fabricate_backup(root() + "/" + valid.back(), root(), old, ""), "");
  auto interval = [this](const char* value) {
    reload_with([value](IniConfig& c) { c.set("pgmoneta", "retention_interval", value); });
  };
  ASSERT_NO_FATAL_FAILURE(interval("1"));
  // The job starts within a second; kill it `delay` after it appears.
  pid_t child = 0;
  auto deadline = steady_clock::now() + seconds(10);
  while (child == 0 && steady_clock::now() < deadline) {
    std::vector<pid_t> c = children_titled(daemon().pid(), "retention");
    child = c.empty() ? 0 : c.front();
    std::this_thread::sleep_for(milliseconds(1));
  }
  std::this_thread::sleep_for(delay);
  const bool killed = child != 0 && ::kill(child, SIGKILL) == 0;
  hits_ += killed ? 1 : 0;
  ASSERT_NO_FATAL_FAILURE(interval("1h"));
  std::cout << "[   INFO   ] retention child " << child
            << (killed ? " killed" : " ended before the kill") << "\n";
  // Whatever the kill left: every backup listed valid verifies (the fabricated one included,
  // when still there).
  ASSERT_NO_FATAL_FAILURE(check_invariants());
  // The next pass removes the expired backup.
  ASSERT_NO_FATAL_FAILURE(interval("1"));
  deadline = steady_clock::now() + seconds(30);
  while (path_exists(root() + "/" + old) && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(100));
  }
  EXPECT_FALSE(path_exists(root() + "/" + old)) << "the next retention did not remove " << old;
  ASSERT_NO_FATAL_FAILURE(interval("1h"));
  checked_.erase(old);
}

void KillTest::round_main(milliseconds delay, bool with_backup) {
  std::optional<Process> client;
  if (with_backup) {
    client = start_cli(daemon(), {"backup", "primary"}, fresh_out("main.out"));
    std::cout << "[   INFO   ] a backup runs while the main process is killed\n";
  }
  ++hits_;
  std::this_thread::sleep_for(delay);
  ASSERT_NO_FATAL_FAILURE(kill_main_and_restart({}));
  if (client) {
    std::optional<int> status = client->wait_for(seconds(60));
    ASSERT_TRUE(status.has_value()) << "the CLI did not return after the daemon was killed";
    if (*status == 0) {
      ASSERT_NO_FATAL_FAILURE(expect_reported_backup_valid(read_text(out_path("main.out"))));
    }
  }
}

void KillTest::check_invariants() {
  ASSERT_EQ(cli({"ping"}).exit_code(), 0) << "the daemon does not answer";
  // Every backup listed valid verifies, for the daemon and for our own decoder.
  std::optional<crypto::MasterKey> key = master_key();
  for (const std::string& label : valid_labels()) {
    CliResult v = cli({"verify", "primary", label, workspace()}, "raw");
    EXPECT_EQ(v.exit_code(), 0) << "valid backup " << label << " does not verify: " << v.describe();
    if (!checked_.contains(label)) {
      VerifyResult r = verify_backup(root() + "/" + label, ".zstd", key ? &*key : nullptr);
      EXPECT_TRUE(r.problems.empty()) << label << ": " << r.summary();
      checked_.insert(label);
    }
  }
  // Nothing of a killed verify --start or archive stays in the workspace after the next run.
  for (const std::string& name : list_dir(workspace())) {
    ADD_FAILURE() << "left in the workspace: " << name;
  }
  // No pgmoneta process outside the daemon: every one is the main process or its child.
  const pid_t main_pid = daemon().pid();
  groups_.insert(main_pid);
  const std::string exe = fs::canonical(daemon().bin("pgmoneta")).string();
  for (pid_t pid : processes_running(exe)) {
    if (!groups_.contains(::getpgid(pid))) {
      continue;  // another test's daemon (or a process already gone: getpgid gives -1)
    }
    std::optional<io::ProcessStat> stat = io::read_process_stat(pid);
    EXPECT_TRUE(pid == main_pid || (stat && stat->ppid == main_pid))
        << "pgmoneta process " << pid << " (" << process_cmdline(pid)
        << ") is no child of the daemon " << main_pid;
  }
}

TEST_F(KillTest, RandomKillsLeaveNothingBrokenAndEveryRerunWorks) {
  const uint64_t seed = env_number("PGM_KILL_SEED", 20261207);
  const int rounds = static_cast<int>(env_number("PGM_KILL_ROUNDS", 12));
  std::cout << "[   INFO   ] kill test: seed " << seed << ", " << rounds
            << " rounds (PGM_KILL_SEED, PGM_KILL_ROUNDS)\n";
  SCOPED_TRACE("PGM_KILL_SEED=" + std::to_string(seed));
  expect_log_errors({") was killed by signal 9"});
  ASSERT_NO_FATAL_FAILURE(start_online());
  bool created = false;
  std::string out =
      sql_value(*pg(), "CREATE TABLE kill_rounds (round int, at timestamptz)", &created);
  ASSERT_TRUE(created) << out;

  // Calibration: how long each operation takes here, so that delays fall inside it.
  auto timed = [this](const std::vector<std::string>& args) {
    auto started = steady_clock::now();
    must_succeed(args, "calibration");
    return std::chrono::duration_cast<milliseconds>(steady_clock::now() - started);
  };
  std::map<Op, milliseconds> took;
  took[Op::kBackup] = timed({"backup", "primary"});
  const std::string calibration = daemon().dir().make_dir("calibration");
  took[Op::kRestore] = timed({"restore", "primary", "newest", "current", calibration});
  took[Op::kVerifyStart] = timed({"verify", "primary", "newest", workspace(), "--start"});
  const std::string calibration_archive = daemon().dir().make_dir("calibration-archive");
  took[Op::kArchive] = timed({"archive", "primary", "newest", "current", calibration_archive});
  took[Op::kRetention] = milliseconds(200);
  took[Op::kMain] = took[Op::kBackup];
  ASSERT_FALSE(HasFailure());
  for (const std::string& dir : {calibration, calibration_archive}) {
    std::error_code ec;
    fs::remove_all(dir, ec);
  }
  for (const auto& [op, ms] : took) {
    std::cout << "[   INFO   ] " << op_name(op) << " takes " << ms.count() << " ms\n";
  }

  std::mt19937_64 rng(seed);
  // Every operation once (in a seeded order), then a random pick per round.
  std::vector<Op> plan(std::begin(kAllOps), std::end(kAllOps));
  std::shuffle(plan.begin(), plan.end(), rng);
  while (static_cast<int>(plan.size()) < rounds) {
    plan.push_back(kAllOps[std::uniform_int_distribution<size_t>(0, std::size(kAllOps) - 1)(rng)]);
  }
  plan.resize(static_cast<size_t>(rounds));
  const auto started = steady_clock::now();
  for (int round = 0; round < rounds; ++round) {
    const Op op = plan[static_cast<size_t>(round)];
    // A fraction, so that the seed alone fixes every draw; the delay follows the duration
    // measured here.
    const double fraction = std::uniform_real_distribution<double>(0.0, 1.1)(rng);
    const milliseconds delay(
        static_cast<int64_t>(static_cast<double>(took[op].count()) * fraction));
    const bool with_backup = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    const bool with_load = std::uniform_int_distribution<int>(0, 1)(rng) == 1;
    SCOPED_TRACE("round " + std::to_string(round) + ": " + op_name(op) + " killed after " +
                 std::to_string(delay.count()) + " ms");
    std::cout << "[   INFO   ] round " << round << ": " << op_name(op) << ", kill after "
              << delay.count() << " ms\n";
    bool ok = false;
    sql_value(*pg(), "INSERT INTO kill_rounds VALUES (" + std::to_string(round) + ", now())", &ok);
    EXPECT_TRUE(ok);
    // Half of the backups (and kills of the main process) run under a short pgbench load.
    std::optional<Process> load;
    if ((op == Op::kBackup || op == Op::kMain) && with_load) {
      load = pg()->spawn_tool("pgbench", {"-n", "-c", "1", "-T", "3"}, out_path("pgbench.out"));
      std::cout << "[   INFO   ] under pgbench load\n";
    }
    switch (op) {
      case Op::kBackup:
        round_backup(delay);
        break;
      case Op::kRestore:
        round_restore(delay, round);
        break;
      case Op::kVerifyStart:
        round_verify_start(delay);
        break;
      case Op::kArchive:
        round_archive(delay, round);
        break;
      case Op::kRetention:
        round_retention(delay);
        break;
      case Op::kMain:
        round_main(delay, with_backup);
        break;
    }
    if (load) {
      std::optional<int> bench = load->wait_for(seconds(30));
      EXPECT_EQ(bench, std::optional<int>(0)) << read_text(out_path("pgbench.out"));
    }
    ASSERT_FALSE(HasFatalFailure());
    ASSERT_NO_FATAL_FAILURE(check_invariants());
    ASSERT_FALSE(HasFailure()) << "stopping at the first broken round";
  }
  std::cout << "[   INFO   ] " << rounds << " rounds (" << hits_ << " kills during the work) in "
            << std::chrono::duration_cast<seconds>(steady_clock::now() - started).count() << " s\n";
}

// An archive killed after its rename leaves the archive, and its staging in the workspace (and
// maybe its temp file beside the archive). The re-run is refused (the archive exists) but must
// still clear what the dead run left.
TEST_F(KillTest, ARefusedArchiveStillClearsWhatAKilledRunLeft) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string label = take_backup();
  ASSERT_FALSE(label.empty());
  const std::string parent = daemon().dir().make_dir("archives");
  must_succeed({"archive", "primary", label, "current", parent}, "archive");
  const std::vector<std::string> archives = list_dir(parent);
  ASSERT_EQ(archives.size(), 1U);
  pid_t dead = ::fork();
  if (dead == 0) {
    ::_exit(0);
  }
  ::waitpid(dead, nullptr, 0);
  const std::string staging =
      workspace() + "/archive-primary-" + label + "-" + std::to_string(dead);
  const std::string temp = parent + "/" + archives[0] + ".tmp." + std::to_string(dead);
  daemon().dir().make_dir(fs::relative(staging, daemon().dir().path()).string());
  ASSERT_TRUE(path_exists(staging));
  daemon().dir().write_file(fs::relative(temp, daemon().dir().path()).string(), "partial");
  ASSERT_TRUE(path_exists(temp));

  CliResult again = cli({"archive", "primary", label, "current", parent}, "raw");
  EXPECT_NE(again.exit_code(), 0) << again.describe();
  EXPECT_NE(again.describe().find("already exists"), std::string::npos) << again.describe();
  EXPECT_FALSE(path_exists(staging)) << "the dead run's staging is still in the workspace";
  EXPECT_FALSE(path_exists(temp)) << "the dead run's temp file is still there";
}

// A child that outlives its daemon (stopped: the SIGTERM of PR_SET_PDEATHSIG stays pending)
// keeps the repository lock, its port and its replication slot. The next daemon stops it
// (recorded in <base_dir>/.pgmoneta.children) and starts on the same ports at once.
TEST_F(KillTest, AChildThatSurvivedItsKilledDaemonIsStoppedByTheRestart) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const pid_t main_pid = daemon().pid();
  std::vector<pid_t> metrics;
  auto deadline = steady_clock::now() + seconds(10);
  while ((metrics = children_titled(main_pid, "metrics")).empty() &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  std::vector<pid_t> survivors = children_titled(main_pid, "wal/primary");
  ASSERT_EQ(survivors.size(), 1U);
  ASSERT_EQ(metrics.size(), 1U);
  survivors.push_back(metrics[0]);
  ASSERT_NO_FATAL_FAILURE(kill_main_and_restart([&](const std::vector<pid_t>& children) {
    for (pid_t pid : survivors) {
      ASSERT_NE(std::find(children.begin(), children.end(), pid), children.end());
      ASSERT_EQ(::kill(pid, SIGSTOP), 0);
    }
    // Stopped before the main process dies: a SIGTERM pending beside SIGSTOP would go first.
    auto stopped_by = steady_clock::now() + seconds(10);
    for (pid_t pid : survivors) {
      while (io::read_process_stat(pid).value_or(io::ProcessStat{}).state != 'T' &&
             steady_clock::now() < stopped_by) {
        std::this_thread::sleep_for(milliseconds(5));
      }
    }
  }));
  for (pid_t pid : survivors) {
    EXPECT_NE(daemon().log().find("stopped process " + std::to_string(pid)), std::string::npos)
        << "leftover " << pid << " not stopped by the new daemon:\n"
        << tail(daemon().log());
  }
  ASSERT_FALSE(children_titled(daemon().pid(), "metrics").empty());
}

}  // namespace
}  // namespace pgm::testing
