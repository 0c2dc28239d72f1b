#include "pgm/cli/completion.h"

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "pgm/config/config.h"
#include "pgm/management/registry.h"

namespace pgm::cli {

std::string completion_grammar(const CLI::App& app) {
  std::string grammar;
  for (const CLI::Option* o : app.get_options()) {
    if (o->get_lnames().empty() && o->get_snames().empty()) {
      continue;
    }
    grammar += fmt::format("option\t{}\t{}\t{}\n", o->get_name(false, true),
                           o->get_expected_max() == 0 ? "flag" : "value", o->get_description());
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    const CLI::Option* args = sub->get_option_no_throw("args");
    grammar += fmt::format("verb\t{}\t{}\n", sub->get_name(),
                           args != nullptr ? args->get_description() : "");
  }
  for (const management::CommandSpec& s : management::command_specs()) {
    if (s.name != s.verb) {
      grammar += fmt::format("command\t{}\n", s.name);
    }
  }
  // The keys `conf get` and `conf set` take: <key> for [pgmoneta], <server>.<key> for a server.
  const config::KeyNames keys = config::key_names();
  for (std::string_view k : keys.main) {
    grammar += fmt::format("key\tmain\t{}\n", k);
  }
  for (std::string_view k : keys.server) {
    grammar += fmt::format("key\tserver\t{}\n", k);
  }
  return grammar;
}

}  // namespace pgm::cli
