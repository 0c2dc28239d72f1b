#include "pgm/storage/s3.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include <curl/curl.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/core/markup.h"
#include "pgm/core/unique_fd.h"
#include "pgm/storage/sigv4.h"
#include "pgm/storage/text_internal.h"

namespace pgm::storage {
namespace {

using core::escape_markup;
using internal::lower;
using internal::parse_u64;
using internal::trim;
using internal::xml_unescape;

using sigv4::Pairs;

constexpr uint64_t kMinPartSize = 5ULL << 20;
constexpr uint64_t kMaxPartSize = 5ULL << 30;
constexpr uint64_t kMaxParts = 10000;
constexpr size_t kMaxDeleteBatch = 1000;
constexpr size_t kMaxResponseBody = 16 << 20;  // XML answers and error bodies

struct CurlDeleter {
  void operator()(CURL* curl) const { curl_easy_cleanup(curl); }
};
using CurlPtr = std::unique_ptr<CURL, CurlDeleter>;

struct SlistDeleter {
  void operator()(curl_slist* list) const { curl_slist_free_all(list); }
};
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// ---- XML: just enough for S3's answers (no nesting of a same-named element, no CDATA) ----

std::vector<std::string_view> xml_elements(std::string_view xml, std::string_view name) {
  std::vector<std::string_view> out;
  const std::string open = fmt::format("<{}", name);
  const std::string close = fmt::format("</{}>", name);
  size_t pos = 0;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    const size_t after = pos + open.size();
    if (after >= xml.size()) {
      break;
    }
    const char next = xml[after];
    if (next != '>' && next != ' ' && next != '/' && next != '\t' && next != '\r' && next != '\n') {
      pos = after;  // a longer name sharing the prefix (<Key> vs <KeyCount>)
      continue;
    }
    const size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) {
      break;
    }
    if (xml[gt - 1] == '/') {
      out.emplace_back();
      pos = gt + 1;
      continue;
    }
    const size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) {
      break;
    }
    out.push_back(xml.substr(gt + 1, end - gt - 1));
    pos = end + close.size();
  }
  return out;
}

std::optional<std::string> xml_first(std::string_view xml, std::string_view name) {
  const auto elements = xml_elements(xml, name);
  if (elements.empty()) {
    return std::nullopt;
  }
  return xml_unescape(elements.front());
}

bool is_hex(std::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

// ---- error classification ----

ErrorCode code_for(long status, std::string_view s3_code) {
  if (s3_code == "NoSuchKey" || s3_code == "NoSuchBucket" || s3_code == "NoSuchUpload") {
    return ErrorCode::kNotFound;
  }
  if (s3_code == "SlowDown" || s3_code == "InternalError" || s3_code == "ServiceUnavailable" ||
      s3_code == "RequestTimeout" || s3_code == "Throttling") {
    return ErrorCode::kUnavailable;
  }
  if (s3_code == "AccessDenied" || s3_code == "SignatureDoesNotMatch" ||
      s3_code == "InvalidAccessKeyId") {
    return ErrorCode::kPermission;
  }
  switch (status) {
    case 401:
    case 403:
      return ErrorCode::kPermission;
    case 404:
      return ErrorCode::kNotFound;
    case 408:
    case 429:
    case 500:
    case 502:
    case 503:
    case 504:
      return ErrorCode::kUnavailable;
    default:
      return ErrorCode::kIo;
  }
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

bool retryable(const Error& error) {
  return error.code() == ErrorCode::kUnavailable || error.code() == ErrorCode::kTimeout;
}

// ---- HTTP exchange ----

struct Response {
  long status = 0;
  std::string body;  // the whole body unless a sink took it
  Pairs headers;     // lowercase names

  std::string header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) {
        return v;
      }
    }
    return {};
  }
};

struct Request {
  std::string method;
  std::string key;  // full object key (with the base prefix); empty = the bucket
  Pairs query;
  Pairs headers;                  // extra headers, all signed
  std::string_view body;          // PUT/POST payload
  const Sink* sink = nullptr;     // takes a 2xx body instead of Response::body
  uint64_t* delivered = nullptr;  // counts bytes given to the sink
  std::string what;               // "PUT primary/x" for messages
  // A ranged GET: only object bytes [clip_start, clip_end) reach the sink, even when the
  // server ignores Range (200) or answers a wider one (206 with another Content-Range).
  bool ranged = false;
  uint64_t clip_start = 0;
  std::optional<uint64_t> clip_end{};
};

