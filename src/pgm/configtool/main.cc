// pgmoneta-config: creates and edits pgmoneta.conf files offline.
#include <iostream>

#include "pgm/configtool/configtool.h"

int main(int argc, char** argv) {
  using namespace pgm::configtool;
  ParsedCommandLine parsed = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.options) {
    return parsed.exit_code;
  }
  return run(*parsed.options, std::cin, std::cout, std::cerr);
}
