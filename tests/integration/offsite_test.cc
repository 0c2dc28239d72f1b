// Off-site copies end to end: the real daemon with `storage_engine = local,<engine>` backs up a
// real PostgreSQL 15 and uploads to a throwaway server on loopback (s3rver behind a SigV4-checking
// proxy, Azurite, OpenSSH sshd: tests/support), driven through pgmoneta-cli. For each engine:
//
//  a. the copy is recorded (STORAGE_<E> in backup.info, Remote in info), listed by `<e> ls`,
//     deleted with `delete`; with the local backup directory gone, `<e> restore` brings it back
//     and PostgreSQL starts on it with a row written before the backup;
//  b. then an object overwritten with other bytes under its old SHA-512 fails `<e> restore`,
//     naming the engine, the key and the mismatch, and leaves nothing in the target directory;
//  c. the server stopped while the upload runs: the backup succeeds locally, unmarked; once the
//     server is back the periodic pass completes the copy;
//  d. wrong credentials: one line naming the engine and the cause, the local backup intact.
//
// For S3, incremental chains: a chain of two incrementals restores through `s3 restore` (the
// staging downloads every ancestor); delete of the full backup rolls it into its child, whose
// remote copy is replaced at once by the new full one; a chain whose parent the engine lacks
// fails naming it.
//
// And for S3 (multipart): a backup holding a 1 GiB relation segment goes up and comes back while
// the daemon's peak resident memory (its peak_rss_kb= log lines) stays within 64 MiB of the main
// process's VmRSS before the operation.
//
// Every test (one process each under ctest) starts one PostgreSQL, one server and one daemon.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "integration/backup_helpers.h"
#include "integration/cluster_fixture.h"
#include "integration/harness.h"
#include "integration/wal_helpers.h"
#include "support/storage_servers.h"

#include "pgm/backup/info.h"
#include "pgm/config/config.h"
#include "pgm/storage/azure.h"
#include "pgm/storage/configured.h"
#include "pgm/storage/storage.h"

namespace pgm::testing {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;
using test_support::AzuriteServer;
using test_support::S3Server;
using test_support::SshServer;

// The prefix every engine gets as its base directory (s3_base_dir, azure_base_dir; ssh_base_dir
// is <remote root>/<kBaseDir>).
constexpr const char* kBaseDir = "pgmoneta";
constexpr const char* kAzureContainer = "pgmoneta";

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return s;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool any_file_under(const fs::path& dir, const std::string& suffix = "") {
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->is_regular_file(ec) && it->path().string().ends_with(suffix)) {
      return true;
    }
  }
  return false;
}

// One engine's throwaway server and the pgmoneta.conf keys that reach it.
class Remote {
 public:
  virtual ~Remote() = default;
  // storage_engine's word: "s3", "azure", "ssh".
  virtual std::string engine() const = 0;
  // First start, or a restart on the same port with the objects stored so far. Empty or an
  // error.
  virtual std::string start() = 0;
  // As abruptly as the server allows without losing what it acknowledged.
  virtual void stop() = 0;
  // The [pgmoneta] keys for this server.
  virtual void configure(IniConfig& c) const = 0;
  // Keys with credentials the server refuses; the cause the error must name (lowercase).
  virtual std::string break_credentials(IniConfig& c) = 0;
  // True once an object of a backup of `primary` reached the server: an upload is under way.
  virtual bool has_backup_objects() const = 0;
};

class S3Remote : public Remote {
 public:
  explicit S3Remote(const std::string& root) : server_(root + "/s3") {}
  std::string engine() const override { return "s3"; }
  std::string start() override { return server_.start(); }
  void stop() override { server_.stop(); }
  void configure(IniConfig& c) const override {
    c.set("pgmoneta", "storage_engine", "local,s3");
    c.set("pgmoneta", "s3_endpoint", "127.0.0.1");
    c.set("pgmoneta", "s3_port", std::to_string(server_.port()));
    c.set("pgmoneta", "s3_use_tls", "off");
    c.set("pgmoneta", "s3_region", "us-east-1");
    c.set("pgmoneta", "s3_access_key_id", S3Server::kAccessKeyId);
    c.set("pgmoneta", "s3_secret_access_key", S3Server::kSecretAccessKey);
    c.set("pgmoneta", "s3_bucket", S3Server::kBucket);
    c.set("pgmoneta", "s3_base_dir", kBaseDir);
    c.set("pgmoneta", "s3_storage_class", "STANDARD");
  }
  std::string break_credentials(IniConfig& c) override {
    c.set("pgmoneta", "s3_secret_access_key", "not-the-secret");
    return "403 signaturedoesnotmatch";
  }
  bool has_backup_objects() const override {
    return any_file_under(server_.data_dir() / S3Server::kBucket / kBaseDir / "primary" / "backup",
                          "._S3rver_object");
  }

 private:
  S3Server server_;
};

