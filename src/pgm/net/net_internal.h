// Module-private helpers shared by the net sources. Thread-safe (OpenSSL's error queue is per
// thread).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace pgm::net::internal {

// Drains this thread's OpenSSL error queue into "reason; reason" (ERR_error_string_n); "no
// OpenSSL error reported" when empty.
std::string openssl_errors();

// Peer-supplied text made safe for a log line or an ErrorResponse: control bytes, DEL and NUL
// become '?', and text longer than max_length is cut and ends with "...".
std::string printable(std::string_view text, size_t max_length = 64);

}  // namespace pgm::net::internal
