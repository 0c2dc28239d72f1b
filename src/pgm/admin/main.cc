// pgmoneta-admin: creates the master key and manages users/admins vault files.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "pgm/admin/admin.h"
#include "pgm/crypto/vault.h"

int main(int argc, char** argv) {
  using namespace pgm::admin;
  ParsedCommandLine parsed = parse_command_line(argc, argv, std::cout, std::cerr);
  if (!parsed.options) {
    return parsed.exit_code;
  }
  // As pgmoneta-admin does: the key and vaults belong to the pgmoneta user, never root.
  if (getuid() == 0 || geteuid() == 0) {
    std::cerr << "pgmoneta-admin: using the root account is not allowed\n";
    return 1;
  }
  auto dir = pgm::crypto::pgmoneta_home_dir();
  if (!dir) {
    std::cerr << "pgmoneta-admin: " << dir.error().message() << "\n";
    return 1;
  }
  Context ctx;
  ctx.pgmoneta_dir = *dir;
  // NOLINTNEXTLINE(concurrency-mt-unsafe): single-threaded start-up
  if (const char* env = std::getenv("PGMONETA_PASSWORD"); env != nullptr) {
    ctx.env_password = env;
  }
  std::unique_ptr<Terminal> terminal = make_tty_terminal();
  ctx.terminal = terminal.get();
  return run(*parsed.options, ctx, std::cout, std::cerr);
}
