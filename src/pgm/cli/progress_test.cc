#include "pgm/cli/progress.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <sys/socket.h>

namespace pgm::cli {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr uint64_t kMiB = 1024 * 1024;

json progress_doc(const std::string& state, uint64_t done, uint64_t total, double remaining = -1) {
  return json{{"Outcome", {{"Status", true}}},
              {"Response",
               {{"Server", "primary"},
                {"ProgressState", state},
                {"Done", done},
                {"Total", total},
                {"Percentage", total > 0 ? static_cast<int>(done * 100 / total) : 0},
                {"Elapsed", 12.0},
                {"Remaining", remaining},
                {"Operation", "backup"}}}};
}

TEST(ShouldShowProgressTest, OnlyOnATerminalWithoutTheFlag) {
  EXPECT_TRUE(should_show_progress(true, false));
  EXPECT_FALSE(should_show_progress(true, true));
  EXPECT_FALSE(should_show_progress(false, false));  // a pipe: no bar, no polling
  EXPECT_FALSE(should_show_progress(false, true));
}

TEST(ProgressOperationTest, BackupOnly) {
  EXPECT_EQ(progress_operation(management::Command::kBackup), "backup");
  EXPECT_EQ(progress_operation(management::Command::kRestore), "restore");
  EXPECT_EQ(progress_operation(management::Command::kVerify), "verify");
  EXPECT_EQ(progress_operation(management::Command::kArchive), "archive");
  EXPECT_EQ(progress_operation(management::Command::kPing), std::nullopt);
  EXPECT_EQ(progress_operation(management::Command::kProgress), std::nullopt);
}

struct BytesCase {
  double bytes;
  const char* text;
};
class FormatBytesTest : public ::testing::TestWithParam<BytesCase> {};
TEST_P(FormatBytesTest, UsesBinaryUnits) {
  EXPECT_EQ(format_bytes(GetParam().bytes), GetParam().text);
}
INSTANTIATE_TEST_SUITE_P(
    Table, FormatBytesTest,
    ::testing::Values(BytesCase{0, "0 B"}, BytesCase{512, "512 B"}, BytesCase{1023, "1023 B"},
                      BytesCase{1024, "1.0 KiB"}, BytesCase{1536, "1.5 KiB"},
                      BytesCase{320.0 * kMiB, "320.0 MiB"}, BytesCase{95.3 * kMiB, "95.3 MiB"},
                      BytesCase{3.0 * 1024 * kMiB, "3.0 GiB"}, BytesCase{-5, "0 B"}));

TEST(FormatDurationTest, MinutesAndHours) {
  EXPECT_EQ(format_duration(0), "0:00");
  EXPECT_EQ(format_duration(4), "0:04");
  EXPECT_EQ(format_duration(4.6), "0:05");
  EXPECT_EQ(format_duration(754), "12:34");
  EXPECT_EQ(format_duration(3723), "1:02:03");
  EXPECT_EQ(format_duration(-1), "--:--");
  EXPECT_EQ(format_duration(std::nan("")), "--:--");
}

struct BarCase {
  const char* name;
  int width;
  uint64_t done;
  uint64_t total;
  std::optional<double> rate;
  std::optional<double> eta;
  const char* line;
};
class RenderBarTest : public ::testing::TestWithParam<BarCase> {};
TEST_P(RenderBarTest, Renders) {
  const BarCase& c = GetParam();
  std::string line = render_bar(c.width, c.done, c.total, c.rate, c.eta);
  EXPECT_EQ(line, c.line);
  EXPECT_LE(static_cast<int>(line.size()), (c.width > 0 ? c.width : 80) - 1);
}
INSTANTIATE_TEST_SUITE_P(
    Table, RenderBarTest,
    ::testing::Values(
        BarCase{"Wide", 120, 320 * kMiB, 710 * kMiB, 95.3 * kMiB, 4.2,
                "[##################......................]  45%  320.0 MiB / 710.0 MiB  "
                "95.3 MiB/s  ETA 0:04"},
        BarCase{"Narrow", 70, 320 * kMiB, 710 * kMiB, 95.3 * kMiB, 4.0,
                "[#####........]  45%  320.0 MiB / 710.0 MiB  95.3 MiB/s  ETA 0:04"},
        BarCase{"TooNarrowForABar", 50, 320 * kMiB, 710 * kMiB, 95.3 * kMiB, 4.0,
                " 45%  320.0 MiB / 710.0 MiB  95.3 MiB/s  ETA 0:04"},
        BarCase{"NoRateYet", 60, 0, 100 * kMiB, std::nullopt, std::nullopt,
                "[...................................]   0%  0 B / 100.0 MiB"}),
    [](const ::testing::TestParamInfo<BarCase>& i) { return std::string(i.param.name); });

TEST(RenderBarTest, CompleteFillsTheBar) {
  std::string line = render_bar(80, 100 * kMiB, 100 * kMiB, std::nullopt, 0.0);
  EXPECT_EQ(line, "[#######################] 100%  100.0 MiB / 100.0 MiB  ETA 0:00");
}

TEST(RenderBarTest, UnknownTotalShowsBytesAndRateOnly) {
  EXPECT_EQ(render_bar(80, 320 * kMiB, 0, 95.3 * kMiB, 4.0), "320.0 MiB  95.3 MiB/s");
  EXPECT_EQ(render_bar(80, 512, 0, std::nullopt, std::nullopt), "512 B");
}

TEST(RenderBarTest, DoneBeyondTotalIsClamped) {
  EXPECT_EQ(render_bar(40, 200, 100, std::nullopt, std::nullopt),
            "[#################] 100%  200 B / 100 B");
}

TEST(RenderBarTest, NeverReachesTheLastColumn) {
  EXPECT_EQ(render_bar(20, 320 * kMiB, 710 * kMiB, 95.3 * kMiB, 4.0), " 45%  320.0 MiB / 7");
  EXPECT_EQ(render_bar(0, 512, 0, std::nullopt, std::nullopt), "512 B");  // unknown width: 80
}

TEST(RateSmootherTest, SmoothsAndRestarts) {
  RateSmoother s(0.5);
  EXPECT_EQ(s.rate(), std::nullopt);
  s.add(seconds(0), 0);
  EXPECT_EQ(s.rate(), std::nullopt);
  s.add(seconds(1), 100);
  ASSERT_TRUE(s.rate().has_value());
  EXPECT_DOUBLE_EQ(*s.rate(), 100);
  s.add(seconds(2), 400);  // instant 300 -> 0.5 * 300 + 0.5 * 100
  EXPECT_DOUBLE_EQ(*s.rate(), 200);
  s.add(seconds(2), 500);  // no time between: ignored
  EXPECT_DOUBLE_EQ(*s.rate(), 200);
  s.add(seconds(3), 10);  // went backwards: a new operation
  EXPECT_EQ(s.rate(), std::nullopt);
  s.add(milliseconds(3500), 60);
  EXPECT_DOUBLE_EQ(*s.rate(), 100);
}

TEST(EstimateEtaTest, PrefersTheDaemon) {
  ProgressSample s;
  s.done = 300;
  s.total = 1000;
  EXPECT_EQ(estimate_eta(s, std::nullopt), std::nullopt);
  EXPECT_DOUBLE_EQ(*estimate_eta(s, 100.0), 7.0);
  s.remaining = 3.0;
  EXPECT_DOUBLE_EQ(*estimate_eta(s, 100.0), 3.0);
  s.remaining.reset();
  s.total = 0;
  EXPECT_EQ(estimate_eta(s, 100.0), std::nullopt);
}

TEST(ParseProgressTest, ReadsTheResponse) {
  auto s = parse_progress(progress_doc("streaming", 320 * kMiB, 710 * kMiB, 4.5));
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, "streaming");
  EXPECT_EQ(s->done, 320 * kMiB);
  EXPECT_EQ(s->total, 710 * kMiB);
  EXPECT_EQ(s->percentage, 45);
  EXPECT_EQ(s->elapsed, 12.0);
  EXPECT_EQ(s->remaining, 4.5);
  EXPECT_EQ(s->server, "primary");
  EXPECT_EQ(s->operation, "backup");
  EXPECT_EQ(parse_progress(progress_doc("starting", 0, 0))->remaining, std::nullopt);
}