// State shared with curl's callbacks during one transfer.
struct Transfer {
  CURL* curl = nullptr;
  const Request* request = nullptr;
  Response* response = nullptr;
  std::string_view upload;  // remaining bytes to send
  std::optional<Error> callback_error;
  uint64_t body_position = 0;  // object offset of the next body byte (ranged GETs)
  bool base_known = false;
  bool stopped_early = false;  // the wanted bytes of an unranged answer are all delivered
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    t->response->headers.clear();  // a new response (after 100 Continue or a redirect)
    return size * count;
  }
  const size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    t->response->headers.emplace_back(lower(trim(line.substr(0, colon))),
                                      std::string(trim(line.substr(colon + 1))));
  }
  return size * count;
}

// Object offset of the first body byte: 0 for a 200, the Content-Range start for a 206.
uint64_t body_base(const Response& response, uint64_t requested) {
  if (response.status != 206) {
    return 0;
  }
  const std::string header = response.header("content-range");
  std::string_view range = header;
  if (range.rfind("bytes ", 0) != 0) {
    return requested;
  }
  range.remove_prefix(6);
  const auto start = parse_u64(range.substr(0, range.find('-')));
  return start.value_or(requested);
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response->status == 0) {
    curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response->status);
  }
  const bool success = t->response->status >= 200 && t->response->status < 300;
  if (success && t->request->sink != nullptr) {
    std::span<const uint8_t> bytes(reinterpret_cast<uint8_t*>(data), n);
    bool last = false;
    if (t->request->ranged) {
      if (t->body_position == 0 && !t->base_known) {
        t->base_known = true;
        t->body_position = body_base(*t->response, t->request->clip_start);
      }
      const uint64_t pos = t->body_position;
      const uint64_t from = std::max(pos, t->request->clip_start);
      const uint64_t to = std::min<uint64_t>(pos + n, t->request->clip_end.value_or(UINT64_MAX));
      last = t->request->clip_end && pos + n >= *t->request->clip_end;
      bytes = from < to ? bytes.subspan(from - pos, to - from) : std::span<const uint8_t>();
    }
    t->body_position += n;
    if (!bytes.empty()) {
      auto r = (*t->request->sink)(bytes);
      if (!r) {
        t->callback_error = r.error();
        return 0;
      }
      if (t->request->delivered != nullptr) {
        *t->request->delivered += bytes.size();
      }
    }
    if (last) {
      t->stopped_early = true;
      return 0;  // ends the transfer: the rest is not wanted
    }
    return n;
  }
  if (t->response->body.size() + n > kMaxResponseBody) {
    t->callback_error = Error(ErrorCode::kProtocol, "response body too large");
    return 0;
  }
  t->response->body.append(data, n);
  return n;
}

size_t on_read(char* buffer, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = std::min(size * count, t->upload.size());
  std::memcpy(buffer, t->upload.data(), n);
  t->upload.remove_prefix(n);
  return n;
}

int seek_upload(void* user, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->request->body.size()) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->upload = t->request->body.substr(static_cast<size_t>(offset));
  return CURL_SEEKFUNC_OK;
}

Error response_error(const Request& request, const Response& response) {
  std::string code = xml_first(response.body, "Code").value_or("");
  std::string message = xml_first(response.body, "Message").value_or("");
  if (code.empty() && response.status == 404) {
    code = "NotFound";  // HEAD answers carry no body
  }
  std::string text = fmt::format("s3: {}: {}", request.what, response.status);
  if (!code.empty()) {
    text += " " + code;
  }
  if (!message.empty()) {
    text += ": " + message;
  }
  return Error(code_for(response.status, code), std::move(text));
}

void curl_global_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// ---- the engine ----

class S3Storage final : public Storage {
 public:
  S3Storage(S3Options options, CurlPtr curl)
      : options_(std::move(options)), curl_(std::move(curl)), random_(std::random_device{}()) {
    const bool default_port = options_.port == 0 || (options_.use_tls && options_.port == 443) ||
                              (!options_.use_tls && options_.port == 80);
    std::string host = options_.endpoint.empty()
                           ? fmt::format("s3.{}.amazonaws.com", options_.region)
                           : options_.endpoint;
    if (!options_.path_style) {
      host = fmt::format("{}.{}", options_.bucket, host);
    }
    host_ = default_port ? host : fmt::format("{}:{}", host, options_.port);
    base_prefix_ = options_.base_dir.empty() ? "" : options_.base_dir + "/";
    credentials_ = {options_.access_key_id, options_.secret_access_key, options_.region, "s3"};
  }

