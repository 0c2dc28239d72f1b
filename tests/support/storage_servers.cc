
#include "support/storage_servers.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>

namespace pgm::test_support {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

constexpr const char* kDefaultS3rver = "/opt/pgmoneta-test-tools/node_modules/.bin/s3rver";
constexpr const char* kDefaultAzurite = "/opt/pgmoneta-test-tools/node_modules/.bin/azurite-blob";
constexpr const char* kSshd = "/usr/sbin/sshd";

// Runs s3rver inside Koa with a SigV4-verifying middleware in front; prints "port=<n>".
// Arguments: s3rver's module directory, data directory, bucket, port (0 = any).
constexpr const char* kS3Wrapper = R"JS(
const [moduleDir, dir, bucket, port] = process.argv.slice(2);
const S3rver = require(moduleDir);
const crypto = require('crypto');
const secrets = { S3RVER: 'S3RVER' };
const enc = s => encodeURIComponent(s).replace(/[!'()*]/g,
    c => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const hmac = (k, d) => crypto.createHmac('sha256', k).update(d).digest();
function verify(req) {
  const auth = req.headers['authorization'];
  if (!auth) return 'no Authorization header';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return 'malformed Authorization header';
  const [, akid, date, region, signed, sig] = m;
  if (!(akid in secrets)) return null;  // s3rver itself answers InvalidAccessKeyId
  const names = signed.split(';');
  for (const h of ['host', 'x-amz-date', 'x-amz-content-sha256'])
    if (!names.includes(h)) return h + ' is not signed';
  const q = req.url.indexOf('?');
  const path = q < 0 ? req.url : req.url.slice(0, q);
  const query = q < 0 ? '' : req.url.slice(q + 1);
  const params = query === '' ? [] : query.split('&').map(p => {
    const i = p.indexOf('=');
    const k = i < 0 ? p : p.slice(0, i), v = i < 0 ? '' : p.slice(i + 1);
    return [enc(decodeURIComponent(k)), enc(decodeURIComponent(v))];
  });
  params.sort((a, b) => a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0);
  const headers = names.map(n => n + ':' + String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ') + '\n').join('');
  const canonical = [req.method, path, params.map(p => p[0] + '=' + p[1]).join('&'), headers, signed,
                     req.headers['x-amz-content-sha256']].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', req.headers['x-amz-date'], `${date}/${region}/s3/aws4_request`,
                  crypto.createHash('sha256').update(canonical).digest('hex')].join('\n');
  let k = hmac('AWS4' + secrets[akid], date);
  k = hmac(hmac(hmac(k, region), 's3'), 'aws4_request');
  return hmac(k, toSign).toString('hex') === sig ? null : 'signature mismatch';
}
const server = new S3rver({ address: '127.0.0.1', port: Number(port), directory: dir, silent: true,
                            serviceEndpoint: 'localhost', configureBuckets: [{ name: bucket, configs: [] }] });
// Keys containing "flaky" fail once per request line with 503 SlowDown, to exercise retries.
const failedOnce = new Set();
server.middleware.unshift(async (ctx, next) => {
  const problem = verify(ctx.req);
  const line = ctx.req.method + ' ' + ctx.req.url + ' ' + (ctx.req.headers['range'] || '');
  if (!problem && ctx.req.url.includes('flaky') && !failedOnce.has(line)) {
    failedOnce.add(line);
    ctx.status = 503;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>' +
               '<Message>Please reduce your request rate.</Message></Error>';
    return;
  }
  if (problem) {
    ctx.status = 403;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SignatureDoesNotMatch</Code>' +
               '<Message>The request signature we calculated does not match the signature you provided (' +
               problem + ')</Message></Error>';
    return;
  }
  return next();
});
server.run((err, address) => {
  if (err) { console.error(err); process.exit(1); }
  console.log('port=' + address.port);
});
)JS";

std::string env_or(const char* name, const char* fallback) {
  const char* value = std::getenv(name);  // NOLINT(concurrency-mt-unsafe): test set-up
  return value != nullptr ? value : fallback;
}

// argv for execv, pointing into `args` (which must outlive it). Built before fork(): the child
// of a possibly multi-threaded parent may only make async-signal-safe calls.
std::vector<char*> make_argv(std::vector<std::string>& args) {
  std::vector<char*> argv;
  argv.reserve(args.size() + 1);
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  return argv;
}

// Sends `sig` to the process group of `pid`, waits up to `grace` for the leader, then SIGKILL.
void stop_group(pid_t& pid, int sig, milliseconds grace) {
  if (pid <= 0) {
    return;
  }
  ::kill(-pid, sig);
  const auto deadline = steady_clock::now() + grace;
  while (steady_clock::now() < deadline) {
    if (::waitpid(pid, nullptr, WNOHANG) == pid) {
      ::kill(-pid, SIGKILL);  // helpers the leader left behind
      pid = -1;
      return;
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  ::kill(-pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  pid = -1;
}

void wait_port_closed(int port) {
  for (int i = 0; i < 250 && loopback_port_open(port); ++i) {
    std::this_thread::sleep_for(milliseconds(20));
  }
}

}  // namespace

namespace {

// Starts `args` (args[0] an absolute path) in a process group of its own, stderr (and stdout
// when `with_stdout`) appended to `log`, and waits until 127.0.0.1:port accepts. Sets `pid`
// (-1 when it never started or exited); returns "" or why not, with the log.
std::string spawn_listening(const std::string& name, std::vector<std::string> args,
                            const std::string& log, bool with_stdout, int port, seconds timeout,
                            pid_t& pid) {
  std::vector<char*> argv = make_argv(args);
  pid = ::fork();
  if (pid < 0) {
    pid = -1;
    return "fork failed";
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd >= 0) {
      if (with_stdout) {
        ::dup2(fd, STDOUT_FILENO);
      }
      ::dup2(fd, STDERR_FILENO);
    }
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::setpgid(pid, pid);
  const auto deadline = steady_clock::now() + timeout;
  while (steady_clock::now() < deadline) {
    if (loopback_port_open(port)) {
      return "";
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      pid = -1;
      return name + " exited at start: " + read_text(log);
    }
    std::this_thread::sleep_for(milliseconds(50));
  }
  return name + " did not listen on port " + std::to_string(port) + " within " +
         std::to_string(timeout.count()) + " s: " + read_text(log);
}

}  // namespace

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return -1;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  int port = -1;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port = ntohs(address.sin_port);
  }
  ::close(fd);
  return port;
}

bool loopback_port_open(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  ::close(fd);
  return ok;
}

// ---- S3Server ----

S3Server::S3Server(fs::path dir) : dir_(std::move(dir)) {}

S3Server::~S3Server() { stop(); }

std::string S3Server::start() {
  if (pid_ > 0) {
    return "s3rver is already running";
  }
  const std::string bin = env_or("PGM_S3RVER", kDefaultS3rver);
  std::error_code ec;
  const fs::path real = fs::canonical(bin, ec);
  if (ec) {
    return "s3rver not found at " + bin + " (scripts/install-deps.sh installs it)";
  }
  const fs::path module_dir = real.parent_path().parent_path();
  fs::create_directories(data_dir(), ec);
  if (ec) {
    return "create " + data_dir().string() + ": " + ec.message();
  }
  const fs::path script = dir_ / "s3rver_sigv4.js";
  write_text(script, kS3Wrapper);
  // s3rver's continuation tokens use DES, which OpenSSL 3 keeps in its legacy provider.
  std::vector<std::string> args = {"node",
                                   "--openssl-legacy-provider",
                                   script.string(),
                                   module_dir.string(),
                                   data_dir().string(),
                                   kBucket,
                                   std::to_string(port_)};
  std::vector<char*> argv = make_argv(args);
  int pipefd[2];
  if (::pipe(pipefd) != 0) {
    return "pipe failed";
  }
  pid_ = ::fork();
  if (pid_ < 0) {
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    return "fork failed";
  }
  if (pid_ == 0) {
    ::setpgid(0, 0);
    ::dup2(pipefd[1], STDOUT_FILENO);
    ::close(pipefd[0]);
    ::close(pipefd[1]);
    ::execvp("node", argv.data());
    ::_exit(127);
  }
  ::setpgid(pid_, pid_);
  ::close(pipefd[1]);
  // "port=<n>\n" comes once s3rver listens.
  std::string out;
  const auto deadline = steady_clock::now() + seconds(20);
  ::fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
  while (out.find('\n') == std::string::npos && steady_clock::now() < deadline) {
    char buf[256];
    const ssize_t n = ::read(pipefd[0], buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      break;
    } else {
      std::this_thread::sleep_for(milliseconds(20));
    }
  }
  ::close(pipefd[0]);
  if (out.rfind("port=", 0) != 0) {
    stop();
    return "s3rver did not start (output: '" + out + "'); scripts/install-deps.sh installs it";
  }
  port_ = std::stoi(out.substr(5));
  return {};
}

void S3Server::stop() {
  stop_group(pid_, SIGKILL, milliseconds(0));
  if (port_ > 0) {
    wait_port_closed(port_);
  }
}

// ---- AzuriteServer ----

AzuriteServer::AzuriteServer(fs::path dir) : dir_(dir.string()) {}

AzuriteServer::~AzuriteServer() {
  stop(SIGTERM);
  if (owns_dir_) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

std::string AzuriteServer::start() {
  if (pid_ > 0) {
    return "azurite is already running";
  }
  const std::string exe = env_or("PGM_AZURITE", kDefaultAzurite);
  if (::access(exe.c_str(), X_OK) != 0) {
    return "azurite-blob not found at " + exe +
           " (scripts/install-deps.sh installs it; PGM_AZURITE overrides the path)";
  }
  if (dir_.empty()) {
    std::string templ = fs::temp_directory_path() / "pgm-azurite-XXXXXX";
    if (::mkdtemp(templ.data()) == nullptr) {
      return "mkdtemp failed";
    }
    dir_ = templ;
    owns_dir_ = true;
  } else {
    std::error_code ec;
    fs::create_directories(dir_, ec);
  }
  if (port_ <= 0) {
    port_ = free_loopback_port();
  }
  const std::string port = std::to_string(port_);
  const std::string log = log_path();
  std::vector<std::string> args = {exe,
                                   "--blobHost",
                                   "127.0.0.1",
                                   "--blobPort",
                                   port,
                                   "--location",
                                   dir_,
                                   "--skipApiVersionCheck",
                                   "--disableTelemetry"};
  return spawn_listening("azurite", args, log, true, port_, seconds(60), pid_);
}

void AzuriteServer::stop(int sig) {
  stop_group(pid_, sig, seconds(5));
  if (port_ > 0) {
    wait_port_closed(port_);
  }
}

// ---- SshServer ----

std::string generate_ssh_key(const fs::path& key) {
  std::error_code ec;
  fs::remove(key, ec);
  fs::remove(key.string() + ".pub", ec);
  const std::string command =
      "ssh-keygen -q -t ed25519 -N '' -C pgm-test -f '" + key.string() + "' >/dev/null 2>&1";
  if (std::system(command.c_str()) != 0) {  // NOLINT(concurrency-mt-unsafe): test set-up
    return "ssh-keygen failed for " + key.string();
  }
  return "";
}

SshServer::SshServer(fs::path dir) : dir_(std::move(dir)), port_(free_loopback_port()) {}

SshServer::~SshServer() { stop(); }

std::string SshServer::login_user() {
  passwd* pw = ::getpwuid(::geteuid());  // NOLINT(concurrency-mt-unsafe): test set-up
  return pw != nullptr ? pw->pw_name : "root";
}

std::string SshServer::prepare() {
  if (::access(kSshd, X_OK) != 0) {
    return std::string(kSshd) +
           " is missing: scripts/install-deps.sh installs openssh-server, which these tests need";
  }
  fs::create_directories(dir_);
  fs::create_directories("/run/sshd");  // sshd's privilege separation directory
  for (const char* key : {"host_key", "user_key"}) {
    if (std::string error = generate_ssh_key(dir_ / key); !error.empty()) {
      return error;
    }
  }
  fs::copy_file(user_public_key_path(), dir_ / "authorized_keys",
                fs::copy_options::overwrite_existing);
  std::ostringstream config;
  config << "Port " << port_ << "\n"
         << "ListenAddress 127.0.0.1\n"
         << "HostKey " << (dir_ / "host_key").string() << "\n"
         << "AuthorizedKeysFile " << (dir_ / "authorized_keys").string() << "\n"
         << "PubkeyAuthentication yes\n"
         << "PasswordAuthentication no\n"
         << "KbdInteractiveAuthentication no\n"
         << "UsePAM no\n"
         << "StrictModes no\n"
         << "PermitRootLogin prohibit-password\n"
         << "UseDNS no\n"
         << "LogLevel VERBOSE\n"
         << "PidFile " << (dir_ / "sshd.pid").string() << "\n"
         << "Subsystem sftp internal-sftp -l VERBOSE\n";
  write_text(dir_ / "sshd_config", config.str());
  write_known_hosts(known_hosts_path());
  return "";
}

std::string SshServer::known_hosts_line() const {
  return "[127.0.0.1]:" + std::to_string(port_) + " " + read_text(dir_ / "host_key.pub");
}

void SshServer::write_known_hosts(const fs::path& file) const {
  write_text(file, known_hosts_line());
}

std::string SshServer::regenerate_host_key() { return generate_ssh_key(dir_ / "host_key"); }

std::string SshServer::share_client_files(uid_t uid, gid_t gid) const {
  for (const fs::path& file : {user_key_path(), user_public_key_path(), known_hosts_path()}) {
    if (::chown(file.c_str(), uid, gid) != 0) {
      return "chown " + file.string() + " failed";
    }
  }
  // The daemon walks into dir_ to reach them.
  fs::permissions(dir_, fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  return "";
}

std::string SshServer::start() {
  if (pid_ > 0) {
    return "sshd is already running";
  }
  const std::string log = log_path().string();
  std::vector<std::string> args = {kSshd, "-D", "-e", "-f", (dir_ / "sshd_config").string()};
  return spawn_listening("sshd", args, log, false, port_, seconds(10), pid_);
}

void SshServer::stop() {
  if (pid_ <= 0) {
    return;
  }
  // Session processes are sshd's descendants; sshd moves them into sessions of their own, so
  // the process group does not reach them: walk /proc for the tree.
  std::set<pid_t> tree{pid_};
  for (bool grew = true; grew;) {
    grew = false;
    for (const auto& entry : fs::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) {
        continue;
      }
      const std::string stat = read_text(entry.path() / "stat");
      const size_t close = stat.rfind(')');
      if (close == std::string::npos || close + 2 >= stat.size()) {
        continue;
      }
      std::istringstream fields(stat.substr(close + 2));
      char state = 0;
      pid_t parent = 0;
      fields >> state >> parent;
      const pid_t pid = std::stoi(name);
      if (tree.count(parent) != 0 && tree.insert(pid).second) {
        grew = true;
      }
    }
  }
  for (pid_t pid : tree) {
    ::kill(pid, SIGKILL);
  }
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  wait_port_closed(port_);
}

}  // namespace pgm::test_support