// What our daemon sends now, and pgmoneta's daemon: the state as a number (ours adds its name
// as Phase), Remaining as {string_value, value}.
TEST(ParseProgressTest, ReadsPgmonetasNumericStateAndRemainingObject) {
  json doc = progress_doc("idle", 320 * kMiB, 710 * kMiB, 0);
  doc["Response"]["ProgressState"] = 2;
  doc["Response"]["Remaining"] = {{"string_value", "42s"}, {"value", 42}};
  auto s = parse_progress(doc);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, "streaming");
  EXPECT_EQ(s->remaining, 42.0);
  doc["Response"]["Phase"] = "finishing";
  doc["Response"]["Remaining"] = {{"string_value", "unknown"}, {"value", -1}};
  s = parse_progress(doc);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->state, "finishing");
  EXPECT_EQ(s->remaining, std::nullopt);
  doc["Response"].erase("Phase");
  doc["Response"]["ProgressState"] = 99;
  EXPECT_EQ(parse_progress(doc)->state, "99");
}

TEST(ParseProgressTest, RefusesFailuresAndOtherDocuments) {
  EXPECT_EQ(parse_progress(json{{"Outcome", {{"Status", false}, {"Error", 3000}}}}), std::nullopt);
  EXPECT_EQ(parse_progress(json{{"Outcome", {{"Status", true}}}, {"Response", json::object()}}),
            std::nullopt);
  EXPECT_EQ(parse_progress(json::array()), std::nullopt);
}