  std::string name() const override { return "s3"; }

  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha512_hex) override;
  Result<ObjectInfo> head(std::string_view key) override;
  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override;
  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override;
  Result<void> remove(std::span<const std::string> keys) override;

 private:
  std::string full_key(std::string_view key) const { return base_prefix_ + std::string(key); }
  std::string canonical_uri(const std::string& key) const;

  // One HTTP exchange; non-2xx answers become errors.
  Result<Response> perform_once(const Request& request);
  // Calls `attempt` until it succeeds, fails for good, or the attempts run out.
  template <typename F>
  auto with_retries(F attempt) -> decltype(attempt());
  Result<Response> perform(const Request& request) {
    return with_retries([&] { return perform_once(request); });
  }

  Result<void> put_single(const Request& base, int fd, uint64_t size);
  Result<void> put_multipart(const Request& base, std::string_view key, int fd, uint64_t size);
  Result<void> delete_batch(std::span<const std::string> keys);

  S3Options options_;
  CurlPtr curl_;
  std::mt19937_64 random_;
  std::string host_;
  std::string base_prefix_;
  sigv4::Credentials credentials_;
  char curl_error_[CURL_ERROR_SIZE] = {};
};

std::string S3Storage::canonical_uri(const std::string& key) const {
  if (options_.path_style) {
    std::string uri = "/" + sigv4::uri_encode(options_.bucket, false);
    if (!key.empty()) {
      uri += "/" + sigv4::uri_encode(key, true);
    }
    return uri;
  }
  return "/" + sigv4::uri_encode(key, true);
}

template <typename F>
auto S3Storage::with_retries(F attempt) -> decltype(attempt()) {
  for (int n = 1;; ++n) {
    auto result = attempt();
    if (result || !retryable(result.error())) {
      return result;
    }
    if (n >= options_.max_attempts) {
      if (n == 1) {
        return result;
      }
      return tl::unexpected<Error>(
          Error(result.error().code(),
                fmt::format("{} (after {} attempts)", result.error().message(), n)));
    }
    // Full jitter: uniform in [0, min(cap, base * 2^(n-1))).
    const auto ceiling = std::min<int64_t>(options_.retry_cap.count(), options_.retry_base.count()
                                                                           << std::min(n - 1, 20));
    std::uniform_int_distribution<int64_t> pick(0, std::max<int64_t>(ceiling, 1) - 1);
    std::this_thread::sleep_for(std::chrono::milliseconds(pick(random_)));
  }
}

Result<Response> S3Storage::perform_once(const Request& request) {
  CURL* curl = curl_.get();
  curl_easy_reset(curl);

  const std::string amz_date = sigv4::amz_date(std::chrono::system_clock::now());
  const std::string payload_hash = sigv4::sha256_hex(request.body);
  sigv4::Request signed_request{request.method, canonical_uri(request.key), request.query,
                                request.headers, payload_hash};
  signed_request.headers.emplace_back("host", host_);
  signed_request.headers.emplace_back("x-amz-date", amz_date);
  signed_request.headers.emplace_back("x-amz-content-sha256", payload_hash);
  const std::string authorization = sigv4::authorization(credentials_, amz_date, signed_request);

  curl_slist* raw = nullptr;
  SlistPtr header_list;
  auto add_header = [&](const std::string& line) {
    raw = curl_slist_append(raw, line.c_str());
    header_list.release();
    header_list.reset(raw);
  };
  for (const auto& [name, value] : signed_request.headers) {
    add_header(fmt::format("{}: {}", name, value));
  }
  add_header("Authorization: " + authorization);
  add_header("Expect:");
  if (request.method == "POST") {
    add_header("Content-Type: application/xml");
  }

  std::string url = fmt::format("{}://{}{}", options_.use_tls ? "https" : "http", host_,
                                signed_request.canonical_uri);
  if (!request.query.empty()) {
    url += "?" + sigv4::canonical_query(request.query);
  }

  Response response;
  Transfer transfer{curl, &request, &response, request.body, std::nullopt};
  curl_error_[0] = '\0';
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PATH_AS_IS, 1L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, curl_error_);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, static_cast<long>(options_.timeout.count()));
  // A stalled transfer fails; a long one that keeps moving does not.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, static_cast<long>(options_.timeout.count()));
  curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
  if (!options_.ca_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_CAINFO, options_.ca_file.c_str());
  }
  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "PUT") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(curl, CURLOPT_READDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, seek_upload);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &transfer);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  CURLcode rc = curl_easy_perform(curl);
  if (rc == CURLE_WRITE_ERROR && transfer.stopped_early) {
    rc = CURLE_OK;
  }
  if (transfer.callback_error) {
    if (request.sink != nullptr && response.status >= 200 && response.status < 300) {
      return tl::unexpected<Error>(*transfer.callback_error);  // the sink's own error
    }
    return tl::unexpected<Error>(transfer.callback_error->with_context("s3: " + request.what));
  }
  if (rc != CURLE_OK) {
    const std::string detail = curl_error_[0] != '\0' ? curl_error_ : curl_easy_strerror(rc);
    return make_error(code_for_curl(rc), fmt::format("s3: {}: {}", request.what, detail));
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status < 200 || response.status >= 300) {
    return tl::unexpected<Error>(response_error(request, response));
  }
  return response;
}

