#include "pgm/activity/names.h"

#include <algorithm>

namespace pgm::activity {

namespace {

constexpr std::string_view kActivityNames[kActivityCount] = {"backup", "restore", "archive",
                                                             "delete", "retention"};
constexpr std::string_view kOperationNames[kOperationCount] = {"backup", "restore", "verify",
                                                               "archive"};
constexpr std::string_view kPhaseNames[kPhaseCount] = {"idle",      "starting",  "streaming",
                                                       "finishing", "verifying", "uploading"};

}  // namespace

std::string_view activity_name(Activity a) { return kActivityNames[static_cast<size_t>(a)]; }

std::string_view operation_name(Operation o) { return kOperationNames[static_cast<size_t>(o)]; }

std::string_view phase_name(Phase p) { return kPhaseNames[static_cast<size_t>(p)]; }

std::optional<Operation> parse_operation(std::string_view name) {
  for (size_t i = 0; i < kOperationCount; ++i) {
    if (kOperationNames[i] == name) {
      return static_cast<Operation>(i);
    }
  }
  return std::nullopt;
}

Operation operation_of(int value) {
  return static_cast<Operation>(std::clamp(value, 0, static_cast<int>(kOperationCount) - 1));
}

Phase phase_of(int value) {
  return static_cast<Phase>(std::clamp(value, 0, static_cast<int>(kPhaseCount) - 1));
}

}  // namespace pgm::activity
