// A pgmoneta.conf held as its lines, for editing offline (pgmoneta-config). Not thread-safe;
// a Document is a value owned by one thread at a time.
//
// Lines are classified with the daemon's own parser (config::parse_ini), so a file is
// accepted here exactly when the daemon can parse it. Unchanged lines keep their bytes:
// serialize() of an unedited document returns the input. Edits touch only the lines they
// must: set() rewrites the value part of a key line (its spacing and a trailing "# comment"
// stay), adds a key after the section's last key, or appends a section at the end.
//
// Duplicates: as in the daemon, the last occurrence of a key in a section wins (the daemon
// warns about the others). A section whose header appears twice, which the daemon refuses, is
// one section here, so that remove_section() can repair the file.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pgm/core/result.h"

namespace pgm::confedit {

class Document {
 public:
  // kConfig "<file_name>:<line>: <what>" when the text is not valid pgmoneta.conf syntax.
  static Result<Document> parse(std::string_view text, const std::string& file_name);

  std::string serialize() const;

  // Section names in file order, each once ("" is never listed).
  std::vector<std::string> sections() const;
  bool has_section(std::string_view section) const;
  // Key names of `section` in file order, each once; nullopt when the section is absent.
  std::optional<std::vector<std::string>> keys(std::string_view section) const;
  // The value of the last `key` line in `section` (unquoted, as the daemon reads it).
  std::optional<std::string> get(std::string_view section, std::string_view key) const;

  // Sets `key` in `section`, creating either when missing. kInvalidArgument when a name is
  // not writable (empty, blanks at its ends, '=', '[', ']', '#', ';', a line break) or the value
  // cannot be written so that the daemon reads it back unchanged (a line break, or both quote marks
  // with blanks or '#').
  Result<void> set(std::string_view section, std::string_view key, std::string_view value);
  // Removes every `key` line of `section`; false when there was none.
  bool remove_key(std::string_view section, std::string_view key);
  // Removes the section's header(s), keys and the comments inside it; comment lines directly
  // above the next header stay with that header. False when absent.
  bool remove_section(std::string_view section);

 private:
  enum class Kind { kOther, kHeader, kKey };  // kOther: blank, comment, lines before [..]
  struct Line {
    Kind kind = Kind::kOther;
    std::string text;     // the raw line without its line break
    std::string ending;   // "\n", "\r\n", or "" for an unterminated last line
    std::string section;  // kHeader: its name; kKey: the enclosing section
    std::string key;      // kKey
    std::string value;    // kKey: as parsed
  };

  std::string eol() const;  // "\r\n" when the file uses CRLF, else "\n"
  void terminate_last_line();

  std::vector<Line> lines_;
};

}  // namespace pgm::confedit