class AzureRemote : public Remote {
 public:
  explicit AzureRemote(const std::string& root) : server_(root + "/azurite") {}
  std::string engine() const override { return "azure"; }
  std::string start() override {
    std::string error = server_.start();
    if (!error.empty() || created_) {
      return error;
    }
    // Like on Azure, the container exists before pgmoneta uses it.
    storage::AzureOptions o;
    o.account = AzuriteServer::kAccount;
    o.container = kAzureContainer;
    o.shared_key = AzuriteServer::kDevKey;
    o.endpoint = "127.0.0.1";
    o.port = server_.port();
    o.use_tls = false;
    auto created = storage::create_azure_container(o);
    if (!created) {
      return "create container: " + created.error().message();
    }
    created_ = true;
    return "";
  }
  // SIGTERM: Azurite keeps its metadata in memory and saves it on a clean shutdown; a SIGKILL
  // could lose the container itself, which is not the outage under test.
  void stop() override { server_.stop(SIGTERM); }
  void configure(IniConfig& c) const override {
    c.set("pgmoneta", "storage_engine", "local,azure");
    c.set("pgmoneta", "azure_storage_account", AzuriteServer::kAccount);
    c.set("pgmoneta", "azure_container", kAzureContainer);
    c.set("pgmoneta", "azure_shared_key", AzuriteServer::kDevKey);
    c.set("pgmoneta", "azure_base_dir", kBaseDir);
    c.set("pgmoneta", "azure_endpoint", "127.0.0.1");
    c.set("pgmoneta", "azure_port", std::to_string(server_.port()));
    c.set("pgmoneta", "azure_use_tls", "off");
  }
  std::string break_credentials(IniConfig& c) override {
    // Well-formed base64, not the account's key.
    c.set("pgmoneta", "azure_shared_key",
          "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleQ==");
    return "403";
  }
  bool has_backup_objects() const override {
    // Azurite keeps blobs under opaque names: its access log shows the uploads instead.
    const std::string log = read_text(server_.log_path());
    return log.find(std::string("PUT /") + AzuriteServer::kAccount + "/" + kAzureContainer + "/" +
                    kBaseDir + "/primary/backup/") != std::string::npos;
  }

 private:
  AzuriteServer server_;
  bool created_ = false;
};

class SshRemote : public Remote {
 public:
  explicit SshRemote(const std::string& root) : root_(root), server_(root + "/sshd") {}
  std::string engine() const override { return "ssh"; }
  std::string start() override {
    if (!prepared_) {
      if (std::string error = server_.prepare(); !error.empty()) {
        return error;
      }
      // The daemon runs as the unprivileged test user and reads the key pair and known_hosts.
      if (std::string error = server_.share_client_files(run_as().uid, run_as().gid);
          !error.empty()) {
        return error;
      }
      prepared_ = true;
    }
    return server_.start();
  }
  void stop() override { server_.stop(); }
  void configure(IniConfig& c) const override {
    c.set("pgmoneta", "storage_engine", "local,ssh");
    c.set("pgmoneta", "ssh_hostname", "127.0.0.1");
    c.set("pgmoneta", "ssh_port", std::to_string(server_.port()));
    c.set("pgmoneta", "ssh_username", SshServer::login_user());
    c.set("pgmoneta", "ssh_base_dir", remote_base());
    c.set("pgmoneta", "ssh_private_key_file", server_.user_key_path().string());
    c.set("pgmoneta", "ssh_public_key_file", server_.user_public_key_path().string());
    c.set("pgmoneta", "ssh_known_hosts_file", server_.known_hosts_path().string());
  }
  std::string break_credentials(IniConfig& c) override {
    const std::string stranger = root_ + "/stranger_key";
    EXPECT_EQ(test_support::generate_ssh_key(stranger), "");
    chown_to_test_user(stranger);
    chown_to_test_user(stranger + ".pub");
    c.set("pgmoneta", "ssh_private_key_file", stranger);
    c.set("pgmoneta", "ssh_public_key_file", stranger + ".pub");
    return "authentication";
  }
  bool has_backup_objects() const override {
    return any_file_under(fs::path(remote_base()) / "primary" / "backup");
  }

 private:
  std::string remote_base() const { return root_ + "/remote/" + kBaseDir; }

  std::string root_;
  SshServer server_;
  bool prepared_ = false;
};

std::unique_ptr<Remote> make_remote(const std::string& engine, const std::string& root) {
  if (engine == "s3") {
    return std::make_unique<S3Remote>(root);
  }
  if (engine == "azure") {
    return std::make_unique<AzureRemote>(root);
  }
  return std::make_unique<SshRemote>(root);
}

// VmRSS of a process in KiB, -1 when unreadable.
int64_t vm_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      return std::strtoll(line.c_str() + 6, nullptr, 10);
    }
  }
  return -1;
}

// Every peak_rss_kb=<n> value in the log, in order.
std::vector<int64_t> peak_rss_values(const std::string& log) {
  std::vector<int64_t> values;
  static const std::regex kPeak("peak_rss_kb=([0-9]+)");
  for (std::sregex_iterator it(log.begin(), log.end(), kPeak), end; it != end; ++it) {
    values.push_back(std::stoll((*it)[1].str()));
  }
  return values;
}

