#include "pgm/storage/azure.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>
#include <optional>
#include <utility>
#include <vector>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/core/markup.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/base64.h"
#include "pgm/storage/azure_auth.h"
#include "pgm/storage/http_client.h"
#include "pgm/storage/text_internal.h"

namespace pgm::storage {
namespace {

using core::escape_markup;
using internal::parse_u64;
using internal::xml_unescape;

constexpr const char* kApiVersion = "2021-08-06";
constexpr uint64_t kMaxBlockSize = uint64_t{4000} << 20;  // Put Block limit since 2019-12-12
constexpr uint64_t kMaxBlocks = 50000;                    // blocks per committed block blob
constexpr size_t kMaxErrorBody = 64 << 10;                // error documents kept for messages

using Headers = std::vector<std::pair<std::string, std::string>>;

// ---------------------------------------------------------------------------------------------
// A minimal XML reader for the flat documents the Blob service returns (List Blobs results,
// error documents): finds <tag ...>text</tag> or <tag/> after a position. No DTDs, no CDATA,
// no nesting of same-name elements, which these documents never use.

struct XmlElement {
  std::string_view content;  // raw, entities not decoded
  size_t end = 0;            // position just after the element
};

std::optional<XmlElement> xml_find(std::string_view xml, std::string_view tag, size_t from = 0) {
  std::string open = fmt::format("<{}", tag);
  size_t pos = from;
  while ((pos = xml.find(open, pos)) != std::string_view::npos) {
    size_t after = pos + open.size();
    if (after >= xml.size()) {
      return std::nullopt;
    }
    char c = xml[after];
    if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\r' && c != '\n') {
      pos = after;  // a longer name with this prefix ("<Blobs" for "<Blob")
      continue;
    }
    size_t gt = xml.find('>', after);
    if (gt == std::string_view::npos) {
      return std::nullopt;
    }
    if (xml[gt - 1] == '/') {
      return XmlElement{std::string_view(), gt + 1};
    }
    std::string close = fmt::format("</{}>", tag);
    size_t end = xml.find(close, gt + 1);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    return XmlElement{xml.substr(gt + 1, end - gt - 1), end + close.size()};
  }
  return std::nullopt;
}

std::string xml_child_text(std::string_view xml, std::string_view tag) {
  auto element = xml_find(xml, tag);
  return element ? xml_unescape(element->content) : std::string();
}

bool is_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---------------------------------------------------------------------------------------------
// One HTTP exchange with the Blob service.

struct Request {
  Request(std::string verb_in, std::string blob_in, Headers query_in = {}, Headers headers_in = {})
      : verb(std::move(verb_in)),
        blob(std::move(blob_in)),
        query(std::move(query_in)),
        headers(std::move(headers_in)) {}

