#include "pgm/cli/remote.h"

#include <unistd.h>

#include <algorithm>
#include <string_view>
#include <thread>

#include <fmt/format.h>

#include "pgm/management/frame.h"
#include "pgm/management/protocol.h"
#include "pgm/net/remote.h"
#include "pgm/net/stream.h"

namespace pgm::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kLoginTimeout{30};
constexpr std::chrono::milliseconds kRetryFirstPause{100};
constexpr std::chrono::milliseconds kRetryMaxPause{2000};
constexpr std::string_view kTooManyConnections = "53300";

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

Result<std::shared_ptr<const net::TlsContext>> client_tls(const std::string& pgmoneta_home) {
  std::string cert = pgmoneta_home + "/pgmoneta.crt";
  std::string key = pgmoneta_home + "/pgmoneta.key";
  std::string ca = pgmoneta_home + "/root.crt";
  // TLS is always asked for (libpq's sslmode=prefer): a daemon with tls = on refuses plain
  // logins. The client certificate is sent when there is one; root.crt makes it verify-full.
  bool has_cert = exists(cert) && exists(key);
  PGM_ASSIGN_OR_RETURN(auto context, net::TlsContext::client({has_cert ? cert : std::string(),
                                                              has_cert ? key : std::string(),
                                                              exists(ca) ? ca : std::string()}));
  return std::shared_ptr<const net::TlsContext>(std::move(context));
}

Result<nlohmann::json> remote_exchange(const RemoteTarget& target, const nlohmann::json& doc,
                                       compress::Algorithm compression, crypto::AesMode encryption,
                                       const crypto::MasterKey* key,
                                       std::chrono::milliseconds timeout) {
  const std::string where = fmt::format("{}:{}", target.host, target.port);
  // Errors that do not already say where (the daemon's own messages) get "<host>:<port>: ".
  auto context = [&where](const Error& e) {
    return tl::unexpected(e.message().find(where) == std::string::npos ? e.with_context(where) : e);
  };
  PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> frame,
                       management::encode_frame(doc, compression, encryption, key));
  // A daemon whose login limits are full refuses with 53300 (daemon/login_guard.h); the
  // connections that fill them are idle or failing and go soon, so try again for a while.
  const auto login_deadline = Clock::now() + kLoginTimeout;
  auto stream = net::connect_admin(target.host, target.port, target.user, target.password,
                                   target.tls.get(), login_deadline);
  for (auto pause = kRetryFirstPause; !stream && stream.error().sqlstate() == kTooManyConnections &&
                                      Clock::now() + pause < login_deadline;
       pause = std::min(pause * 2, kRetryMaxPause)) {
    std::this_thread::sleep_for(pause);
    stream = net::connect_admin(target.host, target.port, target.user, target.password,
                                target.tls.get(), login_deadline);
  }
  if (!stream) {
    return context(stream.error());
  }
  auto deadline = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
  if (auto w = net::write_frame(**stream, frame, deadline); !w) {
    return context(w.error());
  }
  auto answer = net::read_frame(**stream, management::kDefaultMaxFrameLength, deadline);
  if (!answer) {
    return context(answer.error());
  }
  management::FrameReader reader(management::kDefaultMaxFrameLength);
  if (reader.feed(*answer) != management::FrameReader::State::kComplete) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("{}: bad answer frame: {}", where, reader.error()));
  }
  return management::decode_payload(reader.header().compression, reader.header().encryption,
                                    reader.payload(), key);
}

}  // namespace pgm::cli
