// pgmoneta-cli: the management client. All logic is in cli.cc.
#include "pgm/cli/cli.h"

int main(int argc, char** argv) { return pgm::cli::main_entry(argc, argv); }
