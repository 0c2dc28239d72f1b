#include "pgm/config/model.h"

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

}  // namespace pgm::config
