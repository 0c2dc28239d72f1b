// Escaping text for XML and HTML: the object-store request bodies (S3 delete, Azure block
// lists) and the status page share one set of character references.
#pragma once

#include <string>
#include <string_view>

namespace pgm::core {

// '&', '<', '>', '"', '\'' as &amp; &lt; &gt; &quot; &#39; (valid in XML 1.0 and HTML alike).
std::string escape_markup(std::string_view text);

}  // namespace pgm::core
