#include "pgm/daemon/wal_receiver.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <csignal>

#include <fmt/format.h>

#include "pgm/log/log.h"
#include "pgm/wal/receiver.h"

namespace pgm::daemon {

namespace {

// Set from the signal handler; the receiver polls it (a signal also interrupts its poll()).
std::atomic<bool> g_stop{false};

extern "C" void on_stop_signal(int /*sig*/) { g_stop.store(true); }

void install_stop_handler() {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: poll() returns EINTR and the stop is seen at once
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
}

// Mirrors the receiver's progress into the server's shared-memory slot.
class SharedObserver final : public wal::ReceiverObserver {
 public:
  explicit SharedObserver(ServerState& state) : state_(state) {}

  void on_progress(const wal::ReceiverProgress& p) override {
    state_.wal_streaming.store(p.streaming);
    state_.wal_timeline.store(p.tli.value());
    state_.wal_received.store(p.received.value());
    state_.wal_flushed.store(p.flushed.value());
    state_.wal_server_end.store(p.server_end.value());
    state_.wal_unfinished.store(static_cast<uint32_t>(p.unfinished));
    if (p.current_file != file_) {
      file_ = p.current_file;
      state_.set_wal_file(file_);
    }
    if (p.streaming && state_.wal_invalid.load()) {
      state_.wal_invalid.store(false);
    }
  }

  void on_error(const std::string& message, bool invalid) override {
    state_.set_wal_error(message);
    state_.wal_invalid.store(invalid);
  }

 private:
  ServerState& state_;
  std::string file_;
};

}  // namespace

std::string wal_settings(const config::Config& c, size_t index) {
  const config::ServerConfig& s = c.servers[index];
  bool create = s.create_slot.value_or(c.create_slot);
  return fmt::format("{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}|{}", s.host, s.port, s.user,
                     s.wal_slot, create, wal_directory(c, s), wal_shipping_directory(s),
                     static_cast<int>(c.compression.algorithm), c.compression_level,
                     static_cast<int>(c.encryption), s.wal_sync, s.tls_cert_file, s.tls_key_file,
                     s.tls_ca_file, s.follow);
}

int run_wal_receiver(const DaemonContext& ctx, size_t index) {
  install_stop_handler();
  const config::Config& c = *ctx.config;
  const config::ServerConfig& s = c.servers[index];
  ServerState& state = ctx.shared->servers[index];

  wal::ReceiverOptions o;
  o.server = s.name;
  o.connect.host = s.host;
  o.connect.port = s.port;
  o.connect.user = s.user;
  o.connect.password = ctx.password_for(s.user);
  o.connect.sslcert = s.tls_cert_file;
  o.connect.sslkey = s.tls_key_file;
  o.connect.sslrootcert = s.tls_ca_file;
  o.slot = s.wal_slot;
  o.create_slot = s.create_slot.value_or(c.create_slot);
  o.wal_dir = wal_directory(c, s);
  o.shipping_dir = wal_shipping_directory(s);
  o.algorithm = c.compression.algorithm;
  o.level = compress::clamp_level(c.compression.algorithm, c.compression_level);
  o.encryption = c.encryption;
  o.key = ctx.master_key;
  o.sync = s.wal_sync;

  SharedObserver observer(state);
  auto result = wal::run_receiver(o, observer, g_stop);
  state.wal_streaming.store(false);
  if (!result) {
    log::error("wal {}: {}", s.name, result.error().message());
    state.set_wal_error(result.error().message());
    state.wal_invalid.store(true);
    return 2;
  }
  log::debug("wal {}: receiver stopped", s.name);
  return 0;
}

}  // namespace pgm::daemon
