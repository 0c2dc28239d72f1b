#include "pgm/daemon/process_title.h"

#include <cstring>

#include <sys/prctl.h>

extern char** environ;  // NOLINT(readability-redundant-declaration): POSIX, not in a header

namespace pgm::daemon {

namespace {

char* g_area = nullptr;  // start of argv[0]
size_t g_area_size = 0;  // argv + contiguous environment strings
size_t g_argv_size = 0;  // argv strings only (the "strict" limit)

}  // namespace

void init_process_title(int argc, char** argv) {
  if (argc <= 0 || argv == nullptr || argv[0] == nullptr || g_area != nullptr) {
    return;
  }
  char* end = argv[0];
  for (int i = 0; i < argc; ++i) {
    if (argv[i] != end) {
      break;  // not contiguous: use what we have so far
    }
    end = argv[i] + std::strlen(argv[i]) + 1;
  }
  g_argv_size = static_cast<size_t>(end - argv[0]);
  size_t count = 0;
  while (environ != nullptr && environ[count] != nullptr) {
    ++count;
  }
  // Environment strings that directly follow argv become usable once they live elsewhere.
  // The copies are never freed: the environment lives as long as the process.
  char** copy = new char*[count + 1];
  for (size_t i = 0; i < count; ++i) {
    if (environ[i] == end) {
      end = environ[i] + std::strlen(environ[i]) + 1;
    }
    copy[i] = ::strdup(environ[i]);
  }
  copy[count] = nullptr;
  environ = copy;
  g_area = argv[0];
  g_area_size = static_cast<size_t>(end - argv[0]);
  for (int i = 1; i < argc; ++i) {
    argv[i] = nullptr;  // the area is ours now; nobody may read argv[1..] afterwards
  }
}

void set_process_title(config::ProcessTitle mode, const std::string& what,
                       const std::string& detail) {
  if (mode == config::ProcessTitle::kNever) {
    return;
  }
  std::string title = "pgmoneta: " + what;
  if (mode == config::ProcessTitle::kVerbose && !detail.empty()) {
    title += " " + detail;
  }
  ::prctl(PR_SET_NAME, what.c_str(), 0, 0, 0);
  if (g_area == nullptr || g_area_size < 2) {
    return;
  }
  size_t limit = (mode == config::ProcessTitle::kStrict ? g_argv_size : g_area_size) - 1;
  size_t n = std::min(title.size(), limit);
  std::memcpy(g_area, title.data(), n);
  std::memset(g_area + n, 0, g_area_size - n);
}

}  // namespace pgm::daemon
