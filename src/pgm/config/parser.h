// The INI-like line parser shared by pgmoneta.conf and pgmoneta_cli.conf. Pure, thread-safe.
//
// Written by us rather than taken from libinih because every error must carry file:line,
// and pgmoneta's syntax allows a trailing `# comment` after an unquoted value and values
// quoted with " or '; Debian's libinih is built without line numbers and knows only ';'
// inline comments.
//
// Syntax (reference §5.1):
//   [section]                 a section header; surrounding blanks are ignored
//   key = value               keys are case-sensitive; blanks around key and value are trimmed
//   key = "quoted # value"    " or ' quotes keep blanks and '#'; no escapes inside
//   key = value   # comment   '#' ends an unquoted value
//   # comment / ; comment     whole-line comments (after leading blanks); blank lines ignored
// Errors (kConfig, "<file>:<line>: ..."): a line that is neither of the above, an unterminated
// quote, text after a closing quote, an empty key or an empty section name.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::config {

struct IniEntry {
  int line = 0;
  std::string key;
  std::string value;  // unquoted, trimmed (quoted values keep their inner blanks)
};

struct IniSection {
  std::string name;  // "" for entries before the first header
  int line = 0;      // line of the header, 0 for the implicit leading section
  std::vector<IniEntry> entries;
};

struct IniDocument {
  // In file order. The implicit leading section is present only when it has entries.
  std::vector<IniSection> sections;
};

Result<IniDocument> parse_ini(std::string_view text, const std::string& file_name);

}  // namespace pgm::config
