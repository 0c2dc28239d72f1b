#include "pgm/net/tls.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "pgm/net/net_internal.h"

namespace pgm::net {

namespace internal {

std::string openssl_errors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof(buf));
    if (!out.empty()) {
      out += "; ";
    }
    out += buf;
  }
  return out.empty() ? std::string("no OpenSSL error reported") : out;
}

}  // namespace internal

namespace {

// A socket BIO of our own so writes use MSG_NOSIGNAL (OpenSSL's socket BIO uses write(),
// which raises SIGPIPE on a closed connection). The descriptor stays owned by the Stream.
int bio_fd(BIO* bio) { return static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio))); }

int bio_write(BIO* bio, const char* data, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::send(bio_fd(bio), data, static_cast<size_t>(len), MSG_NOSIGNAL);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_write(bio);
  }
  return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int len) {
  BIO_clear_retry_flags(bio);
  ssize_t n = ::recv(bio_fd(bio), data, static_cast<size_t>(len), 0);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    BIO_set_retry_read(bio);
  }
  return static_cast<int>(n);
}

long bio_ctrl(BIO* /*bio*/, int cmd, long /*num*/, void* /*ptr*/) {
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

int bio_create(BIO* bio) {
  BIO_set_init(bio, 1);
  return 1;
}

int bio_destroy(BIO* /*bio*/) { return 1; }

BIO_METHOD* socket_method() {
  static BIO_METHOD* method = [] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "pgm socket");
    PGM_CHECK(m != nullptr);
    BIO_meth_set_write(m, bio_write);
    BIO_meth_set_read(m, bio_read);
    BIO_meth_set_ctrl(m, bio_ctrl);
    BIO_meth_set_create(m, bio_create);
    BIO_meth_set_destroy(m, bio_destroy);
    return m;
  }();
  return method;
}

struct CtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

Result<void> check_file(const std::string& path, std::string_view what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return tl::unexpected(Error(
        ErrorCode::kConfig, errno_error(fmt::format("{} \"{}\"", what, path), errno).message()));
  }
  return {};
}

tl::unexpected<Error> config_error(std::string_view what, const std::string& path) {
  return make_error(ErrorCode::kConfig, fmt::format("could not load {} \"{}\": {}", what, path,
                                                    internal::openssl_errors()));
}

Result<CtxPtr> new_context(bool server, const TlsFiles& files) {
  ERR_clear_error();
  CtxPtr ctx(SSL_CTX_new(server ? TLS_server_method() : TLS_client_method()));
  if (!ctx) {
    return make_error(ErrorCode::kInternal,
                      fmt::format("SSL_CTX_new: {}", internal::openssl_errors()));
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_TICKET);
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  if (files.cert.empty() != files.key.empty()) {
    return make_error(ErrorCode::kConfig, files.cert.empty()
                                              ? "TLS key file given without a certificate file"
                                              : "TLS certificate file given without a key file");
  }
  if (!files.cert.empty()) {
    PGM_TRY(check_file(files.cert, "TLS certificate file"));
    PGM_TRY(check_key_file_permissions(files.key));
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert.c_str()) != 1) {
      return config_error("TLS certificate file", files.cert);
    }
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), files.key.c_str(), SSL_FILETYPE_PEM) != 1) {
      return config_error("TLS private key file", files.key);
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return make_error(ErrorCode::kConfig,
                        fmt::format("TLS private key file \"{}\" does not match certificate "
                                    "\"{}\": {}",
                                    files.key, files.cert, internal::openssl_errors()));
    }
  }
  if (!files.ca.empty()) {
    PGM_TRY(check_file(files.ca, "TLS CA file"));
    if (SSL_CTX_load_verify_locations(ctx.get(), files.ca.c_str(), nullptr) != 1) {
      return config_error("TLS CA file", files.ca);
    }
    if (server) {
      STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.ca.c_str());
      if (names == nullptr) {
        return config_error("TLS CA file", files.ca);
      }
      SSL_CTX_set_client_CA_list(ctx.get(), names);  // takes ownership
      static constexpr unsigned char kSessionContext[] = "pgmoneta";
      SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof(kSessionContext) - 1);
    }
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
  }
  return ctx;
}

bool is_ip_address(std::string_view host) {
  std::string h(host);
  in6_addr addr{};
  return ::inet_pton(AF_INET, h.c_str(), &addr) == 1 ||
         ::inet_pton(AF_INET6, h.c_str(), &addr) == 1;
}

