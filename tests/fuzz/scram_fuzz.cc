// libFuzzer target: the SCRAM-SHA-256 messages of remote management, on both sides.
//
// Input: a mode byte, then two messages separated by the first '\n':
//   'S' <client-first> '\n' <client-final>   to a ScramServer that knows the password
//   'M' <client-first> '\n' <client-final>   to a mock ScramServer (unknown user)
//   'C' <server-first> '\n' <server-final>   to a ScramClient that sent its client-first
// Nonces, salt and password are fixed, so a recorded exchange replays (and succeeds); the
// second message is only offered when the first was accepted. A mock server never accepts a
// proof. Server-first messages asking for more than kMaxFuzzIterations PBKDF2 rounds are skipped:
// one would cost a good part of a second and teach the fuzzer nothing (the limit check itself is
// covered by scram_test.cc).
//
// Corpus: tests/fuzz/corpus/scram (recorded exchanges of each mode).
// Run longer: build/fuzz/scram_fuzz -dict=tests/fuzz/scram.dict build/fuzz/scratch/scram
//             tests/fuzz/corpus/scram
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/net/scram.h"

namespace {

constexpr std::string_view kPassword = "fuzz-password";
constexpr std::string_view kClientNonce = "fuzzclientnonce";
constexpr std::string_view kServerNonce = "fuzzservernonce";
constexpr int kMaxFuzzIterations = 10000;

std::vector<uint8_t> fixed_salt() { return std::vector<uint8_t>(pgm::net::kScramSaltLength, 7); }

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

// The i= attribute of a server-first message when it is a plain decimal too large to be worth
// running; false for everything else (the client judges that).
bool too_many_iterations(std::string_view message) {
  size_t at = message.find(",i=");
  if (at == std::string_view::npos) {
    return false;
  }
  long long n = 0;
  for (size_t i = at + 3; i < message.size() && message[i] >= '0' && message[i] <= '9'; ++i) {
    n = n * 10 + (message[i] - '0');
    if (n > kMaxFuzzIterations) {
      return true;
    }
  }
  return false;
}

void run_server(bool mock, std::string_view first, std::string_view final_message) {
  const std::vector<uint8_t> secret(32, 9);
  pgm::net::ScramServer server = mock ? pgm::net::ScramServer::mock("fuzz", secret)
                                      : pgm::net::ScramServer(std::string(kPassword));
  server.set_nonce_for_testing(std::string(kServerNonce));
  if (!mock) {
    server.set_salt_for_testing(fixed_salt());
  }
  auto server_first = server.handle_client_first(first);
  if (!server_first) {
    return;
  }
  auto server_final = server.handle_client_final(final_message);
  require(!(mock && server_final.has_value()));  // a mock exchange never succeeds
}

void run_client(std::string_view server_first, std::string_view server_final) {
  if (too_many_iterations(server_first)) {
    return;
  }
  pgm::net::ScramClient client("fuzz", std::string(kPassword));
  client.set_nonce_for_testing(std::string(kClientNonce));
  client.client_first();
  auto client_final = client.handle_server_first(server_first);
  if (!client_final) {
    return;
  }
  client.verify_server_final(server_final).ignore_error();  // either verdict is fine
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t split = input.find('\n');
  std::string_view first = input.substr(0, split);
  std::string_view second =
      split == std::string_view::npos ? std::string_view() : input.substr(split + 1);
  switch (data[0]) {
    case 'S':
      run_server(false, first, second);
      break;
    case 'M':
      run_server(true, first, second);
      break;
    case 'C':
      run_client(first, second);
      break;
    default:
      break;
  }
  return 0;
}
