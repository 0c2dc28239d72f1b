#include "pgm/daemon/metrics_service.h"

#include <ev.h>
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <memory>
#include <optional>
#include <string>

#include <sys/socket.h>

#include "pgm/daemon/metrics_collect.h"
#include "pgm/http/response.h"
#include "pgm/http/server.h"
#include "pgm/io/fd.h"
#include "pgm/log/log.h"
#include "pgm/metrics/console_page.h"
#include "pgm/metrics/nagios.h"
#include "pgm/metrics/prometheus.h"
#include "pgm/metrics/status_page.h"
#include "pgm/net/tls.h"

namespace pgm::daemon {

namespace {

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// The TLS context of the metrics port: null for plain HTTP; an error when the files exist but
// do not load.
Result<std::shared_ptr<net::TlsContext>> metrics_tls(const config::Config& c) {
  if (c.metrics_cert_file.empty() && c.metrics_key_file.empty()) {
    return std::shared_ptr<net::TlsContext>();
  }
  for (const std::string* f : {&c.metrics_cert_file, &c.metrics_key_file, &c.metrics_ca_file}) {
    if (!f->empty() && !exists(*f)) {
      log::warn("metrics: {} does not exist; serving plain HTTP", *f);
      return std::shared_ptr<net::TlsContext>();
    }
  }
  if (c.metrics_cert_file.empty() || c.metrics_key_file.empty()) {
    log::warn(
        "metrics: TLS needs both metrics_cert_file and metrics_key_file; serving plain "
        "HTTP");
    return std::shared_ptr<net::TlsContext>();
  }
  return net::TlsContext::server({c.metrics_cert_file, c.metrics_key_file, c.metrics_ca_file});
}

}  // namespace

int run_metrics_service(const DaemonContext& ctx, UniqueFd listener, UniqueFd console) {
  const config::Config& c = *ctx.config;
  auto tls = metrics_tls(c);
  if (!tls) {
    log::error("metrics: {}", tls.error().message());
    return kMetricsTlsFailed;
  }
  struct ev_loop* loop = ev_loop_new(EVFLAG_AUTO);
  if (loop == nullptr) {
    log::error("metrics: cannot create an event loop");
    return 1;
  }
  http::ResponseCache cache(std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::seconds(c.metrics_cache_max_age.count())),
                            static_cast<size_t>(c.metrics_cache_max_size));
  uint64_t generation = ctx.shared != nullptr ? ctx.shared->metrics_generation.load() : 0;

  // One answer builder for both ports; the console's pages are cached under their own keys.
  auto answer = [&](const http::Request& request, bool on_console) {
    const bool metrics = request.path == "/metrics";
    if (!metrics && request.path != "/") {
      return http::Response::error(403);
    }
    auto now = std::chrono::steady_clock::now();
    if (ctx.shared != nullptr) {
      uint64_t current = ctx.shared->metrics_generation.load();
      if (current != generation) {  // clear prometheus
        generation = current;
        cache.clear();
      }
    }
    const std::string key = (on_console && !metrics ? "console:" : "") + request.path;
    if (auto hit = cache.get(key, now)) {
      return *hit;
    }
    metrics::MetricsCounters* counters =
        ctx.shared != nullptr ? &ctx.shared->metrics_counters : nullptr;
    if (metrics && counters != nullptr) {
      counters->count_scrape();
    }
    metrics::MetricsSnapshot snapshot = collect_metrics(ctx, counters);
    http::Response response;
    if (metrics) {
      response.content_type = metrics::kPrometheusContentType;
      response.body = metrics::render_prometheus(snapshot);
    } else if (on_console) {
      response.content_type = metrics::kConsolePageContentType;
      response.body = metrics::render_console_page(metrics::render_prometheus(snapshot),
                                                   snapshot.version, snapshot.now_epoch);
    } else {
      response.content_type = metrics::kStatusPageContentType;
      response.body = metrics::render_status_page(snapshot);
    }
    cache.put(key, response, now);
    return response;
  };
  auto options_for = [&](const char* name, bool on_console) {
    http::ServerOptions options;
    options.name = name;
    options.tls = *tls ? (*tls)->native() : nullptr;
    options.request_timeout = std::chrono::seconds(
        std::max<int64_t>(1, std::min<int64_t>(c.blocking_timeout.count(), 10)));
    options.handler = [&answer, on_console](const http::Request& request) {
      return answer(request, on_console);
    };
    return options;
  };
  {
    http::HttpServer server(loop, std::move(listener), options_for("metrics", false));
    if (auto started = server.start(); !started) {
      log::error("metrics: {}", started.error().message());
      ev_loop_destroy(loop);
      return 1;
    }
    std::optional<http::HttpServer> console_server;
    if (console) {
      console_server.emplace(loop, std::move(console), options_for("console", true));
      if (auto started = console_server->start(); !started) {
        log::error("console: {}", started.error().message());
        console_server.reset();
      }
    }
    log::debug("metrics: serving{}{}", *tls ? " with TLS" : "",
               console_server ? ", and the console" : "");
    ev_run(loop, 0);
  }
  ev_loop_destroy(loop);
  return 0;
}

int run_nagios_check(const DaemonContext& ctx, UniqueFd client) {
  // Blocking writes, bounded by a send timeout (accept4 gave a non-blocking socket).
  const int flags = ::fcntl(client.get(), F_GETFL);
  if (flags >= 0) {
    ::fcntl(client.get(), F_SETFL, flags & ~O_NONBLOCK);
  }
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  ::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  const metrics::MetricsSnapshot snapshot = collect_metrics(ctx, nullptr);
  const std::string line = metrics::render_nagios(metrics::render_prometheus(snapshot));
  if (auto written = io::write_all(client.get(), line, "nagios client"); !written) {
    log::debug("nagios: {}", written.error().message());
    return 1;
  }
  ::shutdown(client.get(), SHUT_WR);
  return 0;
}

}  // namespace pgm::daemon
