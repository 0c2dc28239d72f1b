// Management socket fuzzing: 10,000 malformed frames over short connections (at most 50 at a
// time) plus a few slow senders; afterwards the daemon must be alive and answer `ping`, without
// leaked descriptors or unreaped children.
#include <dirent.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "integration/harness.h"
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "pgm/core/unique_fd.h"

namespace pgm::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kSeed = 0x70676D6F6E657461;  // "pgmoneta"
constexpr int kFrames = 10000;
constexpr int kConcurrency = 50;
constexpr int kSlowSenders = 5;

enum class Kind {
  kRandomBytes,
  kTruncated,
  kHugeLength,
  kGarbageJson,
  kBadCompression,
  kBadEncryption,
  kCount
};
const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kRandomBytes:
      return "random-bytes";
    case Kind::kTruncated:
      return "truncated";
    case Kind::kHugeLength:
      return "huge-length";
    case Kind::kGarbageJson:
      return "garbage-json";
    case Kind::kBadCompression:
      return "bad-compression";
    case Kind::kBadEncryption:
      return "bad-encryption";
    case Kind::kCount:
      break;
  }
  return "?";
}

struct Stats {
  std::atomic<int> sent[static_cast<int>(Kind::kCount)]{};
  std::atomic<int> answered{0};
  std::atomic<int> closed_without_answer{0};
  std::atomic<int> no_answer_in_time{0};  // complete frames neither answered nor closed in 5 s
  std::atomic<int> connect_failures{0};
  std::atomic<bool> gave_up{false};
  std::mutex mu;
  std::vector<std::string> hang_examples;
};

std::string random_bytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) {
    c = static_cast<char>(rng() & 0xFF);
  }
  return s;
}

std::string garbage_json(std::mt19937_64& rng) {
  static const char* const samples[] = {
      "",
      "{",
      "[]",
      "null",
      "42",
      R"("Header")",
      R"({"Header":)",
      R"({"Header":{}})",
      R"({"Header":null,"Request":[]})",
      R"({"Header":{"Command":"ping"},"Request":{}})",
      R"({"Header":{"Command":-1},"Request":{}})",
      R"({"Header":{"Command":2147483647},"Request":{}})",
      R"({"Header":{"Command":1.5e308},"Request":{}})",
      R"({"Header":{"Command":7,"Output":99},"Request":7})",
      R"({"Header":{"Command":24},"Request":{"Server":12,"Action":[]}})",
      R"({"Header":{"Command":23},"Request":{"ConfigKey":{},"ConfigValue":null}})",
      R"({"Header":{"Command":22},"Request":{"ConfigKey":"\u0000"}})",
      R"({"Header":{"Command":9},"Request":{}}trailing)",
      "\xff\xfe\xfd",
  };
  size_t pick = rng() % (std::size(samples) + 2);
  if (pick < std::size(samples)) {
    return samples[pick];
  }
  if (pick == std::size(samples)) {
    // Deeply nested arrays.
    size_t depth = 1000 + rng() % 20000;
    return std::string(depth, '[') + std::string(depth, ']');
  }
  return random_bytes(rng, rng() % 300);
}

std::string header(uint8_t compression, uint8_t encryption, uint32_t length) {
  std::string h;
  h.push_back(static_cast<char>(compression));
  h.push_back(static_cast<char>(encryption));
  uint32_t be = htonl(length);
  h.append(reinterpret_cast<const char*>(&be), 4);
  return h;
}

UniqueFd connect_to(const std::string& path) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      timeval tv{5, 0};
      ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
      return fd;
    }
    if (errno != EAGAIN && errno != ECONNREFUSED && errno != EINTR) {
      break;
    }
    std::this_thread::sleep_for(milliseconds(10));
  }
  return {};
}

void send_all(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      return;  // the daemon may close early: fine
    }
    off += static_cast<size_t>(n);
  }
}

enum class Reply { kAnswered, kClosed, kTimeout };

// Reads until EOF or timeout; kAnswered when at least a frame header arrived.
Reply drain(int fd, milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  size_t got = 0;
  char buf[8192];
  while (true) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return Reply::kTimeout;
    }
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left));
    if (r <= 0) {
      continue;
    }
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n > 0) {
      got += static_cast<size_t>(n);
      continue;
    }
    return got >= 6 ? Reply::kAnswered : Reply::kClosed;
  }
}

