// pgmoneta-walinfo: reads and displays WAL segments stored by pgmoneta.
#include <iostream>

#include "pgm/walinfo/options.h"
#include "pgm/walinfo/walinfo.h"

int main(int argc, char** argv) {
  using namespace pgm::walinfo;
  ParsedCommandLine parsed = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.options) {
    return parsed.exit_code;
  }
  return run(*parsed.options, process_context(), std::cout, std::cerr);
}
