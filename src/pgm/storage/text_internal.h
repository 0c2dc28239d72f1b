// Text helpers shared by the HTTP engines (s3.cc, azure.cc): just enough XML for the services'
// answers, and small parsers. Pure functions; thread-safe. Internal to the storage module.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgm::storage::internal {

// Replaces the five named entities and numeric references (as UTF-8); anything else is kept
// verbatim.
std::string xml_unescape(std::string_view text);
// Without leading blanks and trailing blanks or line ends.
std::string_view trim(std::string_view text);
// ASCII lower case.
std::string lower(std::string_view text);
// A decimal uint64 (surrounding blanks ignored, no sign); nullopt otherwise (or on overflow).
std::optional<uint64_t> parse_u64(std::string_view text);

}  // namespace pgm::storage::internal