class OffsiteFixture : public ClusterTest<OffsiteFixture> {
 public:
  static ClusterSetup cluster_setup() {
    return {.settings = {"autovacuum = off"}, .tablespace = false, .pgbench_scale = 1};
  }

 protected:
  virtual std::string engine() const = 0;

  void SetUp() override {
    // The server first: configure() needs its port.
    remote_root_ = std::make_unique<TempDir>("pgm-it-remote");
    remote_ = make_remote(engine(), remote_root_->path());
    remote_error_ = remote_->start();
    ClusterTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) {
      return;
    }
    ASSERT_EQ(remote_error_, "") << "cannot start the " << engine() << " server";
  }

  void TearDown() override {
    ClusterTest::TearDown();
    remote_.reset();
    remote_root_.reset();
  }

  void configure(IniConfig& c) override {
    ClusterTest::configure(c);
    remote_->configure(c);
  }

  std::string stored_key() const { return "STORAGE_" + upper(engine()); }
  std::string backup_dir(const std::string& label) {
    return daemon_backup_root(daemon()) + "/" + label;
  }

  // A backup through the CLI (it waits for the uploads); the whole Response.
  nlohmann::json backup_response() {
    CliResult r = cli({"backup", "primary"}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "backup failed: " << r.describe();
      return nullptr;
    }
    return (*r.json)["Response"];
  }

  // This engine's entry of Response.Offsite (null after adding a failure).
  nlohmann::json offsite_entry(const nlohmann::json& response) {
    const nlohmann::json* offsite = response.is_object() ? find_key(response, "Offsite") : nullptr;
    if (offsite == nullptr || !offsite->is_array()) {
      ADD_FAILURE() << "no Response.Offsite array: " << response.dump();
      return nullptr;
    }
    for (const nlohmann::json& e : *offsite) {
      if (e.is_object() && e.value("Engine", "") == engine()) {
        return e;
      }
    }
    ADD_FAILURE() << "no Offsite entry for " << engine() << ": " << offsite->dump();
    return nullptr;
  }

  // A backup whose upload to the engine succeeded; its label ("" after adding a failure).
  std::string backup_stored() {
    nlohmann::json response = backup_response();
    if (response.is_null()) {
      return "";
    }
    nlohmann::json entry = offsite_entry(response);
    EXPECT_TRUE(entry.is_object() && entry.value("Stored", false)) << entry.dump();
    EXPECT_EQ(entry.is_object() ? entry.value("Error", "?") : "?", "") << entry.dump();
    return response.value("Backup", "");
  }

  // `<engine> ls primary`: Response (null after adding a failure).
  nlohmann::json remote_ls() {
    CliResult r = cli({engine(), "ls", "primary"}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << engine() << " ls failed: " << r.describe();
      return nullptr;
    }
    return (*r.json)["Response"];
  }

  static bool lists_backup(const nlohmann::json& ls, const std::string& label) {
    const nlohmann::json* backups = ls.is_object() ? find_key(ls, "Backups") : nullptr;
    if (backups == nullptr || !backups->is_array()) {
      return false;
    }
    return std::find(backups->begin(), backups->end(), nlohmann::json(label)) != backups->end();
  }

  // Keys of Response.Objects that belong to the backup `label`.
  static std::vector<std::string> objects_of(const nlohmann::json& ls, const std::string& label) {
    std::vector<std::string> keys;
    const nlohmann::json* objects = ls.is_object() ? find_key(ls, "Objects") : nullptr;
    if (objects == nullptr || !objects->is_array()) {
      return keys;
    }
    const std::string needle = "primary/backup/" + label + "/";
    for (const nlohmann::json& o : *objects) {
      std::string key = o.is_object() ? o.value("Key", "") : "";
      if (key.find(needle) != std::string::npos) {
        keys.push_back(key);
      }
    }
    return keys;
  }

  // The engine as the daemon opens it, from the daemon's own pgmoneta.conf.
  std::unique_ptr<storage::Storage> open_like_the_daemon() {
    auto loaded = config::load_config(daemon().config_path());
    if (!loaded) {
      ADD_FAILURE() << "load " << daemon().config_path() << ": " << loaded.error().message();
      return nullptr;
    }
    const config::Config& c = *loaded->config;
    auto engine_id = storage::parse_engine(engine());
    auto server = std::find_if(c.servers.begin(), c.servers.end(),
                               [](const config::ServerConfig& s) { return s.name == "primary"; });
    if (!engine_id || server == c.servers.end()) {
      ADD_FAILURE() << "no engine " << engine() << " or no server primary";
      return nullptr;
    }
    auto opened = storage::open_engine(*engine_id, c, *server);
    if (!opened) {
      ADD_FAILURE() << "open " << engine() << ": " << opened.error().message();
      return nullptr;
    }
    return std::move(*opened);
  }

  // `verify primary <label>` passes (the local backup is intact).
  void expect_local_backup_valid(const std::string& label) {
    EXPECT_TRUE(path_exists(backup_dir(label) + "/backup.info")) << label;
    std::string ws = daemon().dir().make_dir("verify-" + label);
    CliResult v = cli({"verify", "primary", label, ws}, "raw");
    EXPECT_EQ(v.exit_code(), 0) << v.describe();
  }

  // Runs pgmoneta-cli -F raw in the background, waits up to `timeout`; its exit status (-1 on
  // timeout) and parsed stdout (null when it is not JSON).
  std::pair<int, nlohmann::json> long_cli(const std::vector<std::string>& args,
                                          std::chrono::seconds timeout) {
    static int n = 0;
    const std::string out = daemon().dir() / ("long-cli-" + std::to_string(++n) + ".out");
    Process p = start_cli(daemon(), args, out);
    std::optional<int> status = p.wait_for(timeout);
    nlohmann::json doc = nlohmann::json::parse(read_text(out), nullptr, false);
    if (!status) {
      ADD_FAILURE() << "pgmoneta-cli did not finish within " << timeout.count() << " s";
    }
    if (doc.is_discarded()) {
      doc = nullptr;
    }
    if (!status || *status != 0) {
      std::cerr << "pgmoneta-cli stdout: " << read_text(out)
                << "\nstderr: " << read_text(out + ".err") << "\n";
    }
    return {status.value_or(-1), doc};
  }

  std::unique_ptr<TempDir> remote_root_;
  std::unique_ptr<Remote> remote_;
  std::string remote_error_;
};

