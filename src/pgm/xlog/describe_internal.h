// Shared by describe.cc and describe_xact.cc: reading a record's main data and the small
// helpers both use. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>

#include "pgm/xlog/record.h"

namespace pgm::xlog::details {

// Little-endian fields of the main data, read only when present.
class Fields {
 public:
  explicit Fields(std::span<const uint8_t> data) : data_(data) {}
  template <typename T>
  std::optional<T> at(size_t offset) const {
    if (offset + sizeof(T) > data_.size()) {
      return std::nullopt;
    }
    T value;
    std::memcpy(&value, data_.data() + offset, sizeof(T));
    return value;
  }
  size_t size() const { return data_.size(); }

 private:
  std::span<const uint8_t> data_;
};

// The relation locator (spc, db, rel: three u32) at `offset`; nullopt when it does not fit.
std::optional<RelLocator> rel_at(const Fields& f, size_t offset);
// pg_waldump's paths of other tablespaces hold the catalog version, which WAL does not carry:
// those records get no path from us.
bool in_known_directory(const RelLocator& rel);
// "X/X".
std::string lsn_text(uint64_t lsn);

// Transaction COMMIT, ABORT and their prepared forms (describe_xact.cc).
std::optional<std::string> xact_end(const Record& record, const Fields& f, bool commit, int major);
// Standby INVALIDATIONS (describe_xact.cc).
std::optional<std::string> standby_invalidations(const Fields& f);

}  // namespace pgm::xlog::details
