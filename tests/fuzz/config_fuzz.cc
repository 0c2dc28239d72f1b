// libFuzzer target: configuration files as the daemon and the CLI read them.
//
// Input: the text of a file. It goes to the INI line parser (parse_ini), to the whole load and
// validation of pgmoneta.conf (parse_config) and of pgmoneta_cli.conf (parse_cli_config), with a
// fixed environment for $VAR interpolation. A pgmoneta.conf that loads is then rendered as conf
// get does (to_json), and each of its [pgmoneta] values is set back with set_value, as
// `conf set <key> <what conf get printed>` would: what we print must be accepted again (except
// a value holding '$', which conf set would interpolate).
//
// Corpus: tests/fuzz/corpus/config (pgmoneta.conf, pgmoneta_cli.conf variants).
// Run longer: build/fuzz/config_fuzz -dict=tests/fuzz/config.dict build/fuzz/scratch/config
//             tests/fuzz/corpus/config
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pgm/config/cli_config.h"
#include "pgm/config/config.h"
#include "pgm/config/parser.h"

namespace {

std::optional<std::string> fuzz_env(const std::string& name) {
  static const std::map<std::string, std::string> kVars = {{"HOME", "/home/pgmoneta"},
                                                           {"TMPDIR", "/tmp"}};
  auto it = kVars.find(name);
  return it == kVars.end() ? std::nullopt : std::optional<std::string>(it->second);
}

void require(bool condition) {
  if (!condition) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);

  pgm::config::parse_ini(text, "fuzz.conf").ignore_error();  // either verdict is fine
  pgm::config::parse_cli_config(text, "pgmoneta_cli.conf", fuzz_env).ignore_error();

  auto loaded = pgm::config::parse_config(text, "pgmoneta.conf", fuzz_env);
  if (!loaded) {
    return 0;
  }
  const pgm::config::Config& config = *loaded->config;
  nlohmann::json shown = pgm::config::to_json(config);
  for (const auto& [key, value] : shown.items()) {
    if (key == "server" || key == "main_configuration_path" || pgm::config::is_secret_key(key)) {
      continue;
    }
    auto got = pgm::config::get_value(config, key);
    require(got.has_value());
    if (got->find('$') != std::string::npos) {
      // conf get prints a path after $VAR interpolation and conf set interpolates again, with
      // no escape for '$': such a value (e.g. a default pidfile built from a host holding "$X")
      // cannot be written back verbatim. Known and accepted; see the README's fuzzing notes.
      continue;
    }
    auto set = pgm::config::set_value(config, key, *got, fuzz_env);
    if (!set) {
      std::fprintf(stderr, "conf set %s '%s' refused: %s\n", key.c_str(), got->c_str(),
                   set.error().error.message().c_str());
    }
    require(set.has_value());
  }
  return 0;
}