  std::string verb;  // GET, HEAD, PUT, DELETE
  std::string blob;  // blob name; empty for container-level requests
  Headers query;     // decoded
  Headers headers;   // extra headers (x-ms-*, If-Match), signed
  // Body: text, or `body_length` bytes of `body_fd` from `body_offset` (read as sent).
  std::string_view text;
  int body_fd = -1;
  uint64_t body_offset = 0;
  uint64_t body_length = 0;
  // GET: 2xx bytes go to the sink. Range [range_offset, +range_length) when ranged.
  const Sink* sink = nullptr;
  bool ranged = false;
  uint64_t range_offset = 0;
  std::optional<uint64_t> range_length;
  long also_ok = 0;  // a non-2xx status the caller handles (404 on delete, 409 on create)
};

using Response = internal::HttpResponse;

// Per-call state surviving retries: what the sink already has, and the version it came from.
struct Progress {
  uint64_t delivered = 0;
  std::string etag;
};

bool retryable_status(long status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

class Client {
 public:
  explicit Client(AzureOptions options)
      : options_(std::move(options)),
        http_("azure", options_.timeout, ""),
        retrier_(
            {options_.max_attempts, options_.retry_base, options_.retry_cap, "gave up after"}) {
    base_prefix_ = options_.base_dir;
    while (!base_prefix_.empty() && base_prefix_.front() == '/') {
      base_prefix_.erase(0, 1);
    }
    while (!base_prefix_.empty() && base_prefix_.back() == '/') {
      base_prefix_.pop_back();
    }
    if (!base_prefix_.empty()) {
      base_prefix_ += '/';
    }
    std::string host = options_.endpoint;
    if (host.empty()) {
      host = options_.account + ".blob.core.windows.net";
    } else {
      unsigned char addr[16];
      bool v4 = ::inet_pton(AF_INET, host.c_str(), addr) == 1;
      bool v6 = ::inet_pton(AF_INET6, host.c_str(), addr) == 1;
      path_style_ = v4 || v6 || host == "localhost";
      if (v6) {
        host = fmt::format("[{}]", host);
      }
    }
    origin_ = fmt::format("{}://{}", options_.use_tls ? "https" : "http", host);
    if (options_.port != 0) {
      origin_ += fmt::format(":{}", options_.port);
    }
  }

  const AzureOptions& options() const { return options_; }
  const std::string& base_prefix() const { return base_prefix_; }

  Result<void> ready() { return http_.ready(); }

  // Sends the request, retrying retryable failures; non-2xx answers (except also_ok) become
  // errors "azure: <VERB> <blob>: <status> <Code>: <Message>".
  Result<Response> call(const Request& request) {
    Progress progress;
    return retrier_.run([&]() -> Result<Response> {
      PGM_ASSIGN_OR_RETURN(Response response, perform(request, progress));
      if ((response.status < 200 || response.status >= 300) && response.status != request.also_ok) {
        return tl::unexpected<Error>(http_error(request, response));
      }
      return response;
    });
  }

 private:
  std::string display_name(const Request& request) const {
    return request.blob.empty() ? options_.container : request.blob;
  }

  Error http_error(const Request& request, const Response& response) const {
    std::string code;
    std::string message;
    if (auto error = xml_find(response.body, "Error")) {
      code = xml_child_text(error->content, "Code");
      message = xml_child_text(error->content, "Message");
    }
    if (code.empty()) {
      code = response.header("x-ms-error-code");
    }
    if (size_t nl = message.find_first_of("\r\n"); nl != std::string::npos) {
      message.resize(nl);  // drop the RequestId/Time lines
    }
    long status = response.status;
    ErrorCode ec = ErrorCode::kIo;
    if (status == 401 || status == 403) {
      ec = ErrorCode::kPermission;
    } else if (status == 404) {
      ec = ErrorCode::kNotFound;
    } else if (status == 408 || code == "OperationTimedOut") {
      ec = ErrorCode::kTimeout;
    } else if (retryable_status(status) || code == "ServerBusy" || code == "InternalError") {
      ec = ErrorCode::kUnavailable;
    } else if (status == 416) {
      ec = ErrorCode::kInvalidArgument;
    } else if (status >= 400 && status < 500) {
      ec = ErrorCode::kProtocol;
    }
    std::string text = fmt::format("azure: {} {}: {}", request.verb, display_name(request), status);
    if (!code.empty()) {
      text += fmt::format(" {}", code);
    }
    if (!message.empty()) {
      text += fmt::format(": {}", message);
    }
    return {ec, std::move(text)};
  }

  std::string url_path(const Request& request) const {
    std::string path = "/";
    if (path_style_) {
      path += options_.account + "/";
    }
    path += options_.container;
    if (!request.blob.empty()) {
      path += fmt::format("/{}", azure::url_encode(request.blob, true));
    }
    return path;
  }

  Result<Response> perform(const Request& request, Progress& progress) {
    Headers headers = request.headers;
    headers.emplace_back("x-ms-date", azure::http_date(std::time(nullptr)));
    headers.emplace_back("x-ms-version", kApiVersion);
    if (request.sink != nullptr) {
      uint64_t offset = request.range_offset + progress.delivered;
      if (request.ranged || progress.delivered > 0) {
        std::string range = fmt::format("bytes={}-", offset);
        if (request.range_length) {
          range += std::to_string(request.range_offset + *request.range_length - 1);
        }
        headers.emplace_back("x-ms-range", range);
      }
      if (progress.delivered > 0 && !progress.etag.empty()) {
        headers.emplace_back("If-Match", progress.etag);  // resume only the same version
      }
    }

    bool upload = request.verb == "PUT";
    uint64_t content_length = request.body_fd >= 0 ? request.body_length : request.text.size();
    azure::SignedRequest signed_request{request.verb,      options_.account,
                                        url_path(request), request.query,
                                        headers,           upload ? content_length : 0};
    PGM_ASSIGN_OR_RETURN(std::string auth,
                         azure::authorization(signed_request, options_.shared_key));

    internal::HttpRequest http{request.verb, origin_ + signed_request.path};
    char separator = '?';
    for (const auto& [name, value] : request.query) {
      http.url +=
          separator + azure::url_encode(name, false) + "=" + azure::url_encode(value, false);
      separator = '&';
    }
    for (const auto& [name, value] : headers) {
      http.headers.push_back(fmt::format("{}: {}", name, value));
    }
    http.headers.push_back(fmt::format("Authorization: {}", auth));
    http.headers.emplace_back("Expect:");  // no 100-continue round trip
    http.text = request.text;
    http.body_fd = request.body_fd;
    http.body_offset = request.body_offset;
    http.body_length = request.body_length;
    http.context = fmt::format("azure: {} {}", request.verb, display_name(request));
    http.on_body = [&](std::span<const uint8_t> bytes, Response& response) -> Result<bool> {
      const bool success = response.status >= 200 && response.status < 300;
      if (request.sink != nullptr && success) {
        if (auto r = (*request.sink)(bytes); !r) {
          return tl::unexpected<Error>(r.error().with_context(http.context));
        }
        progress.delivered += bytes.size();
      } else if (success || response.body.size() < kMaxErrorBody) {
        response.body.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
      }
      return true;
    };
    PGM_ASSIGN_OR_RETURN(Response response, http_.perform(http));
    if (request.sink != nullptr && response.status >= 200 && response.status < 300 &&
        progress.etag.empty()) {
      progress.etag = response.header("etag");
    }
    return response;
  }

  AzureOptions options_;
  std::string base_prefix_;  // base_dir + "/", or ""
  std::string origin_;       // scheme://host[:port]
  bool path_style_ = false;
  internal::HttpClient http_;
  internal::Retrier retrier_;
};

Result<void> check_key(std::string_view key) {
  if (key.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "azure: empty key");
  }
  return {};
}

class AzureStorage final : public Storage {
 public:
  explicit AzureStorage(AzureOptions options) : client_(std::move(options)) {}

