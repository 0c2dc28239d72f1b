// libFuzzer target: the PostgreSQL v3 message bodies of the remote management handshake.
//
// Input: one message body (length word and type byte already removed), given to every decoder:
// the startup packet and SASLInitialResponse (read by the daemon), ErrorResponse and the
// authentication request 'R' (read by the CLI). A decoded startup packet and ErrorResponse are
// encoded again and must decode to the same values.
//
// Corpus: tests/fuzz/corpus/pg_wire (bodies of real messages of each kind).
// Run longer: build/fuzz/pg_wire_fuzz build/fuzz/scratch/pg_wire tests/fuzz/corpus/pg_wire
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "pgm/net/pg_wire.h"

namespace {

namespace wire = pgm::net::wire;

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// The body of an encoded message: the type byte (typed messages) and the length word removed.
std::span<const uint8_t> body_of(const wire::Bytes& message, bool typed) {
  return std::span<const uint8_t>(message).subspan(typed ? 5 : 4);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> body(data, size);

  if (auto startup = wire::decode_startup_packet(body);
      startup && startup->kind == wire::StartupPacket::Kind::kStartup &&
      startup->version == wire::kProtocolVersion3) {
    wire::Bytes again = wire::encode_startup(startup->params);
    auto decoded = wire::decode_startup_packet(body_of(again, false));
    require(decoded.has_value() && decoded->params == startup->params);
  }

  wire::decode_sasl_initial_response(body).ignore_error();  // either verdict is fine
  wire::decode_auth(body).ignore_error();                   // either verdict is fine

  if (auto fields = wire::decode_error_response(body)) {
    wire::Bytes again = wire::encode_error_response(*fields);
    auto decoded = wire::decode_error_response(body_of(again, true));
    require(decoded.has_value());
    require(decoded->severity == fields->severity && decoded->sqlstate == fields->sqlstate &&
            decoded->message == fields->message && decoded->detail == fields->detail);
  }
  return 0;
}
