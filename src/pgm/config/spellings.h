// Accepted spellings of the enumerated and structured configuration values. Pure functions,
// thread-safe. parse_* fail with kConfig naming the accepted values (no file:line; the caller
// adds it); format_* give the spelling a user would write, which parse_* accepts back.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "pgm/config/model.h"

namespace pgm::config {

Result<Compression> parse_compression(std::string_view text);
std::string format_compression(const Compression& c);
Result<crypto::AesMode> parse_encryption(std::string_view text);
std::string format_encryption(crypto::AesMode m);
Result<StorageEngines> parse_storage_engine(std::string_view text);
std::string format_storage_engine(const StorageEngines& s);
Result<Retention> parse_retention(std::string_view text);
std::string format_retention(const Retention& r);
Result<LogType> parse_log_type(std::string_view text);
std::string format_log_type(LogType t);
Result<log::Level> parse_log_level(std::string_view text);
Result<LogMode> parse_log_mode(std::string_view text);
std::string format_log_mode(LogMode m);
Result<ManifestChecksums> parse_manifest_checksums(std::string_view text);
std::string format_manifest_checksums(ManifestChecksums m);
Result<Hugepage> parse_hugepage(std::string_view text);
std::string format_hugepage(Hugepage h);
Result<DirectIo> parse_direct_io(std::string_view text);
std::string format_direct_io(DirectIo d);
Result<Libev> parse_libev(std::string_view text);
std::string format_libev(Libev l);
Result<ProcessTitle> parse_update_process_title(std::string_view text);
std::string format_update_process_title(ProcessTitle p);
Result<std::vector<std::string>> parse_ssh_ciphers(std::string_view text);
Result<std::vector<std::vector<TablespaceMapping>>> parse_tablespaces(std::string_view text);
std::string format_tablespaces(const std::vector<std::vector<TablespaceMapping>>& t);

}  // namespace pgm::config