Result<ObjectInfo> S3Storage::head(std::string_view key) {
  Request request{"HEAD", full_key(key), {}, {}, {}, nullptr, nullptr, fmt::format("HEAD {}", key)};
  PGM_ASSIGN_OR_RETURN(Response response, perform(request));
  const auto size = parse_u64(response.header("content-length"));
  if (!size) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("s3: HEAD {}: no valid Content-Length", key));
  }
  return ObjectInfo{std::string(key), *size, lower(response.header("x-amz-meta-sha512"))};
}

Result<void> S3Storage::get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                            const Sink& sink) {
  if (length && *length == 0) {
    return {};
  }
  uint64_t delivered = 0;
  const std::string what = fmt::format("GET {}", key);
  return with_retries([&]() -> Result<void> {
    // A retry resumes after the bytes the sink already has.
    const uint64_t start = offset + delivered;
    Pairs headers;
    if (length) {
      headers.emplace_back("range", fmt::format("bytes={}-{}", start, offset + *length - 1));
    } else if (start > 0) {
      headers.emplace_back("range", fmt::format("bytes={}-", start));
    }
    Request request{"GET", full_key(key), {}, {}, {}, &sink, &delivered, what};
    request.ranged = !headers.empty();
    request.headers = std::move(headers);
    request.clip_start = start;
    if (length) {
      request.clip_end = offset + *length;
    }
    PGM_TRY(perform_once(request));
    return {};
  });
}

Result<void> S3Storage::put_single(const Request& base, int fd, uint64_t size) {
  return with_retries([&]() -> Result<void> {
    std::string body(size, '\0');
    size_t done = 0;
    while (done < size) {
      const ssize_t n = ::pread(fd, body.data() + done, size - done, static_cast<off_t>(done));
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n < 0) {
        return tl::unexpected<Error>(errno_error(fmt::format("s3: {}: read", base.what), errno));
      }
      if (n == 0) {
        return make_error(ErrorCode::kIo, fmt::format("s3: {}: the file shrank", base.what));
      }
      done += static_cast<size_t>(n);
    }
    Request request = base;
    request.body = body;
    PGM_TRY(perform_once(request));
    return {};
  });
}

