// pgmoneta-walfilter: writes a copy of stored WAL without the chosen transactions.
#include <iostream>

#include "pgm/walfilter/walfilter.h"

int main(int argc, char** argv) { return pgm::walfilter::run(argc, argv, std::cout, std::cerr); }