class OffsiteTest : public OffsiteFixture, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string engine() const override { return GetParam(); }
};

// ---- a+b. upload, list, delete, lose the disk, restore from the remote copy, corruption ----

TEST_P(OffsiteTest, RemoteCopyRestoresAfterLossDeleteRemovesItCorruptionIsCaught) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  bool ok = false;
  // One table per engine: the suite's PostgreSQL is shared when the binary runs every test.
  const std::string table = "offsite_probe_" + engine();
  ASSERT_EQ(
      sql_value(*pg(),
                "CREATE TABLE " + table + " AS SELECT 'written before the backup'::text AS v", &ok),
      "");
  ASSERT_TRUE(ok);

  const std::string kept = backup_stored();
  ASSERT_FALSE(kept.empty());
  EXPECT_FALSE(read_info_file(backup_dir(kept))[stored_key()].empty())
      << "backup.info of " << kept << " has no " << stored_key();
  CliResult info = cli({"info", "primary", kept}, "raw");
  ASSERT_EQ(info.exit_code(), 0) << info.describe();
  ASSERT_TRUE(info.json.has_value());
  const nlohmann::json* remote = find_key(*info.json, "Remote");
  ASSERT_NE(remote, nullptr) << "info has no Remote: " << info.out();
  EXPECT_NE(std::find(remote->begin(), remote->end(), nlohmann::json(engine())), remote->end())
      << "info Remote: " << remote->dump();

  const std::string deleted = backup_stored();
  ASSERT_FALSE(deleted.empty());
  nlohmann::json ls = remote_ls();
  EXPECT_TRUE(lists_backup(ls, kept)) << ls.dump();
  EXPECT_TRUE(lists_backup(ls, deleted)) << ls.dump();
  std::vector<std::string> kept_objects = objects_of(ls, kept);
  EXPECT_NE(std::find_if(kept_objects.begin(), kept_objects.end(),
                         [](const std::string& k) { return k.ends_with("/backup.info"); }),
            kept_objects.end())
      << ls.dump();
  EXPECT_FALSE(objects_of(ls, deleted).empty()) << ls.dump();

  // delete removes the remote copy, then the local one.
  CliResult del = cli({"delete", "primary", deleted}, "raw");
  ASSERT_EQ(del.exit_code(), 0) << del.describe();
  EXPECT_FALSE(path_exists(backup_dir(deleted)));
  ls = remote_ls();
  EXPECT_FALSE(lists_backup(ls, deleted)) << ls.dump();
  EXPECT_TRUE(objects_of(ls, deleted).empty()) << ls.dump();
  EXPECT_TRUE(lists_backup(ls, kept)) << ls.dump();

  // WAL: every completed segment reaches the engine under its local name with its size, and
  // the engine's high-water mark names the last one.
  ASSERT_EQ(
      sql_value(*pg(), "CREATE TABLE " + table + "_wal AS SELECT 1 AS i; SELECT pg_switch_wal()",
                &ok)
          .empty(),
      false);
  ASSERT_TRUE(ok);
  ASSERT_NO_FATAL_FAILURE(wait_wal_received());
  std::map<std::string, uint64_t> local_wal;  // complete segments: name -> size
  const std::string wal_dir = daemon_wal_dir(daemon());
  for (const std::string& name : list_dir(wal_dir)) {
    if (name.size() >= 24 && name.find('.') != 0 && !name.ends_with(".partial") &&
        name.find_first_not_of("0123456789ABCDEF") >= 24) {
      local_wal[name] = fs::file_size(fs::path(wal_dir) / name);
    }
  }
  ASSERT_FALSE(local_wal.empty()) << "no complete WAL segment in " << wal_dir;
  std::map<std::string, uint64_t> remote_wal;
  const auto wal_deadline = steady_clock::now() + seconds(60);
  do {
    remote_wal.clear();
    CliResult wl = cli({engine(), "ls", "primary", "wal/"}, "raw");
    const nlohmann::json* objects = wl.json && wl.json->contains("Response")
                                        ? find_key((*wl.json)["Response"], "Objects")
                                        : nullptr;
    for (const nlohmann::json& o : objects != nullptr ? *objects : nlohmann::json::array()) {
      std::string key = o.value("Key", "");
      remote_wal[key.substr(key.rfind('/') + 1)] = o.value("Size", uint64_t{0});
    }
    if (std::all_of(local_wal.begin(), local_wal.end(), [&](const auto& entry) {
          auto it = remote_wal.find(entry.first);
          return it != remote_wal.end() && it->second == entry.second;
        })) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(500));
  } while (steady_clock::now() < wal_deadline);
  for (const auto& [name, size] : local_wal) {
    EXPECT_EQ(remote_wal.count(name) ? remote_wal[name] : uint64_t{0}, size)
        << name << " not shipped to " << engine() << " within 60 s";
  }
  const std::string mark = read_text(fs::path(daemon_backup_root(daemon())).parent_path() /
                                     ".offsite" / (engine() + ".wal"));
  EXPECT_EQ(mark.substr(0, 24), local_wal.rbegin()->first.substr(0, 24)) << mark;

  // The disk holding the backup is lost; the WAL is not.
  fs::remove_all(backup_dir(kept));
  ASSERT_FALSE(path_exists(backup_dir(kept)));

  const std::string parent = daemon().dir().make_dir("restored");
  CliResult r = cli({engine(), "restore", "primary", "newest", "current", parent}, "raw");
  ASSERT_EQ(r.exit_code(), 0) << r.describe();
  const nlohmann::json* wal_files = find_key((*r.json)["Response"], "WalFiles");
  ASSERT_NE(wal_files, nullptr) << r.describe();
  EXPECT_GT(wal_files->get<int64_t>(), 0) << "current restore took no WAL from " << engine();
  const std::string target = parent + "/primary-" + kept;
  ASSERT_TRUE(path_exists(target + "/global/pg_control")) << list_dir(parent).size();
  PostgresInstance* copy = start_copy(target);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(sql_value(*copy, "SELECT v FROM " + table, &ok), "written before the backup")
      << tail(copy->log());

  // b. The same remote copy with one object overwritten by other bytes under its old SHA-512
  // (only the download can tell): the restore fails naming the engine, the key and the
  // mismatch, and leaves nothing behind. (Part of this test to spare a second cluster, server,
  // daemon and upload per engine.)
  expect_log_errors({"SHA-512 mismatch", "restore"});

  std::unique_ptr<storage::Storage> s = open_like_the_daemon();
  ASSERT_TRUE(s);
  auto objects = s->list("primary/backup/" + kept + "/data/base/");
  ASSERT_TRUE(objects) << objects.error().message();
  ASSERT_FALSE(objects->empty());
  const storage::ObjectInfo victim = *std::max_element(
      objects->begin(), objects->end(),
      [](const storage::ObjectInfo& a, const storage::ObjectInfo& b) { return a.size < b.size; });
  ASSERT_GT(victim.size, 0u);
  auto old = s->head(victim.key);
  ASSERT_TRUE(old) << old.error().message();
  ASSERT_FALSE(old->sha512.empty());

  // Other bytes of the same size, stored under the old digest: only the download can tell.
  std::string garbage(victim.size, '\0');
  std::mt19937_64 rng(42);
  for (char& c : garbage) {
    c = static_cast<char>(rng());
  }
  const std::string garbage_path = remote_root_->write_file("garbage", garbage);
  auto put = s->put_file(victim.key, garbage_path, old->sha512);
  ASSERT_TRUE(put) << put.error().message();
  s.reset();  // an SFTP session of our own must not outlive the test's server

  const std::string corrupt_parent = daemon().dir().make_dir("corrupt");
  CliResult bad = cli({engine(), "restore", "primary", kept, "current", corrupt_parent});
  EXPECT_NE(bad.exit_code(), 0) << bad.describe();
  const std::string text = bad.out() + bad.err();
  EXPECT_NE(text.find(engine() + ": "), std::string::npos) << bad.describe();
  EXPECT_NE(text.find(victim.key), std::string::npos) << bad.describe();
  EXPECT_NE(text.find("SHA-512 mismatch"), std::string::npos) << bad.describe();
  EXPECT_TRUE(list_dir(corrupt_parent).empty())
      << "left behind: " << list_dir(corrupt_parent).size() << " "
      << (list_dir(corrupt_parent).empty() ? "" : list_dir(corrupt_parent)[0]);
}