Result<void> S3Storage::put_multipart(const Request& base, std::string_view key, int fd,
                                      uint64_t size) {
  const uint64_t part_size =
      std::max<uint64_t>(options_.part_size, (size + kMaxParts - 1) / kMaxParts);
  Request create = base;
  create.method = "POST";
  create.query = {{"uploads", ""}};
  create.what = fmt::format("POST {} (create multipart upload)", key);
  PGM_ASSIGN_OR_RETURN(Response created, perform(create));
  const std::optional<std::string> upload_id = xml_first(created.body, "UploadId");
  if (!upload_id || upload_id->empty()) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("s3: {}: no UploadId in the answer", create.what));
  }

  auto abort_upload = [&] {
    Request abort{"DELETE",
                  base.key,
                  {{"uploadId", *upload_id}},
                  {},
                  {},
                  nullptr,
                  nullptr,
                  fmt::format("DELETE {} (abort multipart upload)", key)};
    // Best effort: the caller gets the upload's own error; a bucket lifecycle rule reclaims
    // what an abort that fails leaves behind.
    const auto aborted = perform(abort);
    static_cast<void>(aborted);
  };

  std::string xml = "<CompleteMultipartUpload>";
  std::string buffer;
  for (uint64_t part = 1, offset = 0; offset < size; ++part, offset += part_size) {
    const uint64_t len = std::min(part_size, size - offset);
    const std::string what = fmt::format("PUT {} (part {})", key, part);
    auto uploaded = with_retries([&]() -> Result<std::string> {
      buffer.resize(len);
      size_t done = 0;
      while (done < len) {
        const ssize_t n =
            ::pread(fd, buffer.data() + done, len - done, static_cast<off_t>(offset + done));
        if (n < 0 && errno == EINTR) {
          continue;
        }
        if (n < 0) {
          return tl::unexpected<Error>(errno_error(fmt::format("s3: {}: read", what), errno));
        }
        if (n == 0) {
          return make_error(ErrorCode::kIo, fmt::format("s3: {}: the file shrank", what));
        }
        done += static_cast<size_t>(n);
      }
      Request request{
          "PUT",   base.key, {{"partNumber", std::to_string(part)}, {"uploadId", *upload_id}},
          {},      buffer,   nullptr,
          nullptr, what};
      PGM_ASSIGN_OR_RETURN(Response response, perform_once(request));
      std::string etag = response.header("etag");
      if (etag.empty()) {
        return make_error(ErrorCode::kProtocol, fmt::format("s3: {}: no ETag", what));
      }
      return etag;
    });
    if (!uploaded) {
      abort_upload();
      return tl::unexpected<Error>(uploaded.error());
    }
    xml += fmt::format("<Part><PartNumber>{}</PartNumber><ETag>{}</ETag></Part>", part,
                       escape_markup(*uploaded));
  }
  std::string().swap(buffer);
  xml += "</CompleteMultipartUpload>";

  Request complete{"POST",
                   base.key,
                   {{"uploadId", *upload_id}},
                   {},
                   xml,
                   nullptr,
                   nullptr,
                   fmt::format("POST {} (complete multipart upload)", key)};
  auto completed = with_retries([&]() -> Result<void> {
    PGM_ASSIGN_OR_RETURN(Response response, perform_once(complete));
    // S3 may answer 200 and report the failure in the body.
    if (response.body.find("<Error>") != std::string::npos) {
      response.status = 500;
      return tl::unexpected<Error>(response_error(complete, response));
    }
    return {};
  });
  if (!completed) {
    abort_upload();
    return completed;
  }
  return {};
}

Result<void> S3Storage::put_file(std::string_view key, const std::string& path,
                                 std::string_view sha512_hex) {
  if (key.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "s3: PUT: empty key");
  }
  if (!is_hex(sha512_hex)) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("s3: PUT {}: sha512 is not a hex string", key));
  }
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return tl::unexpected<Error>(errno_error(fmt::format("s3: PUT {}: open {}", key, path), errno));
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return tl::unexpected<Error>(errno_error(fmt::format("s3: PUT {}: stat {}", key, path), errno));
  }
  const auto size = static_cast<uint64_t>(st.st_size);

  Request base{"PUT", full_key(key), {},      {{"x-amz-meta-sha512", lower(sha512_hex)}},
               {},    nullptr,       nullptr, fmt::format("PUT {}", key)};
  if (!options_.storage_class.empty()) {
    base.headers.emplace_back("x-amz-storage-class", options_.storage_class);
  }
  if (size <= options_.part_size) {
    return put_single(base, fd.get(), size);
  }
  return put_multipart(base, key, fd.get(), size);
}