TEST(RenderProgressTextTest, StreamingAndIdle) {
  auto s = parse_progress(progress_doc("streaming", 320 * kMiB, 710 * kMiB, 4.0));
  EXPECT_EQ(render_progress_text(*s),
            "Server: primary\n"
            "Operation: backup\n"
            "State: streaming\n"
            "Progress: [#############.................] 45%\n"
            "Done: 320.0 MiB\n"
            "Total: 710.0 MiB\n"
            "Elapsed: 0:12\n"
            "Remaining: 0:04\n");
  auto unknown = parse_progress(progress_doc("starting", 0, 0));
  EXPECT_EQ(render_progress_text(*unknown),
            "Server: primary\n"
            "Operation: backup\n"
            "State: starting\n"
            "Done: 0 B\n"
            "Total: unknown\n"
            "Elapsed: 0:12\n"
            "Remaining: unknown\n");
  auto idle = parse_progress(progress_doc("idle", 0, 0));
  EXPECT_EQ(render_progress_text(*idle), "Server: primary\nOperation: backup\nState: idle\n");
}

// A fake connection: one end of a socketpair, so stop() has a socket to shut down.
Result<UniqueFd> fake_connect() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    return make_error(ErrorCode::kIo, "socketpair");
  }
  ::close(sv[1]);
  return UniqueFd(sv[0]);
}

struct Recorder {
  std::mutex mu;
  std::string written;
  void write(std::string_view s) {
    std::lock_guard<std::mutex> lock(mu);
    written += s;
  }
  std::string get() {
    std::lock_guard<std::mutex> lock(mu);
    return written;
  }
};

TEST(ProgressPollerTest, DrawsThenErasesOnStop) {
  Recorder rec;
  std::atomic<int> calls{0};
  ProgressPoller::Hooks h;
  h.connect = fake_connect;
  h.exchange = [&](int) -> Result<json> {
    int n = ++calls;
    return progress_doc("streaming", static_cast<uint64_t>(n) * 10 * kMiB, 100 * kMiB);
  };
  h.write = [&](std::string_view s) { rec.write(s); };
  h.interval = milliseconds(5);
  ProgressPoller p(std::move(h));
  while (p.polls() < 3) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  p.stop();
  std::string w = rec.get();
  EXPECT_EQ(w.rfind("\r[", 0), 0u) << w;
  EXPECT_NE(w.find("10.0 MiB / 100.0 MiB"), std::string::npos) << w;
  EXPECT_NE(w.find("B/s"), std::string::npos) << w;  // a rate after the second sample
  EXPECT_NE(w.find("\x1b[K"), std::string::npos);
  EXPECT_TRUE(w.size() >= 4 && w.substr(w.size() - 4) == "\r\x1b[K") << w;
  p.stop();  // idempotent
  EXPECT_EQ(rec.get(), w);
}

