// Shared by rmgr.cc and describe.cc. Pure functions, thread-safe.
#pragma once

#include <optional>
#include <string>

#include "pgm/xlog/record.h"

namespace pgm::xlog {

// What pg_waldump prints after the record type's name (possibly ""), or nullopt for a record
// type we do not describe or whose main data is too short for its fields.
std::optional<std::string> describe_details(const Record& record, int major);

}  // namespace pgm::xlog
