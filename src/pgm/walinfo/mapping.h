// OidMapping: names of tablespaces, databases and relations by OID, read from pgmoneta's
// mapping file, and the rewriting of "rel spc/db/rel" in record text into those names (-t).
// Immutable after loading; thread-safe to read.
//
// The file is JSON with up to three sections, "tablespaces", "databases", "relations", each
// either an array of one-member objects {"<name>": "<oid>"} (pgmoneta's documented form, what
// `SELECT spcname, oid FROM pg_tablespace` gives) or one object {"<oid>": "<name>"}. OIDs may
// be strings or numbers. Relation names are usually "schema.table"; WAL names relations by
// their file number (pg_class.relfilenode), which equals the OID until the table is rewritten.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "pgm/core/result.h"

namespace pgm::walinfo {

enum class ObjectKind { kTablespace, kDatabase, kRelation };

class OidMapping {
 public:
  // Parses the JSON text; errors (kConfig) name `file_name` and what is wrong.
  static Result<OidMapping> parse(std::string_view json_text, const std::string& file_name);
  // Reads and parses a file; kNotFound / kIo name the path.
  static Result<OidMapping> load(const std::string& path);

  void add(ObjectKind kind, uint32_t oid, std::string name);
  // The name of an OID, nullopt when the mapping does not know it.
  std::optional<std::string> name_of(ObjectKind kind, uint32_t oid) const;
  // The OID of a name (exact match), nullopt when unknown.
  std::optional<uint32_t> oid_of(ObjectKind kind, std::string_view name) const;
  // The name, or the OID in decimal when unknown (as pgmoneta prints untranslated OIDs).
  std::string display(ObjectKind kind, uint32_t oid) const;
  // `text` with every "rel <spc>/<db>/<rel>" written with names where known.
  std::string translate(std::string_view text) const;
  size_t size() const;

 private:
  std::array<std::map<uint32_t, std::string>, 3> names_;  // by ObjectKind
};

}  // namespace pgm::walinfo