TEST(ProgressTest, ADaemonWithProgressOffSaysSo) {
  json doc = progress_doc("idle", 0, 0);
  EXPECT_TRUE(parse_progress(doc)->tracking);
  doc["Response"]["Tracking"] = false;
  doc["Response"]["Phase"] = "off";
  auto s = parse_progress(doc);
  ASSERT_TRUE(s.has_value());
  EXPECT_FALSE(s->tracking);
  EXPECT_NE(render_progress_text(*s).find("State: off (progress tracking is off"),
            std::string::npos)
      << render_progress_text(*s);
}

// Polls a daemon that always answers `answer`; expects one poll, then none, and nothing drawn.
void expect_one_silent_poll(const json& answer) {
  Recorder rec;
  ProgressPoller::Hooks h;
  h.connect = fake_connect;
  h.exchange = [answer](int) -> Result<json> { return answer; };
  h.write = [&](std::string_view s) { rec.write(s); };
  h.interval = milliseconds(2);
  ProgressPoller p(std::move(h));
  while (p.polls() < 1) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  std::this_thread::sleep_for(milliseconds(30));  // 15 intervals: no second poll
  EXPECT_EQ(p.polls(), 1);
  p.stop();
  EXPECT_EQ(rec.get(), "");
}

TEST(ProgressPollerTest, ADaemonWithProgressOffEndsPollingSilently) {
  json doc = progress_doc("idle", 0, 0);
  doc["Response"]["Tracking"] = false;
  expect_one_silent_poll(doc);
}

TEST(ProgressPollerTest, AFailureEndsPollingSilently) {
  expect_one_silent_poll(json{{"Outcome", {{"Status", false}, {"Error", 3000}}}});  // no server
}

TEST(ProgressPollerTest, AQuickStopPollsNothing) {
  Recorder rec;
  std::atomic<int> connects{0};
  ProgressPoller::Hooks h;
  h.connect = [&] {
    ++connects;
    return fake_connect();
  };
  h.exchange = [](int) -> Result<json> { return progress_doc("streaming", 1, 2); };
  h.write = [&](std::string_view s) { rec.write(s); };
  h.interval = seconds(30);
  auto start = std::chrono::steady_clock::now();
  { ProgressPoller p(std::move(h)); }  // the destructor stops
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  EXPECT_EQ(connects, 0);
  EXPECT_EQ(rec.get(), "");
}

TEST(ProgressPollerTest, StopInterruptsAnExchangeInFlight) {
  Recorder rec;
  std::atomic<bool> in_flight{false};
  ProgressPoller::Hooks h;
  h.connect = [] {
    int sv[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    static thread_local UniqueFd peer;  // kept open: recv would block forever
    peer.reset(sv[1]);
    return Result<UniqueFd>(UniqueFd(sv[0]));
  };
  h.exchange = [&](int fd) -> Result<json> {
    in_flight = true;
    char c;
    ssize_t n = ::recv(fd, &c, 1, 0);  // returns 0 once stop() shuts the socket down
    EXPECT_EQ(n, 0);
    return make_error(ErrorCode::kProtocol, "closed");
  };
  h.write = [&](std::string_view s) { rec.write(s); };
  h.interval = milliseconds(1);
  ProgressPoller p(std::move(h));
  while (!in_flight) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  auto start = std::chrono::steady_clock::now();
  p.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  EXPECT_EQ(rec.get(), "");
}

}  // namespace
}  // namespace pgm::cli
