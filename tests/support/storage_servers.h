// Throwaway storage servers on 127.0.0.1 for the storage engine tests and the daemon's off-site
// tests: s3rver behind a SigV4-checking proxy (S3Server), Azurite (AzuriteServer) and OpenSSH's
// sshd (SshServer). Each runs as a child of the test process (root in our containers), can be
// stopped and started again on the same port with the same data, and is killed on destruction.
// Not thread-safe: one thread at a time per object (a restart may happen on another thread
// than the start).
//
// Tools: s3rver and Azurite from /opt/pgmoneta-test-tools (scripts/install-deps.sh; PGM_S3RVER
// and PGM_AZURITE override the paths), /usr/sbin/sshd and ssh-keygen from openssh-server.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "support/temp_dir.h"  // read_text, write_text
#include <sys/types.h>

namespace pgm::test_support {

// A TCP port on 127.0.0.1 that was free a moment ago; -1 when none could be bound.
int free_loopback_port();
// True when something accepts connections on 127.0.0.1:port.
bool loopback_port_open(int port);

// s3rver 3.x (which checks only the access key id) behind a Koa middleware that recomputes the
// SigV4 signature of every request with Node's crypto and answers 403 SignatureDoesNotMatch on
// a mismatch. Keys containing "flaky" fail once per request line with 503 SlowDown. One bucket,
// kBucket; credentials kAccessKeyId / kSecretAccessKey; path-style addressing.
class S3Server {
 public:
  static constexpr const char* kAccessKeyId = "S3RVER";
  static constexpr const char* kSecretAccessKey = "S3RVER";
  static constexpr const char* kBucket = "pgm-test";

  // `dir` (created when missing) holds the proxy script and s3rver's data; the caller owns it.
  explicit S3Server(std::filesystem::path dir);
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;
  ~S3Server();  // stop()

  // Starts and waits until it listens (20 s). The first start takes a free port, later ones
  // reuse it and the objects stored so far. Empty on success, else why it failed.
  std::string start();
  // SIGKILL to the whole process group (a crash, as far as clients can tell). Idempotent.
  void stop();
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  // Where s3rver keeps the objects: <data_dir>/<bucket>/<key>._S3rver_object (+ metadata).
  std::filesystem::path data_dir() const { return dir_ / "data"; }

 private:
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// azurite-blob with its access log (one line per request, written asynchronously) in
// <dir>/azurite.log. Account kAccount with the well-known development key kDevKey.
class AzuriteServer {
 public:
  static constexpr const char* kAccount = "devstoreaccount1";
  static constexpr const char* kDevKey =
      "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

  // `dir` empty: start() makes a temporary workspace, removed on destruction; otherwise the
  // caller's directory (created when missing) is used and kept.
  explicit AzuriteServer(std::filesystem::path dir = {});
  AzuriteServer(const AzuriteServer&) = delete;
  AzuriteServer& operator=(const AzuriteServer&) = delete;
  ~AzuriteServer();  // stop(SIGTERM), then removes a temporary workspace

  // Starts and waits until it listens (60 s: Azurite is slow to load). The first start takes a
  // free port, later ones reuse it and the workspace. Empty on success, else why it failed.
  std::string start();
  // `sig` to the process group, SIGKILL after 5 s. Idempotent.
  void stop(int sig);
  bool running() const { return pid_ > 0; }

  int port() const { return port_; }
  // The workspace (--location: blob data and metadata) and azurite.log.
  const std::string& dir() const { return dir_; }
  std::string log_path() const { return dir_ + "/azurite.log"; }

 private:
  std::string dir_;
  bool owns_dir_ = false;
  pid_t pid_ = -1;
  int port_ = -1;
};

// Generates an ed25519 key pair without passphrase at `key` (+ ".pub"). Empty or an error.
std::string generate_ssh_key(const std::filesystem::path& key);

// A throwaway OpenSSH server in `dir`: its own host key, a user key pair authorised for every
// user (AuthorizedKeysFile), key authentication only, internal-sftp. The client trusts it
// through known_hosts_path(). Logins as root are allowed (prohibit-password), so tests running
// as root log in as themselves.
class SshServer {
 public:
  explicit SshServer(std::filesystem::path dir);
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;
  ~SshServer();  // stop()

  // Keys, authorized_keys, sshd_config, known_hosts; empty or an error.
  std::string prepare();
  // Starts sshd -D and waits until it accepts connections (10 s); empty or an error (with
  // sshd's log). Same port every time.
  std::string start();
  // Kills the listener and every session process below it (sessions outlive a stopped
  // listener, so a "stopped server" must lose them too) and waits until the port is closed.
  void stop();
  bool running() const { return pid_ > 0; }

  // A new host key: clients holding the old known_hosts see a changed key.
  std::string regenerate_host_key();
  // Writes the known_hosts line for this server to `file`.
  void write_known_hosts(const std::filesystem::path& file) const;
  // "[127.0.0.1]:<port> ssh-ed25519 AAAA... pgm-test\n".
  std::string known_hosts_line() const;
  // Gives the client files (user key pair, known_hosts) to uid:gid, so an unprivileged daemon
  // can read them. Empty or an error.
  std::string share_client_files(uid_t uid, gid_t gid) const;

  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path user_key_path() const { return dir_ / "user_key"; }
  std::filesystem::path user_public_key_path() const { return dir_ / "user_key.pub"; }
  std::filesystem::path known_hosts_path() const { return dir_ / "known_hosts"; }
  std::filesystem::path log_path() const { return dir_ / "sshd.log"; }
  // The user the test process runs as (the login name to use).
  static std::string login_user();

 private:
  std::filesystem::path dir_;
  int port_;
  pid_t pid_ = -1;
};

}  // namespace pgm::test_support