void one_connection(const std::string& path, int index, Stats& stats) {
  std::mt19937_64 rng(kSeed ^ (static_cast<uint64_t>(index) * 0x9E3779B97F4A7C15ULL));
  uint64_t roll = rng() % 100;
  Kind kind = roll < 25   ? Kind::kRandomBytes
              : roll < 45 ? Kind::kTruncated
              : roll < 60 ? Kind::kHugeLength
              : roll < 80 ? Kind::kGarbageJson
              : roll < 90 ? Kind::kBadCompression
                          : Kind::kBadEncryption;
  UniqueFd fd = connect_to(path);
  if (!fd) {
    stats.connect_failures++;
    stats.gave_up = true;  // the daemon is gone or wedged: stop hammering it
    return;
  }
  stats.sent[static_cast<int>(kind)]++;
  bool complete = false;  // a whole frame was sent: the daemon owes an answer or a close
  switch (kind) {
    case Kind::kRandomBytes:
      send_all(fd.get(), random_bytes(rng, rng() % 600));
      break;
    case Kind::kTruncated: {
      std::string frame = encode_frame(request_json(static_cast<int>(rng() % 30)));
      send_all(fd.get(), frame.substr(0, rng() % frame.size()));
      break;
    }
    case Kind::kHugeLength: {
      uint32_t len = (rng() % 2 == 0) ? 0xFFFFFFFFu : static_cast<uint32_t>(0x01000000u + rng());
      send_all(fd.get(), header(0, 0, len) + random_bytes(rng, rng() % 64));
      break;
    }
    case Kind::kGarbageJson: {
      std::string payload = garbage_json(rng);
      send_all(fd.get(), header(0, 0, static_cast<uint32_t>(payload.size())) + payload);
      complete = true;
      break;
    }
    case Kind::kBadCompression:
    case Kind::kBadEncryption: {
      std::string payload = rng() % 2 == 0 ? request_json(9) : garbage_json(rng);
      auto bad = static_cast<uint8_t>(rng() % 2 == 0 ? 1 + rng() % 4 : 5 + rng() % 251);
      uint8_t compression = kind == Kind::kBadCompression ? bad : 0;
      uint8_t encryption = kind == Kind::kBadEncryption ? bad : 0;
      send_all(fd.get(),
               header(compression, encryption, static_cast<uint32_t>(payload.size())) + payload);
      complete = true;
      break;
    }
    case Kind::kCount:
      break;
  }
  if (!complete) {
    // Close abruptly half the time; otherwise half-close and see what the daemon does.
    if (rng() % 2 == 0) {
      return;
    }
    ::shutdown(fd.get(), SHUT_WR);
    drain(fd.get(), milliseconds(2000));
    return;
  }
  switch (drain(fd.get(), seconds(5))) {
    case Reply::kAnswered:
      stats.answered++;
      break;
    case Reply::kClosed:
      stats.closed_without_answer++;
      break;
    case Reply::kTimeout: {
      stats.no_answer_in_time++;
      std::lock_guard<std::mutex> lock(stats.mu);
      if (stats.hang_examples.size() < 5) {
        stats.hang_examples.push_back(std::string(kind_name(kind)) + " #" + std::to_string(index));
      }
      break;
    }
  }
}

int count_fds(pid_t pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) {
    return -1;
  }
  int n = 0;
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread here
    if (e->d_name[0] != '.') {
      ++n;
    }
  }
  ::closedir(d);
  return n;
}

// Children of `pid` in state Z (unreaped).
int count_zombie_children(pid_t pid) {
  DIR* d = ::opendir("/proc");
  if (d == nullptr) {
    return -1;
  }
  int zombies = 0;
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe)
    if (e->d_name[0] < '0' || e->d_name[0] > '9') {
      continue;
    }
    std::string stat = read_text(std::string("/proc/") + e->d_name + "/stat");
    size_t close_paren = stat.rfind(')');
    if (close_paren == std::string::npos) {
      continue;
    }
    char state = 0;
    int ppid = 0;
    if (std::sscanf(stat.c_str() + close_paren + 1, " %c %d", &state, &ppid) == 2 && ppid == pid &&
        state == 'Z') {
      ++zombies;
    }
  }
  ::closedir(d);
  return zombies;
}

