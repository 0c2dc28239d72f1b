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

}  // namespace pgm::net::internal
