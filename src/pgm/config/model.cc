#include "pgm/config/model.h"

#include <algorithm>

namespace pgm::config {

uint8_t Compression::type_byte() const { return compress::type_byte(algorithm, server_side); }

int Origin::line_of(const std::string& key) const {
  auto it = keys.find(key);
  return it == keys.end() ? line : it->second;
}

Retention effective_retention(const Config& config, const ServerConfig& server) {
  Retention r = server.retention;
  const Retention& g = config.retention;
  if (!r.days) r.days = g.days;
  if (!r.weeks) r.weeks = g.weeks;
  if (!r.months) r.months = g.months;
  if (!r.years) r.years = g.years;
  return r;
}

std::string wal_directory(const Config& config, const ServerConfig& server) {
  return config.base_dir + "/" + server.name + "/wal";
}

std::string wal_shipping_directory(const ServerConfig& server) {
  return server.wal_shipping.empty() ? std::string()
                                     : server.wal_shipping + "/" + server.name + "/wal";
}

int workers_for(const Config& config, const ServerConfig& server) {
  int w = server.workers >= 0 ? server.workers : config.workers;
  return std::max(1, w);
}

bool progress_enabled(const Config& config, const ServerConfig& server) {
  return server.progress.value_or(config.progress);
}

}  // namespace pgm::config