Result<std::vector<ObjectInfo>> S3Storage::list(std::string_view prefix) {
  const std::string full_prefix = full_key(prefix);
  std::vector<ObjectInfo> objects;
  std::string token;
  for (;;) {
    Pairs query = {{"list-type", "2"},
                   {"prefix", full_prefix},
                   {"max-keys", std::to_string(options_.list_page_size)}};
    if (!token.empty()) {
      query.emplace_back("continuation-token", token);
    }
    Request request{"GET", "",      std::move(query), {},
                    {},    nullptr, nullptr,          fmt::format("LIST {}", prefix)};
    PGM_ASSIGN_OR_RETURN(Response response, perform(request));
    for (const std::string_view contents : xml_elements(response.body, "Contents")) {
      const std::optional<std::string> key = xml_first(contents, "Key");
      const std::optional<std::string> size_text = xml_first(contents, "Size");
      const std::optional<uint64_t> size = size_text ? parse_u64(*size_text) : std::nullopt;
      if (!key || !size) {
        return make_error(ErrorCode::kProtocol,
                          fmt::format("s3: {}: a Contents entry lacks Key or Size", request.what));
      }
      if (key->compare(0, base_prefix_.size(), base_prefix_) != 0) {
        continue;
      }
      objects.push_back(ObjectInfo{key->substr(base_prefix_.size()), *size, ""});
    }
    const bool truncated = trim(xml_first(response.body, "IsTruncated").value_or("")) == "true";
    if (!truncated) {
      break;
    }
    std::string next = xml_first(response.body, "NextContinuationToken").value_or("");
    if (next.empty() || next == token) {
      return make_error(
          ErrorCode::kProtocol,
          fmt::format("s3: {}: truncated listing without a new continuation token", request.what));
    }
    token = std::move(next);
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

Result<void> S3Storage::delete_batch(std::span<const std::string> keys) {
  std::string xml = "<Delete><Quiet>true</Quiet>";
  for (const std::string& key : keys) {
    xml += fmt::format("<Object><Key>{}</Key></Object>", escape_markup(full_key(key)));
  }
  xml += "</Delete>";
  const std::string what = keys.size() == 1
                               ? fmt::format("DELETE {}", keys[0])
                               : fmt::format("DELETE {} (and {} more)", keys[0], keys.size() - 1);
  Request request{"POST", "",      {{"delete", ""}}, {{"content-md5", sigv4::md5_base64(xml)}},
                  xml,    nullptr, nullptr,          what};
  PGM_ASSIGN_OR_RETURN(Response response, perform(request));
  for (const std::string_view error : xml_elements(response.body, "Error")) {
    const std::string code = xml_first(error, "Code").value_or("");
    if (code == "NoSuchKey") {
      continue;
    }
    std::string key = xml_first(error, "Key").value_or("");
    if (key.compare(0, base_prefix_.size(), base_prefix_) == 0) {
      key.erase(0, base_prefix_.size());
    }
    return make_error(code_for(0, code), fmt::format("s3: DELETE {}: {}: {}", key, code,
                                                     xml_first(error, "Message").value_or("")));
  }
  return {};
}

Result<void> S3Storage::remove(std::span<const std::string> keys) {
  for (size_t i = 0; i < keys.size(); i += kMaxDeleteBatch) {
    PGM_TRY(delete_batch(keys.subspan(i, std::min(kMaxDeleteBatch, keys.size() - i))));
  }
  return {};
}

std::string strip_slashes(std::string_view text) {
  while (!text.empty() && text.front() == '/') {
    text.remove_prefix(1);
  }
  while (!text.empty() && text.back() == '/') {
    text.remove_suffix(1);
  }
  return std::string(text);
}

}  // namespace

Result<std::unique_ptr<Storage>> make_s3_storage(S3Options options) {
  auto config_error = [](std::string message) {
    return make_error(ErrorCode::kConfig, std::move(message));
  };
  if (options.bucket.empty()) {
    return config_error("s3_bucket is empty");
  }
  if (options.bucket.find_first_of("/ \t\r\n?#") != std::string::npos) {
    return config_error(fmt::format("s3_bucket '{}' is not a valid bucket name", options.bucket));
  }
  if (options.region.empty()) {
    return config_error("s3_region is empty");
  }
  if (options.access_key_id.empty()) {
    return config_error("s3_access_key_id is empty");
  }
  if (options.secret_access_key.empty()) {
    return config_error("s3_secret_access_key is empty");
  }
  if (options.endpoint.find_first_of("/ \t\r\n?#@") != std::string::npos) {
    return config_error(fmt::format("s3_endpoint '{}' must be a host name or address, not a URL",
                                    options.endpoint));
  }
  if (options.port < 0 || options.port > 65535) {
    return config_error(fmt::format("s3_port {} is out of range", options.port));
  }
  if (options.storage_class.find_first_of("\r\n") != std::string::npos) {
    return config_error("s3_storage_class contains a line break");
  }
  if (options.part_size < kMinPartSize || options.part_size > kMaxPartSize) {
    return config_error(
        fmt::format("s3 part size {} is outside 5 MiB .. 5 GiB", options.part_size));
  }
  if (options.timeout.count() <= 0) {
    return config_error("s3 timeout must be positive");
  }
  if (options.max_attempts < 1) {
    return config_error("s3 max_attempts must be at least 1");
  }
  if (options.list_page_size < 1 || options.list_page_size > 1000) {
    return config_error("s3 list page size must be within 1..1000");
  }
  options.base_dir = strip_slashes(options.base_dir);
  curl_global_once();
  CurlPtr curl(curl_easy_init());
  if (!curl) {
    return make_error(ErrorCode::kInternal, "s3: curl_easy_init failed");
  }
  return std::make_unique<S3Storage>(std::move(options), std::move(curl));
}

}  // namespace pgm::storage