// ---- c. the server stops while the upload runs ----

TEST_P(OffsiteTest, ServerStoppedMidUploadIsCompletedByThePeriodicPass) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  // While the server is away the upload and the periodic pass fail, naming the engine.
  expect_log_errors({engine() + ": "});

  const std::string out = daemon().dir() / "backup.out";
  Process backup = start_cli(daemon(), {"backup", "primary"}, out);
  ASSERT_GT(backup.pid(), 0) << backup.error();
  bool seen = false;
  const auto deadline = steady_clock::now() + seconds(120);
  while (!seen && backup.running() && steady_clock::now() < deadline) {
    seen = remote_->has_backup_objects();
    if (!seen) {
      std::this_thread::sleep_for(milliseconds(5));
    }
  }
  if (seen) {
    remote_->stop();
  }
  ASSERT_TRUE(seen) << "no object reached the " << engine()
                    << " server before the backup command ended: " << read_text(out)
                    << read_text(out + ".err");
  std::optional<int> status = backup.wait_for(seconds(180));
  ASSERT_TRUE(status.has_value()) << "backup did not end";
  EXPECT_EQ(*status, 0) << read_text(out) << read_text(out + ".err");
  nlohmann::json doc = nlohmann::json::parse(read_text(out), nullptr, false);
  ASSERT_FALSE(doc.is_discarded()) << read_text(out);
  const std::string label = doc["Response"].value("Backup", "");
  ASSERT_FALSE(label.empty()) << doc.dump();
  nlohmann::json entry = offsite_entry(doc["Response"]);
  ASSERT_TRUE(entry.is_object());
  EXPECT_FALSE(entry.value("Stored", true)) << entry.dump();
  EXPECT_NE(entry.value("Error", ""), "") << entry.dump();
  std::cout << "[   INFO   ] upload error: " << entry.value("Error", "") << "\n";
  EXPECT_EQ(read_info_file(backup_dir(label)).count(stored_key()), 0u);

  ASSERT_EQ(remote_->start(), "");
  // The periodic pass runs every 5 s; it retries the upload.
  std::string stored;
  for (auto until = steady_clock::now() + seconds(60);
       stored.empty() && steady_clock::now() < until;) {
    std::this_thread::sleep_for(milliseconds(500));
    stored = read_info_file(backup_dir(label))[stored_key()];
  }
  EXPECT_FALSE(stored.empty()) << "the periodic pass did not complete the copy within 60 s";
  nlohmann::json ls = remote_ls();
  EXPECT_TRUE(lists_backup(ls, label)) << ls.dump();
  expect_local_backup_valid(label);
}