  std::string name() const override { return "azure"; }
  Result<void> ready() { return client_.ready(); }

  Result<void> put_file(std::string_view key, const std::string& path,
                        std::string_view sha512_hex) override {
    PGM_TRY(check_key(key));
    if (!is_hex(sha512_hex)) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("azure: PUT {}: sha512 is not lowercase hex", key));
    }
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      return make_errno_error(fmt::format("azure: open {}", path), errno);
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      return make_errno_error(fmt::format("azure: stat {}", path), errno);
    }
    auto size = static_cast<uint64_t>(st.st_size);
    std::string blob = blob_name(key);
    Headers meta;
    if (!sha512_hex.empty()) {
      meta.emplace_back("x-ms-meta-sha512", std::string(sha512_hex));
    }
    const uint64_t block_size = client_.options().block_size;

    if (size <= block_size) {
      Request request{"PUT", blob, {}, meta};
      request.headers.emplace_back("x-ms-blob-type", "BlockBlob");
      request.body_fd = fd.get();
      request.body_length = size;
      PGM_TRY(client_.call(request));
      return {};
    }

    uint64_t blocks = (size + block_size - 1) / block_size;
    if (blocks > kMaxBlocks) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("azure: PUT {}: {} bytes need {} blocks of {}, more than {}",
                                    blob, size, blocks, block_size, kMaxBlocks));
    }
    std::string list = R"(<?xml version="1.0" encoding="utf-8"?><BlockList>)";
    for (uint64_t i = 0; i < blocks; ++i) {
      // Equal-length ids, as the service requires within one blob.
      std::string id = crypto::base64_encode(fmt::format("pgm-block-{:06}", i));
      Request request{"PUT", blob, {{"comp", "block"}, {"blockid", id}}, {}};
      request.body_fd = fd.get();
      request.body_offset = i * block_size;
      request.body_length = std::min(block_size, size - i * block_size);
      PGM_TRY(client_.call(request));
      list += fmt::format("<Latest>{}</Latest>", escape_markup(id));
    }
    list += "</BlockList>";
    Request commit{"PUT", blob, {{"comp", "blocklist"}}, meta};
    commit.text = list;
    PGM_TRY(client_.call(commit));
    return {};
  }

  Result<ObjectInfo> head(std::string_view key) override {
    PGM_TRY(check_key(key));
    Request request{"HEAD", blob_name(key), {}, {}};
    PGM_ASSIGN_OR_RETURN(Response response, client_.call(request));
    auto size = parse_u64(response.header("content-length"));
    if (!size) {
      return make_error(ErrorCode::kProtocol,
                        fmt::format("azure: HEAD {}: no valid Content-Length", request.blob));
    }
    return ObjectInfo{std::string(key), *size, response.header("x-ms-meta-sha512")};
  }

  Result<void> get(std::string_view key, uint64_t offset, std::optional<uint64_t> length,
                   const Sink& sink) override {
    PGM_TRY(check_key(key));
    if (length && *length == 0) {
      PGM_TRY(head(key));  // nothing to read, but a missing object is still reported
      return {};
    }
    Request request{"GET", blob_name(key), {}, {}};
    request.sink = &sink;
    request.ranged = offset > 0 || length.has_value();
    request.range_offset = offset;
    request.range_length = length;
    PGM_TRY(client_.call(request));
    return {};
  }

  Result<std::vector<ObjectInfo>> list(std::string_view prefix) override {
    const std::string& base = client_.base_prefix();
    std::string full_prefix = base + std::string(prefix);
    std::vector<ObjectInfo> objects;
    std::string marker;
    do {
      Request request{"GET", "", {{"restype", "container"}, {"comp", "list"}}, {}};
      request.query.emplace_back("include", "metadata");
      if (!full_prefix.empty()) {
        request.query.emplace_back("prefix", full_prefix);
      }
      if (client_.options().list_page_size > 0) {
        request.query.emplace_back("maxresults", std::to_string(client_.options().list_page_size));
      }
      if (!marker.empty()) {
        request.query.emplace_back("marker", marker);
      }
      PGM_ASSIGN_OR_RETURN(Response response, client_.call(request));
      PGM_TRY(parse_listing(response.body, base, objects, marker));
    } while (!marker.empty());
    std::sort(objects.begin(), objects.end(),
              [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
    return objects;
  }

  Result<void> remove(std::span<const std::string> keys) override {
    for (const std::string& key : keys) {
      PGM_TRY(check_key(key));
      Request request{"DELETE", blob_name(key), {}, {}};
      request.also_ok = 404;
      PGM_TRY(client_.call(request));
    }
    return {};
  }

 private:
  std::string blob_name(std::string_view key) const {
    return client_.base_prefix() + std::string(key);
  }

  // Appends the blobs of one List Blobs page; sets `marker` to NextMarker ("" on the last).
  Result<void> parse_listing(std::string_view xml, const std::string& base,
                             std::vector<ObjectInfo>& objects, std::string& marker) const {
    auto results = xml_find(xml, "EnumerationResults");
    if (!results) {
      return make_error(ErrorCode::kProtocol,
                        "azure: list " + client_.options().container + ": no EnumerationResults");
    }
    std::string_view body = results->content;
    size_t pos = 0;
    std::string_view blobs_part = body;
    if (auto blobs = xml_find(body, "Blobs")) {
      blobs_part = blobs->content;
      pos = blobs->end;
    }
    size_t at = 0;
    while (auto blob = xml_find(blobs_part, "Blob", at)) {
      at = blob->end;
      std::string name = xml_child_text(blob->content, "Name");
      if (name.rfind(base, 0) != 0) {
        continue;
      }
      ObjectInfo info;
      info.key = name.substr(base.size());
      if (auto properties = xml_find(blob->content, "Properties")) {
        auto size = parse_u64(xml_child_text(properties->content, "Content-Length"));
        if (!size) {
          return make_error(ErrorCode::kProtocol,
                            "azure: list: no valid Content-Length for " + name);
        }
        info.size = *size;
      }
      if (auto metadata = xml_find(blob->content, "Metadata")) {
        info.sha512 = xml_child_text(metadata->content, "sha512");
      }
      objects.push_back(std::move(info));
    }
    marker = xml_child_text(body.substr(pos), "NextMarker");
    return {};
  }

  Client client_;
};

Result<void> validate(AzureOptions& options) {
  auto config_error = [](std::string message) {
    return make_error(ErrorCode::kConfig, std::move(message));
  };
  const std::string& account = options.account;
  if (account.empty()) {
    return config_error("azure_storage_account is empty");
  }
  if (!std::all_of(account.begin(), account.end(),
                   [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); })) {
    return config_error("azure_storage_account must be lowercase letters and digits: " + account);
  }
  const std::string& container = options.container;
  bool container_ok = container.size() >= 3 && container.size() <= 63 && container.front() != '-' &&
                      container.back() != '-' && container.find("--") == std::string::npos &&
                      std::all_of(container.begin(), container.end(), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
                      });
  if (!container_ok) {
    return config_error(
        "azure_container must be 3-63 lowercase letters, digits and single hyphens: '" + container +
        "'");
  }
  if (options.shared_key.empty()) {
    return config_error("azure_shared_key is empty");
  }
  auto key = crypto::base64_decode(options.shared_key);
  if (!key || key->empty()) {
    return config_error("azure_shared_key is not valid base64");
  }
  if (options.endpoint.find_first_of("/?#@ ") != std::string::npos) {
    return config_error("azure_endpoint must be a host name or address without scheme or path: " +
                        options.endpoint);
  }
  if (options.port < 0 || options.port > 65535) {
    return config_error(fmt::format("azure_port out of range: {}", options.port));
  }
  if (options.block_size == 0 || options.block_size > kMaxBlockSize) {
    return config_error(
        fmt::format("azure block size must be 1 byte to 4000 MiB, not {}", options.block_size));
  }
  if (options.timeout.count() <= 0) {
    return config_error("azure timeout must be positive");
  }
  if (options.max_attempts < 1 || options.retry_base.count() < 0 || options.retry_cap.count() < 0) {
    return config_error("azure retry settings must be positive");
  }
  if (options.list_page_size < 0 || options.list_page_size > 5000) {
    return config_error("azure list page size must be 0 (default) to 5000");
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Storage>> make_azure_storage(AzureOptions options) {
  PGM_TRY(validate(options));
  auto storage = std::make_unique<AzureStorage>(std::move(options));
  PGM_TRY(storage->ready());
  return std::unique_ptr<Storage>(std::move(storage));
}

Result<void> create_azure_container(const AzureOptions& options) {
  AzureOptions copy = options;
  PGM_TRY(validate(copy));
  Client client(copy);
  Request request{"PUT", "", {{"restype", "container"}}, {}};
  request.also_ok = 409;  // ContainerAlreadyExists
  PGM_TRY(client.call(request));
  return {};
}

}  // namespace pgm::storage
