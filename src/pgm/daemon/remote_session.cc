#include "pgm/daemon/remote_session.h"

#include <chrono>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "pgm/daemon/commands.h"
#include "pgm/log/log.h"
#include "pgm/management/client.h"
#include "pgm/management/document.h"
#include "pgm/management/errors.h"
#include "pgm/management/frame.h"
#include "pgm/net/remote.h"
#include "pgm/net/stream.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using Clock = std::chrono::steady_clock;

namespace {

// Requests are small JSON documents (the unix socket has the same limit); answers may be long
// (list-backup of a big repository, verify's file lists).
constexpr uint32_t kMaxRequestFrame = 1u << 20;

// The request's command when the frame can be decoded here; nullopt otherwise (the daemon then
// answers the bad payload itself).
std::optional<int32_t> command_of(const DaemonContext& ctx, std::span<const uint8_t> frame) {
  mgmt::FrameReader reader(kMaxRequestFrame);
  if (reader.feed(frame) != mgmt::FrameReader::State::kComplete) {
    return std::nullopt;
  }
  auto doc = mgmt::decode_payload(reader.header().compression, reader.header().encryption,
                                  reader.payload(), ctx.master_key.get());
  if (!doc) {
    return std::nullopt;
  }
  auto request = mgmt::parse_request(*doc);
  if (!request) {
    return std::nullopt;
  }
  return request->command;
}

// The refusal of a command that only the local socket may send, in the request's own encoding.
Result<std::vector<uint8_t>> refusal(const DaemonContext& ctx, std::span<const uint8_t> frame) {
  mgmt::FrameReader reader(kMaxRequestFrame);
  reader.feed(frame);
  auto doc = mgmt::decode_payload(reader.header().compression, reader.header().encryption,
                                  reader.payload(), ctx.master_key.get());
  nlohmann::json request = doc ? *doc : nlohmann::json::object();
  nlohmann::json answer = mgmt::make_failure(
      request, mgmt::error_code(mgmt::Family::kReload, mgmt::Failure::kError), "reload", {},
      "conf reload re-reads the daemon's files: use the local unix socket");
  return mgmt::encode_frame(answer, static_cast<compress::Algorithm>(reader.header().compression),
                            static_cast<crypto::AesMode>(reader.header().encryption),
                            ctx.master_key.get());
}

}  // namespace

int run_remote_session(const DaemonContext& ctx, UniqueFd client, const net::TlsContext* tls,
                       const net::LoginPolicy& policy) {
  const config::Config& c = *ctx.config;
  auto auth_deadline =
      Clock::now() + std::chrono::seconds(std::max<int64_t>(1, c.authentication_timeout.count()));
  const std::string peer = net::internal::peer_name(client.get());
  net::AdminLookup lookup = [&ctx](std::string_view user) { return ctx.admin_password(user); };
  auto accepted = net::accept_admin(std::move(client), tls, lookup, auth_deadline, policy);
  if (!accepted) {
    log::warn("{}", accepted.error().message());
    return 1;
  }
  net::Stream& stream = *accepted->stream;
  // The frame follows at once in pgmoneta-cli; blocking_timeout bounds a silent client.
  auto io_deadline =
      Clock::now() + std::chrono::seconds(std::max<int64_t>(1, c.blocking_timeout.count()));
  auto frame = net::read_frame(stream, kMaxRequestFrame, io_deadline);
  if (!frame) {
    log::warn("remote management: user \"{}\": {}", accepted->user, frame.error().message());
    return 1;
  }
  std::optional<int32_t> command = command_of(ctx, *frame);
  log::info("remote management: user \"{}\" from {}{}: {}", accepted->user, peer,
            stream.tls() ? " over TLS" : "",
            command ? std::string(mgmt::command_name(static_cast<mgmt::Command>(*command)))
                    : std::string("an undecodable frame"));
  std::vector<uint8_t> answer;
  if (command && *command == static_cast<int32_t>(mgmt::Command::kReload)) {
    auto r = refusal(ctx, *frame);
    if (!r) {
      log::warn("remote management: {}", r.error().message());
      return 1;
    }
    answer = std::move(*r);
  } else {
    // Commands such as backup run for hours: no deadline on the local leg.
    auto local = mgmt::connect_unix(c.unix_socket_dir);
    if (!local) {
      log::error("remote management: {}", local.error().message());
      return 1;
    }
    auto local_stream = net::Stream::plain(std::move(*local));
    const auto forever = Clock::time_point::max();
    if (auto w = net::write_frame(*local_stream, *frame, forever); !w) {
      log::error("remote management: forwarding to the local socket: {}", w.error().message());
      return 1;
    }
    auto reply = net::read_frame(*local_stream, mgmt::kDefaultMaxFrameLength, forever);
    if (!reply) {
      log::error("remote management: reading the daemon's answer: {}", reply.error().message());
      return 1;
    }
    answer = std::move(*reply);
  }
  auto out_deadline =
      Clock::now() + std::chrono::seconds(std::max<int64_t>(1, c.blocking_timeout.count()));
  if (auto w = net::write_frame(stream, answer, out_deadline); !w) {
    log::warn("remote management: user \"{}\": sending the answer: {}", accepted->user,
              w.error().message());
    return 1;
  }
  return 0;
}

}  // namespace pgm::daemon
