#include "pgm/storage/configured.h"

#include <fmt/format.h>

#ifdef PGM_STORAGE_HAVE_S3
#include "pgm/storage/s3.h"
#endif
#ifdef PGM_STORAGE_HAVE_AZURE
#include "pgm/storage/azure.h"
#endif
#ifdef PGM_STORAGE_HAVE_SFTP
#include "pgm/storage/sftp.h"
#endif

namespace pgm::storage {

namespace {

// Errors from the engine factories name the key; the engine's word goes in front so one line
// tells which storage_engine entry is wrong.
template <typename T>
Result<T> named(Engine engine, Result<T> result) {
  if (result) {
    return result;
  }
  const std::string& message = result.error().message();
  std::string prefix = fmt::format("{}:", engine_name(engine));
  if (message.rfind(prefix, 0) == 0) {
    return result;
  }
  return make_error(result.error().code(), fmt::format("{} {}", prefix, message));
}

// A key prefix is "a/b": pgmoneta's examples write s3_base_dir and azure_base_dir as paths.
std::string without_slashes(std::string_view dir) {
  while (!dir.empty() && dir.front() == '/') {
    dir.remove_prefix(1);
  }
  while (!dir.empty() && dir.back() == '/') {
    dir.remove_suffix(1);
  }
  return std::string(dir);
}

std::string join(const std::vector<std::string>& words) {
  std::string out;
  for (const auto& w : words) {
    out += out.empty() ? "" : ",";
    out += w;
  }
  return out;
}

}  // namespace

std::string_view engine_name(Engine engine) {
  switch (engine) {
    case Engine::kSsh:
      return "ssh";
    case Engine::kS3:
      return "s3";
    case Engine::kAzure:
      return "azure";
  }
  return "?";
}

std::optional<Engine> parse_engine(std::string_view name) {
  for (Engine e : {Engine::kSsh, Engine::kS3, Engine::kAzure}) {
    if (engine_name(e) == name) {
      return e;
    }
  }
  return std::nullopt;
}

std::vector<Engine> remote_engines(const config::Config& config) {
  std::vector<Engine> engines;
  if (config.storage_engine.ssh) {
    engines.push_back(Engine::kSsh);
  }
  if (config.storage_engine.s3) {
    engines.push_back(Engine::kS3);
  }
  if (config.storage_engine.azure) {
    engines.push_back(Engine::kAzure);
  }
  return engines;
}

bool engine_built(Engine engine) {
  switch (engine) {
    case Engine::kSsh:
#ifdef PGM_STORAGE_HAVE_SFTP
      return true;
#else
      return false;
#endif
    case Engine::kS3:
#ifdef PGM_STORAGE_HAVE_S3
      return true;
#else
      return false;
#endif
    case Engine::kAzure:
#ifdef PGM_STORAGE_HAVE_AZURE
      return true;
#else
      return false;
#endif
  }
  return false;
}

// NOLINTNEXTLINE(readability-function-cognitive-complexity): one block per engine
Result<std::unique_ptr<Storage>> open_engine(Engine engine, const config::Config& c,
                                             const config::ServerConfig& s) {
  if (!engine_built(engine)) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("{}: this pgmoneta was built without the {} engine",
                                  engine_name(engine), engine_name(engine)));
  }
  switch (engine) {
    case Engine::kSsh: {
#ifdef PGM_STORAGE_HAVE_SFTP
      SftpOptions o;
      o.hostname = c.ssh_hostname;
      o.port = c.ssh_port;
      o.username = c.ssh_username;
      o.base_dir = c.ssh_base_dir;
      o.public_key_file = c.ssh_public_key_file;
      o.private_key_file = c.ssh_private_key_file;
      o.ciphers = join(c.ssh_ciphers);
      o.known_hosts_file = c.ssh_known_hosts_file;
      o.timeout = c.blocking_timeout.count() > 0 ? c.blocking_timeout : std::chrono::seconds(30);
      return named(engine, make_sftp_storage(std::move(o)));
#endif
      break;
    }
    case Engine::kS3: {
#ifdef PGM_STORAGE_HAVE_S3
      S3Options o;
      o.endpoint = s.s3_endpoint.value_or(c.s3_endpoint);
      o.port = s.s3_port.value_or(c.s3_port);
      o.use_tls = s.s3_use_tls.value_or(c.s3_use_tls);
      o.region = s.s3_region.value_or(c.s3_region);
      if (o.region.empty()) {
        o.region = "us-east-1";
      }
      o.access_key_id = s.s3_access_key_id.value_or(c.s3_access_key_id);
      o.secret_access_key = s.s3_secret_access_key.value_or(c.s3_secret_access_key);
      o.bucket = s.s3_bucket.value_or(c.s3_bucket);
      o.base_dir = without_slashes(s.s3_base_dir.value_or(c.s3_base_dir));
      o.storage_class = s.s3_storage_class.value_or(c.s3_storage_class);
      // A custom endpoint (MinIO, Garage, s3rver, a gateway) is addressed path-style as
      // pgmoneta does; AWS itself (no endpoint) virtual-host style.
      o.path_style = !o.endpoint.empty();
      return named(engine, make_s3_storage(std::move(o)));
#endif
      break;
    }
    case Engine::kAzure: {
#ifdef PGM_STORAGE_HAVE_AZURE
      AzureOptions o;
      o.account = c.azure_storage_account;
      o.container = c.azure_container;
      o.shared_key = c.azure_shared_key;
      o.base_dir = without_slashes(c.azure_base_dir);
      o.endpoint = c.azure_endpoint;
      o.port = c.azure_port;
      o.use_tls = c.azure_use_tls;
      return named(engine, make_azure_storage(std::move(o)));
#endif
      break;
    }
  }
  return make_error(ErrorCode::kConfig, "unknown storage engine");
}

}  // namespace pgm::storage
