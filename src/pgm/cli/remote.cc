#include "pgm/cli/remote.h"

#include <unistd.h>

#include <fmt/format.h>

#include "pgm/management/frame.h"
#include "pgm/management/protocol.h"
#include "pgm/net/remote.h"
#include "pgm/net/stream.h"

namespace pgm::cli {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kLoginTimeout{30};

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

}  // namespace

Result<std::shared_ptr<const net::TlsContext>> client_tls(const std::string& pgmoneta_home) {
  std::string cert = pgmoneta_home + "/pgmoneta.crt";
  std::string key = pgmoneta_home + "/pgmoneta.key";
  std::string ca = pgmoneta_home + "/root.crt";
  if (!exists(cert) || !exists(key)) {
    return std::shared_ptr<const net::TlsContext>();
  }
  PGM_ASSIGN_OR_RETURN(auto context,
                       net::TlsContext::client({cert, key, exists(ca) ? ca : std::string()}));
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
  auto stream = net::connect_admin(target.host, target.port, target.user, target.password,
                                   target.tls.get(), Clock::now() + kLoginTimeout);
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