// ---- d. wrong credentials ----

TEST_P(OffsiteTest, WrongCredentialsNameTheEngineAndTheCauseAndKeepTheLocalBackup) {
  const std::string cause = remote_->break_credentials(daemon().config());
  daemon().write_config();
  ASSERT_NO_FATAL_FAILURE(start_online());
  expect_log_errors({engine() + ": "});

  nlohmann::json response = backup_response();
  ASSERT_FALSE(response.is_null());
  const std::string label = response.value("Backup", "");
  ASSERT_FALSE(label.empty());
  nlohmann::json entry = offsite_entry(response);
  ASSERT_TRUE(entry.is_object());
  EXPECT_FALSE(entry.value("Stored", true)) << entry.dump();
  const std::string error = entry.value("Error", "");
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  EXPECT_EQ(error.rfind(engine() + ": ", 0), 0u) << error;
  EXPECT_NE(lower(error).find(cause), std::string::npos) << error;
  std::cout << "[   INFO   ] Offsite.Error: " << error << "\n";
  // The daemon log says the same on one line.
  bool logged = false;
  std::istringstream log(daemon().log());
  for (std::string line; std::getline(log, line);) {
    logged = logged || (line.find(engine() + ": ") != std::string::npos &&
                        lower(line).find(cause) != std::string::npos);
  }
  EXPECT_TRUE(logged) << "no log line names " << engine() << " and '" << cause << "'\n"
                      << tail(daemon().log(), 20);
  EXPECT_EQ(read_info_file(backup_dir(label)).count(stored_key()), 0u);
  expect_local_backup_valid(label);
}

// A named function, not a lambda: gtest's macro has a parameter called `info` already.
std::string engine_test_name(const ::testing::TestParamInfo<std::string>& param) {
  return param.param == "s3" ? "S3" : param.param == "azure" ? "Azure" : "Ssh";
}

INSTANTIATE_TEST_SUITE_P(Engines, OffsiteTest, ::testing::Values("s3", "azure", "ssh"),
                         engine_test_name);

// ---- e. incremental chains through S3 ----

class OffsiteIncrementalTest : public OffsiteFixture {
 protected:
  std::string engine() const override { return "s3"; }

  // backup primary <parent>, stored on the engine; the new label ("" after a failure).
  std::string incremental_stored(const std::string& parent) {
    CliResult r = cli({"backup", "primary", parent}, "raw");
    if (r.exit_code() != 0 || !r.json || !r.json->contains("Response")) {
      ADD_FAILURE() << "incremental backup failed: " << r.describe();
      return "";
    }
    nlohmann::json entry = offsite_entry((*r.json)["Response"]);
    EXPECT_TRUE(entry.is_object() && entry.value("Stored", false)) << entry.dump();
    return (*r.json)["Response"].value("Backup", "");
  }