class ManagementFuzzTest : public DaemonTest {};

TEST_F(ManagementFuzzTest, SurvivesTenThousandMalformedFrames) {
  std::cout << "[ fuzz     ] seed 0x" << std::hex << kSeed << std::dec << ", " << kFrames
            << " frames, " << kConcurrency << " concurrent connections" << std::endl;
  const std::string path = daemon().socket_path();
  const pid_t pid = daemon().pid();
  int fds_before = count_fds(pid);

  Stats stats;
  std::atomic<int> slow_closed_by_daemon{0};
  std::vector<std::thread> slow;
  slow.reserve(kSlowSenders);
  for (int i = 0; i < kSlowSenders; ++i) {
    slow.emplace_back([&, i] {
      UniqueFd fd = connect_to(path);
      if (!fd) {
        return;
      }
      std::string frame = encode_frame(request_json(9));
      send_all(fd.get(), frame.substr(0, 1 + static_cast<size_t>(i)));  // partial header/payload
      if (drain(fd.get(), seconds(3)) != Reply::kTimeout) {
        slow_closed_by_daemon++;
      }
    });
  }

  auto started = Clock::now();
  std::atomic<int> next{0};
  std::vector<std::thread> workers;
  workers.reserve(kConcurrency);
  for (int w = 0; w < kConcurrency; ++w) {
    workers.emplace_back([&] {
      for (int i = next++; i < kFrames && !stats.gave_up; i = next++) {
        one_connection(path, i, stats);
      }
    });
  }
  for (std::thread& t : workers) {
    t.join();
  }
  for (std::thread& t : slow) {
    t.join();
  }
  auto elapsed = std::chrono::duration_cast<milliseconds>(Clock::now() - started);

  std::cout << "[ fuzz     ] " << elapsed.count() << " ms;";
  for (int k = 0; k < static_cast<int>(Kind::kCount); ++k) {
    std::cout << " " << kind_name(static_cast<Kind>(k)) << "=" << stats.sent[k].load();
  }
  std::cout << "; complete frames answered=" << stats.answered.load()
            << " closed=" << stats.closed_without_answer.load()
            << " no-answer-in-5s=" << stats.no_answer_in_time.load()
            << "; connect failures=" << stats.connect_failures.load()
            << (stats.gave_up ? " (gave up)" : "")
            << "; slow senders closed by daemon=" << slow_closed_by_daemon.load() << std::endl;

  ASSERT_TRUE(daemon().process().running())
      << "daemon died during fuzzing (status " << daemon().process().exit_status().value_or(-1)
      << ", stderr: " << daemon().stderr_text() << ")";
  CliResult ping = cli({"ping"});
  EXPECT_EQ(ping.exit_code(), 0) << ping.describe();
  EXPECT_EQ(stats.connect_failures.load(), 0);
  EXPECT_EQ(stats.no_answer_in_time.load(), 0) << "e.g. " << [&] {
    std::string s;
    for (const std::string& e : stats.hang_examples) {
      s += e + " ";
    }
    return s;
  }();

  // Let in-flight children finish, then look for leaks.
  int fds_after = -1;
  int zombies = -1;
  auto deadline = Clock::now() + seconds(10);
  do {
    std::this_thread::sleep_for(milliseconds(200));
    fds_after = count_fds(pid);
    zombies = count_zombie_children(pid);
  } while ((fds_after > fds_before + 2 || zombies > 0) && Clock::now() < deadline);
  EXPECT_LE(fds_after, fds_before + 2)
      << "descriptor leak: " << fds_before << " before, " << fds_after << " after";
  EXPECT_EQ(zombies, 0) << "unreaped children of the daemon";
  CliResult status = cli({"status"});
  EXPECT_EQ(status.exit_code(), 0) << status.describe();
}

}  // namespace
}  // namespace pgm::testing
