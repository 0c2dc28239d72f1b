// Test helpers shared by the config module's tests.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "pgm/config/values.h"

namespace pgm::config::testing {

// An EnvLookup backed by a fixed map.
inline EnvLookup map_env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) {
      return std::nullopt;
    }
    return it->second;
  };
}

inline EnvLookup test_env() { return map_env({{"HOME", "/home/pg"}, {"TMPDIR", "/scratch"}}); }

}  // namespace pgm::config::testing
