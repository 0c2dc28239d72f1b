#include "pgm/xlog/format.h"

namespace pgm::xlog {
namespace {

struct MagicOfMajor {
  int major;
  uint16_t magic;
};
constexpr MagicOfMajor kMagics[] = {
    {13, kPageMagic13}, {14, kPageMagic14}, {15, kPageMagic15},
    {16, kPageMagic16}, {17, kPageMagic17}, {18, kPageMagic18},
};

}  // namespace

int major_for_page_magic(uint16_t magic) {
  for (const MagicOfMajor& entry : kMagics) {
    if (entry.magic == magic) {
      return entry.major;
    }
  }
  return 0;
}

uint16_t page_magic_for_major(int major) {
  for (const MagicOfMajor& entry : kMagics) {
    if (entry.major == major) {
      return entry.magic;
    }
  }
  return 0;
}

}  // namespace pgm::xlog