  void sql(const std::string& statement) {
    CommandOutput out = pg()->psql(statement);
    ASSERT_EQ(out.exit_code, 0) << statement << ": " << out.describe();
  }

  // `s3 restore primary <label> current`, then PostgreSQL on the copy answers `query` as
  // `expected`.
  void expect_remote_restore(const std::string& label, const std::string& query,
                             const std::string& expected, const std::string& name) {
    const std::string parent = daemon().dir().make_dir(name);
    CliResult r = cli({engine(), "restore", "primary", label, "current", parent}, "raw");
    ASSERT_EQ(r.exit_code(), 0) << r.describe();
    PostgresInstance* copy = start_copy(parent + "/primary-" + label);
    ASSERT_NE(copy, nullptr);
    bool ok = false;
    EXPECT_EQ(sql_value(*copy, query, &ok), expected) << tail(copy->log());
    EXPECT_TRUE(ok);
  }
};

TEST_F(OffsiteIncrementalTest, ChainRestoresFromTheRemoteAndARollupReplacesTheRemoteCopy) {
  ASSERT_NO_FATAL_FAILURE(start_online());
  const std::string full = backup_stored();
  ASSERT_FALSE(full.empty());
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 1 "
          "WHERE aid % 50 = 0"));
  const std::string first = incremental_stored(full);
  ASSERT_FALSE(first.empty());
  ASSERT_NO_FATAL_FAILURE(
      sql("UPDATE pgbench_accounts SET abalance = abalance + 7 WHERE aid % 70 = 3; "
          "CREATE TABLE offsite_inc AS SELECT g AS i, md5(g::text) AS v "
          "FROM generate_series(1, 5000) g"));
  const std::string second = incremental_stored(first);
  ASSERT_FALSE(second.empty());
  EXPECT_EQ(read_info_file(backup_dir(second))["PARENT"], first);
  nlohmann::json ls = remote_ls();
  for (const std::string& label : {full, first, second}) {
    EXPECT_TRUE(lists_backup(ls, label)) << label << ": " << ls.dump();
  }
  auto has_incremental_object = [&](const nlohmann::json& listing, const std::string& label) {
    std::vector<std::string> keys = objects_of(listing, label);
    return std::any_of(keys.begin(), keys.end(), [](const std::string& k) {
      return k.find("/INCREMENTAL.") != std::string::npos;
    });
  };
  EXPECT_TRUE(has_incremental_object(ls, first)) << ls.dump();

  const std::string query =
      "SELECT concat_ws(' ', (SELECT count(*) || ':' || sum(hashtext(a::text)) "
      "FROM pgbench_accounts a), (SELECT count(*) || ':' || sum(hashtext(o::text)) "
      "FROM offsite_inc o))";
  bool ok = false;
  const std::string expected = sql_value(*pg(), query, &ok);
  ASSERT_TRUE(ok);

  // The newest, from the remote chain alone: three backups staged, rebuilt, started.
  ASSERT_NO_FATAL_FAILURE(expect_remote_restore(second, query, expected, "chain"));

  // Deleting the full backup rolls it into the first incremental; the engine then holds the
  // new (full) first backup and no longer the deleted one.
  CliResult del = cli({"delete", "primary", full}, "raw");
  ASSERT_EQ(del.exit_code(), 0) << del.describe();
  ASSERT_TRUE(del.json.has_value()) << del.describe();
  EXPECT_EQ((*del.json)["Response"].value("RolledInto", ""), first) << del.describe();
  std::map<std::string, std::string> first_info = read_info_file(backup_dir(first));
  EXPECT_EQ(first_info["TYPE"], "0");
  EXPECT_FALSE(first_info[stored_key()].empty()) << "the new " << first << " was not uploaded";
  ls = remote_ls();
  EXPECT_FALSE(lists_backup(ls, full)) << ls.dump();
  EXPECT_TRUE(objects_of(ls, full).empty()) << ls.dump();
  EXPECT_TRUE(lists_backup(ls, first)) << ls.dump();
  EXPECT_FALSE(has_incremental_object(ls, first))
      << "stale objects of the old " << first << ": " << ls.dump();
  ASSERT_NO_FATAL_FAILURE(expect_remote_restore(second, query, expected, "after-rollup"));

  // Without its parent on the engine the chain cannot come back: the error says which.
  std::unique_ptr<storage::Storage> s = open_like_the_daemon();
  ASSERT_TRUE(s);
  const std::vector<std::string> info_key{"primary/backup/" + first + "/backup.info"};
  auto removed = s->remove(info_key);
  ASSERT_TRUE(removed) << removed.error().message();
  s.reset();
  expect_log_errors({"parent", "restore"});
  const std::string broken = daemon().dir().make_dir("broken");
  CliResult bad = cli({engine(), "restore", "primary", second, "current", broken});
  EXPECT_NE(bad.exit_code(), 0) << bad.describe();
  const std::string text = bad.out() + bad.err();
  EXPECT_NE(text.find("parent " + first), std::string::npos) << bad.describe();
  EXPECT_TRUE(list_dir(broken).empty()) << list_dir(broken).size();
}

