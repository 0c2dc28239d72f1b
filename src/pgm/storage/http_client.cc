#include "pgm/storage/http_client.h"

#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>

#include <curl/curl.h>

#include "pgm/io/fd.h"
#include "pgm/storage/text_internal.h"

namespace pgm::storage::internal {
namespace {

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// State shared with curl's callbacks during one transfer.
struct Transfer {
  CURL* curl = nullptr;
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  uint64_t sent = 0;  // body bytes handed to curl
  std::optional<Error> callback_error;
  bool stopped_early = false;  // on_body wanted no more
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  const std::string_view line = trim(std::string_view(data, n));
  if (line.rfind("HTTP/", 0) == 0) {  // a new response (after 100 Continue or a redirect)
    t->response->headers.clear();
    const size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      t->response->status = parse_u64(line.substr(space + 1, 3)).value_or(0);
    }
    return n;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(lower(trim(line.substr(0, colon))),
                                      std::string(trim(line.substr(colon + 1))));
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response->status == 0) {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response->status);
  }
  if (!t->request->on_body) {
    t->response->body.append(data, n);
    return n;
  }
  auto more =
      t->request->on_body(std::span(reinterpret_cast<const uint8_t*>(data), n), *t->response);
  if (!more) {
    t->callback_error = more.error();
    return 0;
  }
  if (!*more) {
    t->stopped_early = true;
    return 0;  // ends the transfer: the rest is not wanted
  }
  return n;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->request;
  const size_t want = size * count;
  if (r.body_fd < 0) {
    const size_t n = std::min(want, r.text.size() - static_cast<size_t>(t->sent));
    std::memcpy(buffer, r.text.data() + t->sent, n);
    t->sent += n;
    return n;
  }
  const auto n = static_cast<size_t>(std::min<uint64_t>(want, r.body_length - t->sent));
  if (n == 0) {
    return 0;
  }
  auto got =
      io::pread_full(r.body_fd, std::span(buffer, n), r.body_offset + t->sent, "read upload file");
  if (!got) {
    t->callback_error = got.error().with_context(r.context);
    return CURL_READFUNC_ABORT;
  }
  if (*got == 0) {
    t->callback_error =
        Error(ErrorCode::kIo, "upload file shrank while being sent").with_context(r.context);
    return CURL_READFUNC_ABORT;
  }
  t->sent += *got;
  return *got;
}

// curl rewinds the body when it resends on a fresh connection.
int on_seek(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  const HttpRequest& r = *t->request;
  const uint64_t length = r.body_fd < 0 ? r.text.size() : r.body_length;
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > length) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

ErrorCode code_for_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
      return ErrorCode::kTimeout;
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return ErrorCode::kUnavailable;
    case CURLE_PEER_FAILED_VERIFICATION:
      return ErrorCode::kPermission;
    default:
      return ErrorCode::kIo;
  }
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers) {
    if (n == name) {
      return v;
    }
  }
  return {};
}

void HttpClient::CurlDeleter::operator()(void* curl) const { curl_easy_cleanup(curl); }

HttpClient::HttpClient(std::string engine, std::chrono::seconds timeout, std::string ca_file)
    : engine_(std::move(engine)), timeout_(timeout), ca_file_(std::move(ca_file)) {}

Result<void> HttpClient::ready() {
  if (curl_) {
    return {};
  }
  static std::once_flag once;
  static CURLcode global = CURLE_OK;
  std::call_once(once, [] { global = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (global != CURLE_OK) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("{}: curl_global_init: {}", engine_, curl_easy_strerror(global)));
  }
  curl_.reset(curl_easy_init());
  if (!curl_) {
    return make_error(ErrorCode::kInternal, fmt::format("{}: curl_easy_init failed", engine_));
  }
  return {};
}

Result<HttpResponse> HttpClient::perform(const HttpRequest& request) {
  PGM_TRY(ready());
  CURL* curl = curl_.get();
  curl_easy_reset(curl);  // keeps the connection cache

  SlistPtr list;
  for (const std::string& line : request.headers) {
    curl_slist* next = curl_slist_append(list.get(), line.c_str());
    if (next == nullptr) {
      return make_error(ErrorCode::kInternal,
                        fmt::format("{}: out of memory building headers", engine_));
    }
    static_cast<void>(list.release());
    list.reset(next);
  }

  HttpResponse response;
  Transfer transfer{curl, &request, &response, 0, std::nullopt};
  char errbuf[CURL_ERROR_SIZE] = {};
  const auto timeout = static_cast<long>(timeout_.count());
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  if (request.path_as_is) {
    curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  }
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, timeout);
  // A stalled transfer fails; a long one that keeps moving does not.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout);
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!ca_file_.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    const uint64_t length = request.body_fd >= 0 ? request.body_length : request.text.size();
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(length));
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.text.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.text.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_WRITE_ERROR && transfer.stopped_early) {
    rc = CURLE_OK;
  }
  if (transfer.callback_error) {
    return tl::unexpected<Error>(*transfer.callback_error);
  }
  if (rc != CURLE_OK) {
    const std::string detail = errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);
    return make_error(code_for_curl(rc), fmt::format("{}: {}", request.context, detail));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::chrono::milliseconds Retrier::backoff(int n) {
  // Full jitter: uniform in [0, min(cap, base * 2^(n-1))).
  const auto ceiling =
      std::min<int64_t>(policy_.cap.count(), policy_.base.count() << std::min(n - 1, 20));
  std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(ceiling, 1) - 1);
  return std::chrono::milliseconds(pick(random_));
}

}  // namespace pgm::storage::internal
