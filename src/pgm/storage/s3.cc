#include "pgm/storage/s3.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/core/markup.h"
#include "pgm/core/unique_fd.h"
#include "pgm/io/fd.h"
#include "pgm/storage/http_client.h"
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

// ---- HTTP exchange ----

using internal::HttpResponse;
using Response = HttpResponse;

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

// Cuts a ranged GET's body to the requested bytes, wherever the answer starts.
struct BodyClip {
  uint64_t position = 0;  // object offset of the next body byte
  bool base_known = false;

  // Narrows `bytes` to the wanted part; true when the wanted bytes end within them.
  bool apply(const Request& request, const Response& response, std::span<const uint8_t>& bytes) {
    if (!request.ranged) {
      return false;
    }
    if (!base_known) {
      base_known = true;
      position = body_base(response, request.clip_start);
    }
    const uint64_t pos = position;
    const uint64_t n = bytes.size();
    position += n;
    const uint64_t from = std::max(pos, request.clip_start);
    const uint64_t to = std::min<uint64_t>(pos + n, request.clip_end.value_or(UINT64_MAX));
    bytes = from < to ? bytes.subspan(from - pos, to - from) : std::span<const uint8_t>();
    return request.clip_end && pos + n >= *request.clip_end;
  }
};

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

// Fills `buffer` from `fd` at `offset`; a file now shorter than that is an error.
Result<void> read_part(int fd, std::string& buffer, uint64_t offset, std::string_view what) {
  PGM_ASSIGN_OR_RETURN(size_t n,
                       io::pread_full(fd, buffer, offset, fmt::format("s3: {}: read", what)));
  if (n < buffer.size()) {
    return make_error(ErrorCode::kIo, fmt::format("s3: {}: the file shrank", what));
  }
  return {};
}

// ---- the engine ----

class S3Storage final : public Storage {
 public:
  explicit S3Storage(S3Options options)
      : options_(std::move(options)),
        http_("s3", options_.timeout, options_.ca_file),
        retrier_({options_.max_attempts, options_.retry_base, options_.retry_cap, "after"}) {
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
  Result<void> ready() { return http_.ready(); }

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
  auto with_retries(F attempt) -> decltype(attempt()) {
    return retrier_.run(std::move(attempt));
  }
  Result<Response> perform(const Request& request) {
    return with_retries([&] { return perform_once(request); });
  }

  Result<void> put_single(const Request& base, int fd, uint64_t size);
  Result<void> put_multipart(const Request& base, std::string_view key, int fd, uint64_t size);
  Result<void> delete_batch(std::span<const std::string> keys);

  S3Options options_;
  internal::HttpClient http_;
  internal::Retrier retrier_;
  std::string host_;
  std::string base_prefix_;
  sigv4::Credentials credentials_;
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

Result<Response> S3Storage::perform_once(const Request& request) {
  const std::string amz_date = sigv4::amz_date(std::chrono::system_clock::now());
  const std::string payload_hash = sigv4::sha256_hex(request.body);
  sigv4::Request signed_request{request.method, canonical_uri(request.key), request.query,
                                request.headers, payload_hash};
  signed_request.headers.emplace_back("host", host_);
  signed_request.headers.emplace_back("x-amz-date", amz_date);
  signed_request.headers.emplace_back("x-amz-content-sha256", payload_hash);
  const std::string authorization = sigv4::authorization(credentials_, amz_date, signed_request);

  internal::HttpRequest http{request.method, "", {}, true, request.body};
  for (const auto& [name, value] : signed_request.headers) {
    http.headers.push_back(fmt::format("{}: {}", name, value));
  }
  http.headers.push_back("Authorization: " + authorization);
  http.headers.emplace_back("Expect:");
  if (request.method == "POST") {
    http.headers.emplace_back("Content-Type: application/xml");
  }
  http.url = fmt::format("{}://{}{}", options_.use_tls ? "https" : "http", host_,
                         signed_request.canonical_uri);
  if (!request.query.empty()) {
    http.url += "?" + sigv4::canonical_query(request.query);
  }
  http.context = "s3: " + request.what;
  BodyClip clip;
  http.on_body = [&](std::span<const uint8_t> bytes, Response& response) -> Result<bool> {
    if (request.sink == nullptr || response.status < 200 || response.status >= 300) {
      if (response.body.size() + bytes.size() > kMaxResponseBody) {
        return tl::unexpected<Error>(
            Error(ErrorCode::kProtocol, "response body too large").with_context(http.context));
      }
      response.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      return true;
    }
    const bool last = clip.apply(request, response, bytes);
    if (!bytes.empty()) {
      PGM_TRY((*request.sink)(bytes));
      if (request.delivered != nullptr) {
        *request.delivered += bytes.size();
      }
    }
    return !last;
  };
  PGM_ASSIGN_OR_RETURN(Response response, http_.perform(http));
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
    PGM_TRY(read_part(fd, body, 0, base.what));
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
      PGM_TRY(read_part(fd, buffer, offset, what));
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
  auto storage = std::make_unique<S3Storage>(std::move(options));
  PGM_TRY(storage->ready());
  return std::unique_ptr<Storage>(std::move(storage));
}

}  // namespace pgm::storage