// ---- f. a 1 GiB relation segment through S3 (multipart) with bounded memory ----

class OffsiteLargeTest : public OffsiteFixture {
 protected:
  std::string engine() const override { return "s3"; }
  void configure(IniConfig& c) override {
    OffsiteFixture::configure(c);
    // Stored as is: the remote object of the first segment is exactly 1 GiB.
    c.set("pgmoneta", "compression", "none");
  }
};

TEST_F(OffsiteLargeTest, OneGibSegmentGoesUpAndComesBackWithBoundedMemory) {
  // ~1.06 GiB of heap: 2.5 M rows of 436 bytes (18 a page) are quicker to write than 30 M ints.
  // Written before the daemon starts: its replication slot begins after this WAL, so the
  // periodic pass does not ship a second GiB.
  bool ok = false;
  std::string created = sql_value(*pg(),
                                  "CREATE TABLE big AS SELECT g AS i, repeat('x', 400) AS pad FROM "
                                  "generate_series(1, 2500000) g",
                                  &ok);
  ASSERT_TRUE(ok) << created;
  std::string relpath = sql_value(*pg(), "SELECT pg_relation_filepath('big')", &ok);
  ASSERT_TRUE(ok) << relpath;
  std::string pages = sql_value(*pg(), "SELECT pg_relation_size('big') / 8192", &ok);
  ASSERT_TRUE(ok) << pages;
  ASSERT_GT(std::stoll(pages), 131072) << "the relation must exceed one 1 GiB segment";
  ASSERT_EQ(sql_value(*pg(), "CHECKPOINT", &ok), "");
  ASSERT_NO_FATAL_FAILURE(start_online());

  const int64_t before = vm_rss_kib(daemon().pid());
  ASSERT_GT(before, 0);
  auto [status, doc] = long_cli({"backup", "primary"}, seconds(540));
  ASSERT_EQ(status, 0) << doc.dump();
  ASSERT_TRUE(doc.is_object() && doc.contains("Response")) << doc.dump();
  const std::string label = doc["Response"].value("Backup", "");
  ASSERT_FALSE(label.empty());
  nlohmann::json entry = offsite_entry(doc["Response"]);
  ASSERT_TRUE(entry.is_object());
  ASSERT_TRUE(entry.value("Stored", false)) << entry.dump();
  EXPECT_GE(entry.value("Bytes", uint64_t{0}), uint64_t{1} << 30) << entry.dump();

  nlohmann::json ls = remote_ls();
  bool segment = false;
  const nlohmann::json* objects = find_key(ls, "Objects");
  ASSERT_NE(objects, nullptr) << ls.dump();
  for (const nlohmann::json& o : *objects) {
    if (o.value("Key", "").ends_with("primary/backup/" + label + "/data/" + relpath)) {
      segment = true;
      EXPECT_EQ(o.value("Size", uint64_t{0}), uint64_t{1} << 30) << o.dump();
    }
  }
  EXPECT_TRUE(segment) << "no object for data/" << relpath;

  std::vector<int64_t> peaks = peak_rss_values(daemon().log());
  ASSERT_FALSE(peaks.empty()) << "no peak_rss_kb= line after the upload";
  const size_t after_upload = peaks.size();
  const int64_t upload_peak = *std::max_element(peaks.begin(), peaks.end());
  std::cout << "[   INFO   ] daemon VmRSS before " << before << " KiB, upload peak " << upload_peak
            << " KiB\n";
  EXPECT_LT(upload_peak - before, 64 * 1024) << "upload grew to " << upload_peak << " KiB";

  ASSERT_NO_FATAL_FAILURE(wait_wal_received());
  fs::remove_all(backup_dir(label));  // the restore must come from S3
  const std::string parent = daemon().dir().make_dir("restored");
  const int64_t before_restore = vm_rss_kib(daemon().pid());
  ASSERT_GT(before_restore, 0);
  auto [restored, restore_doc] =
      long_cli({"s3", "restore", "primary", "newest", "current", parent}, seconds(540));
  ASSERT_EQ(restored, 0) << restore_doc.dump();
  peaks = peak_rss_values(daemon().log());
  ASSERT_GT(peaks.size(), after_upload) << "no peak_rss_kb= line after the restore";
  const int64_t restore_peak =
      *std::max_element(peaks.begin() + static_cast<long>(after_upload), peaks.end());
  std::cout << "[   INFO   ] daemon VmRSS before restore " << before_restore
            << " KiB, restore peak " << restore_peak << " KiB\n";
  EXPECT_LT(restore_peak - before_restore, 64 * 1024)
      << "restore grew to " << restore_peak << " KiB";

  const std::string target = parent + "/primary-" + label;
  PostgresInstance* copy = start_copy(target);
  ASSERT_NE(copy, nullptr);
  EXPECT_EQ(sql_value(*copy, "SELECT count(*) || ':' || sum(i) FROM big", &ok),
            "2500000:3125001250000")
      << tail(copy->log());
}

}  // namespace
}  // namespace pgm::testing
