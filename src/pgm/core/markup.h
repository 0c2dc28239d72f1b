// Escaping text: for XML and HTML (the object-store request bodies, S3 delete and Azure block
// lists, and the status page share one set of character references), and for log lines and
// error messages that quote user input or damaged files.
#pragma once

#include <string>
#include <string_view>

namespace pgm::core {

// '&', '<', '>', '"', '\'' as &amp; &lt; &gt; &quot; &#39; (valid in XML 1.0 and HTML alike).
std::string escape_markup(std::string_view text);

// `text` safe to quote in a log line or a message: bytes below 0x20, 0x7f and from 0x80 on
// become \xNN, and only the first `max_bytes` are kept, followed by "... (N bytes)" when cut.
// Garbage from a damaged file or a 50 MB argument never reaches a log whole.
std::string printable(std::string_view text, size_t max_bytes = 64);

}  // namespace pgm::core
