// Lsn and TimelineId: strong types for WAL positions and timelines. Value types, thread-safe.
//
// An LSN is a byte position in the WAL stream (PostgreSQL's XLogRecPtr). PostgreSQL prints
// it as two upper-case hex numbers of up to 8 digits each, high and low 32 bits, separated
// by a slash, without zero padding: "16/B374D848", "0/3000000" (pg_lsn type docs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "pgm/core/result.h"

namespace pgm::wal {

class Lsn {
 public:
  constexpr Lsn() = default;
  constexpr explicit Lsn(uint64_t value) : value_(value) {}
  constexpr Lsn(uint32_t high, uint32_t low) : value_((uint64_t{high} << 32) | low) {}

  // Parses "X/X": each side 1 to 8 hex digits, either case. Anything else -> kInvalidArgument
  // naming the input.
  static Result<Lsn> parse(std::string_view text);
  // "%X/%X": upper-case hex, no padding, as PostgreSQL prints pg_lsn.
  std::string to_string() const;

  constexpr uint64_t value() const { return value_; }
  constexpr uint32_t high() const { return static_cast<uint32_t>(value_ >> 32); }
  constexpr uint32_t low() const { return static_cast<uint32_t>(value_); }
  // 0/0 is PostgreSQL's InvalidXLogRecPtr.
  constexpr bool is_valid() const { return value_ != 0; }

  // Explicit operators rather than a defaulted <=> (clang-tidy 14 misreads the latter).
  friend constexpr bool operator==(Lsn a, Lsn b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(Lsn a, Lsn b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(Lsn a, Lsn b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(Lsn a, Lsn b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(Lsn a, Lsn b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(Lsn a, Lsn b) { return a.value_ >= b.value_; }

  constexpr Lsn& operator+=(uint64_t bytes) {
    value_ += bytes;
    return *this;
  }
  friend constexpr Lsn operator+(Lsn a, uint64_t bytes) { return Lsn(a.value_ + bytes); }
  friend constexpr Lsn operator-(Lsn a, uint64_t bytes) { return Lsn(a.value_ - bytes); }
  // Bytes between two positions; requires a >= b.
  friend constexpr uint64_t operator-(Lsn a, Lsn b) { return a.value_ - b.value_; }

 private:
  uint64_t value_ = 0;
};

// A timeline ID (PostgreSQL's TimeLineID). Timelines start at 1; 0 is invalid.
class TimelineId {
 public:
  constexpr TimelineId() = default;
  constexpr explicit TimelineId(uint32_t value) : value_(value) {}
  constexpr uint32_t value() const { return value_; }
  constexpr bool is_valid() const { return value_ != 0; }
  friend constexpr bool operator==(TimelineId a, TimelineId b) { return a.value_ == b.value_; }
  friend constexpr bool operator!=(TimelineId a, TimelineId b) { return a.value_ != b.value_; }
  friend constexpr bool operator<(TimelineId a, TimelineId b) { return a.value_ < b.value_; }
  friend constexpr bool operator<=(TimelineId a, TimelineId b) { return a.value_ <= b.value_; }
  friend constexpr bool operator>(TimelineId a, TimelineId b) { return a.value_ > b.value_; }
  friend constexpr bool operator>=(TimelineId a, TimelineId b) { return a.value_ >= b.value_; }

 private:
  uint32_t value_ = 0;
};

}  // namespace pgm::wal
