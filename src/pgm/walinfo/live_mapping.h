// Object names for -t read from a live server, when no mapping file (-m) is given: the
// tablespaces and databases of the server, and the relations of every database that accepts
// connections, as an OidMapping. Blocks on the network; not thread-safe (one call at a time).
//
// Relations are keyed by their file number (pg_relation_filenode(), which covers the mapped
// catalogs too) and named "schema.table". File numbers are unique only within a database: when
// two databases use the same one, the name from the database read first (in OID order) is kept,
// as a mapping file can hold only one.
#pragma once

#include <string>

#include "pgm/core/result.h"
#include "pgm/walinfo/mapping.h"
#include "pgm/walinfo/settings.h"

namespace pgm::walinfo {

// Connects as `server` says (`password` empty: libpq's .pgpass and PGPASSWORD) to the database
// "postgres", then to each database. Errors name the server section and the failing step.
Result<OidMapping> read_live_mapping(const ServerSection& server, const std::string& password);

}  // namespace pgm::walinfo
