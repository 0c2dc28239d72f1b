// The receiver's pure parts. Its streaming loop runs against real PostgreSQL servers in
// tests/integration (wal_test.cc, wal_disk_full_test.cc, wal_follow_test.cc).
#include "pgm/wal/receiver.h"

#include "support/temp_dir.h"
#include <gtest/gtest.h>

namespace pgm::wal {
namespace {

TEST(SlotName, AcceptsWhatPostgresAccepts) {
  EXPECT_TRUE(is_valid_slot_name("repl"));
  EXPECT_TRUE(is_valid_slot_name("pgmoneta_primary_2"));
  EXPECT_TRUE(is_valid_slot_name("_"));
  EXPECT_TRUE(is_valid_slot_name(std::string(63, 'a')));
}

TEST(SlotName, RefusesNamesThatWouldNeedQuoting) {
  for (const char* bad : {"", "Repl", "repl-1", "repl 1", "repl;DROP", "r\xc3\xa9pl", "repl\n"}) {
    EXPECT_FALSE(is_valid_slot_name(bad)) << bad;
  }
  EXPECT_FALSE(is_valid_slot_name(std::string(64, 'a')));
}

class NullObserver : public ReceiverObserver {};

TEST(RunReceiver, RefusesAnInvalidSlotNameBeforeConnecting) {
  ReceiverOptions o;
  o.slot = "Bad-Slot";
  o.wal_dir = "/nonexistent/never/created";
  NullObserver observer;
  std::atomic<bool> stop{false};
  auto r = run_receiver(o, observer, stop);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kConfig);
  EXPECT_NE(r.error().message().find("Bad-Slot"), std::string::npos) << r.error().message();
}

TEST(RunReceiver, RefusesEncryptionWithoutAKey) {
  ReceiverOptions o;
  o.slot = "repl";
  o.wal_dir = "/nonexistent/never/created";
  o.encryption = crypto::AesMode::kAes256Gcm;
  NullObserver observer;
  std::atomic<bool> stop{false};
  auto r = run_receiver(o, observer, stop);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("master key"), std::string::npos) << r.error().message();
}

TEST(RunReceiver, ReportsAnUnreachableServerAndStopsWhenAsked) {
  test_support::TempDir tmp("pgm-receiver");
  const std::string& dir = tmp.path();
  ReceiverOptions o;
  o.server = "nowhere";
  o.slot = "repl";
  o.wal_dir = dir + "/wal";
  o.connect.host = dir;  // a socket directory with no server in it
  o.connect.port = 1;
  o.min_backoff = std::chrono::milliseconds(50);
  o.max_backoff = std::chrono::milliseconds(100);

  struct Recorder : ReceiverObserver {
    std::atomic<int> errors{0};
    std::string first;
    std::atomic<bool>* stop = nullptr;
    void on_error(const std::string& message, bool invalid) override {
      if (errors++ == 0) {
        first = message;
        EXPECT_FALSE(invalid);
      }
      stop->store(true);
    }
  } observer;
  std::atomic<bool> stop{false};
  observer.stop = &stop;
  auto r = run_receiver(o, observer, stop);
  EXPECT_TRUE(r.has_value());
  EXPECT_EQ(observer.errors.load(), 1);
  EXPECT_NE(observer.first.find(dir), std::string::npos) << observer.first;
}

}  // namespace
}  // namespace pgm::wal
