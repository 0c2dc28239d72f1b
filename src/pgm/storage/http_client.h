// The libcurl plumbing shared by the HTTP engines (s3.cc, azure.cc): one request/response
// exchange on a reused easy handle (its connection cache survives between requests), and the
// retry loop with full-jitter backoff. Signing, URLs and the services' error documents stay
// with each engine. Internal to the storage module.
//
// Not thread-safe: an HttpClient or a Retrier is used by one thread at a time.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "pgm/core/result.h"
#include "pgm/storage/storage.h"

namespace pgm::storage::internal {

struct HttpResponse {
  long status = 0;  // of the last status line (after any 100 Continue)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;                                          // what the request's on_body kept

  // The first header of that (lower-case) name; "" when absent.
  std::string header(std::string_view name) const;
};

// Receives each piece of the response body with the response so far (status and headers are
// known). Returns false to end the transfer early without an error (the wanted bytes have all
// arrived); an error aborts the transfer and is returned by perform() unchanged.
using BodyHandler = std::function<Result<bool>(std::span<const uint8_t>, HttpResponse&)>;

struct HttpRequest {
  std::string method{};                // GET, HEAD, PUT, POST, DELETE
  std::string url{};                   // complete, already encoded
  std::vector<std::string> headers{};  // "Name: value" lines, sent as given
  bool path_as_is = false;             // send "/./" and "/../" segments unchanged
  // The body of a PUT or POST: `text`, or for a PUT `body_length` bytes of `body_fd` from
  // `body_offset`, read as they are sent (the fd is borrowed).
  std::string_view text{};
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  BodyHandler on_body{};  // without one the body is kept whole in HttpResponse::body
  std::string context{};  // message prefix for transfer errors: "s3: GET key"
};

class HttpClient {
 public:
  // `engine` names the engine in setup errors ("s3: curl_easy_init failed"). `timeout` is the
  // connect timeout and the longest a transfer may stall (no byte moving); `ca_file` a PEM
  // bundle for TLS ("" = the system's).
  HttpClient(std::string engine, std::chrono::seconds timeout, std::string ca_file);

  // Initialises libcurl (once per process) and the easy handle; perform() does it when needed.
  Result<void> ready();

  // One exchange. Any HTTP status is a response; transport failures (and failures reading
  // body_fd) are errors prefixed with the request's context: kTimeout, kUnavailable (connect,
  // send, receive, TLS handshake: worth a retry), kPermission (peer certificate), kIo
  // otherwise. An error of on_body is returned unchanged. Blocks for the whole transfer.
  Result<HttpResponse> perform(const HttpRequest& request);

 private:
  struct CurlDeleter {
    void operator()(void* curl) const;
  };

  std::string engine_;
  std::chrono::seconds timeout_;
  std::string ca_file_;
  std::unique_ptr<void, CurlDeleter> curl_;
};

// Retries of kUnavailable and kTimeout failures: `max_attempts` in all, sleeping a uniform
// random time in [0, min(cap, base * 2^(n-1))) after the n-th failed attempt. When the attempts
// run out after more than one, the message gains " (<gave_up> <n> attempts)".
struct RetryPolicy {
  int max_attempts = 4;
  std::chrono::milliseconds base{100};
  std::chrono::milliseconds cap{2000};
  std::string_view gave_up = "after";  // "after" (S3), "gave up after" (Azure)
};

class Retrier {
 public:
  explicit Retrier(RetryPolicy policy) : policy_(policy), random_(std::random_device{}()) {}

  // Calls `attempt` (returning a Result) until it succeeds, fails for good, or the attempts
  // run out; returns its last result.
  template <typename F>
  auto run(F attempt) -> decltype(attempt()) {
    for (int n = 1;; ++n) {
      auto result = attempt();
      if (result || kind(result.error()) != ErrorKind::kRetryable) {
        return result;
      }
      if (n >= policy_.max_attempts) {
        if (n == 1) {
          return result;
        }
        return tl::unexpected<Error>(Error(
            result.error().code(),
            fmt::format("{} ({} {} attempts)", result.error().message(), policy_.gave_up, n)));
      }
      std::this_thread::sleep_for(backoff(n));
    }
  }

  // The sleep after the n-th failed attempt.
  std::chrono::milliseconds backoff(int n);

 private:
  RetryPolicy policy_;
  std::mt19937_64 random_;
};

}  // namespace pgm::storage::internal