Result<std::unique_ptr<Stream>> handshake(UniqueFd fd, const TlsContext& ctx, bool server,
                                          std::string_view host, Deadline deadline) {
  ERR_clear_error();
  SSL* ssl = SSL_new(ctx.native());
  if (ssl == nullptr) {
    return make_error(ErrorCode::kInternal, fmt::format("SSL_new: {}", internal::openssl_errors()));
  }
  int raw_fd = fd.get();
  // The stream owns ssl and fd from here on, whatever happens.
  std::unique_ptr<Stream> stream = Stream::adopt_tls(std::move(fd), ssl);
  BIO* bio = BIO_new(socket_method());
  if (bio == nullptr) {
    return make_error(ErrorCode::kInternal, fmt::format("BIO_new: {}", internal::openssl_errors()));
  }
  // The BIO's data is the descriptor itself, not a pointer.
  BIO_set_data(bio, reinterpret_cast<void*>(  // NOLINT(performance-no-int-to-ptr)
                        static_cast<intptr_t>(raw_fd)));
  SSL_set_bio(ssl, bio, bio);
  if (!server && !host.empty()) {
    std::string h(host);
    bool ip = is_ip_address(host);
    if (!ip) {
      SSL_set_tlsext_host_name(ssl, h.c_str());
    }
    if (ctx.verifies_peer()) {
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
      int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(param, h.c_str())
                  : X509_VERIFY_PARAM_set1_host(param, h.c_str(), h.size());
      if (ok != 1) {
        return make_error(ErrorCode::kInvalidArgument,
                          fmt::format("invalid TLS host name \"{}\"", host));
      }
    }
  }
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int rc = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (rc == 1) {
      return stream;
    }
    int err = SSL_get_error(ssl, rc);
    if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
      PGM_TRY(internal::wait_fd(raw_fd, err == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline)
                  .map_error([](const Error& e) { return e.with_context("TLS handshake"); }));
      continue;
    }
    if (!server && ctx.verifies_peer() && SSL_get_verify_result(ssl) != X509_V_OK) {
      ERR_clear_error();
      return make_error(ErrorCode::kIo,
                        fmt::format("TLS handshake failed: server certificate verification "
                                    "failed: {}",
                                    X509_verify_cert_error_string(SSL_get_verify_result(ssl))));
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
      if (errno == 0) {
        return make_error(ErrorCode::kIo, "TLS handshake failed: connection closed by peer");
      }
      return make_error(ErrorCode::kIo, errno_error("TLS handshake failed", errno).message());
    }
    return make_error(ErrorCode::kIo,
                      fmt::format("TLS handshake failed: {}", internal::openssl_errors()));
  }
}

}  // namespace

Result<void> check_key_file_permissions(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    int e = errno;
    return tl::unexpected(errno_error(fmt::format("TLS key file \"{}\"", path), e));
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("TLS key file \"{}\" is not a regular file", path));
  }
  unsigned mode = st.st_mode & 07777;
  if (st.st_uid == 0) {
    if ((mode & ~0640u) != 0) {
      return make_error(ErrorCode::kPermission,
                        fmt::format("TLS key file \"{}\" has mode {:04o}: a key owned by root "
                                    "must have mode 0640 or stricter",
                                    path, mode));
    }
  } else if (st.st_uid == ::geteuid()) {
    if ((mode & ~0600u) != 0) {
      return make_error(ErrorCode::kPermission,
                        fmt::format("TLS key file \"{}\" has mode {:04o}: it must have mode "
                                    "0600 or stricter",
                                    path, mode));
    }
  } else {
    return make_error(
        ErrorCode::kPermission,
        fmt::format("TLS key file \"{}\" must be owned by the current user or root", path));
  }
  return {};
}

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

Result<std::shared_ptr<TlsContext>> TlsContext::server(const TlsFiles& files) {
  if (files.cert.empty() || files.key.empty()) {
    return make_error(ErrorCode::kConfig, "a TLS server needs a certificate file and a key file");
  }
  PGM_ASSIGN_OR_RETURN(CtxPtr ctx, new_context(true, files));
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), true, !files.ca.empty()));
}

Result<std::shared_ptr<TlsContext>> TlsContext::client(const TlsFiles& files) {
  PGM_ASSIGN_OR_RETURN(CtxPtr ctx, new_context(false, files));
  return std::shared_ptr<TlsContext>(new TlsContext(ctx.release(), false, !files.ca.empty()));
}

Result<std::unique_ptr<Stream>> tls_accept(UniqueFd fd, const TlsContext& ctx, Deadline deadline) {
  if (!ctx.is_server()) {
    return make_error(ErrorCode::kInvalidArgument, "tls_accept needs a server TLS context");
  }
  return handshake(std::move(fd), ctx, true, {}, deadline);
}

Result<std::unique_ptr<Stream>> tls_connect(UniqueFd fd, const TlsContext& ctx,
                                            std::string_view host_for_sni, Deadline deadline) {
  if (ctx.is_server()) {
    return make_error(ErrorCode::kInvalidArgument, "tls_connect needs a client TLS context");
  }
  return handshake(std::move(fd), ctx, false, host_for_sni, deadline);
}

}  // namespace pgm::net
