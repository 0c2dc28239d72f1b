// pg_waldump 15's descriptions of transaction ends (commit, abort, prepared) and of shared
// invalidation messages, for describe.cc.
#include <array>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "pgm/xlog/describe_internal.h"
#include "pgm/xlog/format.h"
#include "pgm/xlog/rmgr.h"

namespace pgm::xlog::details {

namespace {

// pg_waldump prints timestamps in its process's local time zone; we print UTC (what it prints
// where TZ is unset on a UTC host, as in our tests): "2026-12-07 22:07:20.131597 UTC".
std::string timestamp_text(int64_t pg_micros) {
  constexpr int64_t kPgEpochUnixSeconds = 946684800;  // 2000-01-01 00:00:00 UTC
  const int64_t seconds = pg_micros / 1000000 + kPgEpochUnixSeconds;
  const auto micros = static_cast<int>(pg_micros % 1000000);
  const auto unix_time = static_cast<time_t>(seconds);
  struct tm utc {};
  if (gmtime_r(&unix_time, &utc) == nullptr) {
    return "?";
  }
  char text[64];
  if (std::strftime(text, sizeof(text), "%Y-%m-%d %H:%M:%S", &utc) == 0) {
    return "?";
  }
  return fmt::format("{}.{:06} UTC", text, micros);
}

// Shared invalidation messages (16 bytes each): id i8, then by id.
std::string invalidations(const Fields& f, size_t at, int32_t count, uint32_t db, uint32_t spc,
                          bool init_file) {
  if (count <= 0) {
    return "";
  }
  std::string out;
  if (init_file) {
    out += fmt::format("; relcache init file inval dbid {} tsid {}", db, spc);
  }
  out += "; inval msgs:";
  for (int32_t i = 0; i < count; ++i) {
    const size_t m = at + 16 * static_cast<size_t>(i);
    const auto id = static_cast<int8_t>(*f.at<uint8_t>(m));
    if (id >= 0) {
      out += fmt::format(" catcache {}", id);
    } else if (id == -1) {
      out += fmt::format(" catalog {}", *f.at<uint32_t>(m + 8));
    } else if (id == -2) {
      out += fmt::format(" relcache {}", *f.at<uint32_t>(m + 8));
    } else if (id == -3) {
      out += " smgr";
    } else if (id == -4) {
      out += fmt::format(" relmap db {}", *f.at<uint32_t>(m + 4));
    } else if (id == -5) {
      out += fmt::format(" snapshot {}", *f.at<uint32_t>(m + 8));
    } else {
      out += fmt::format(" unrecognized id {}", id);
    }
  }
  return out;
}

}  // namespace

// COMMIT, ABORT and their prepared forms (15's layout): time i64, then with the xinfo flag
// (info 0x80) a u32 of flags saying which parts follow, in this order: db and tablespace,
// subxacts, relations, dropped stats (15+), invalidations (commit), two-phase xid and gid,
// origin.
std::optional<std::string> xact_end(const Record& record, const Fields& f, bool commit, int major) {
  auto time = f.at<int64_t>(0);
  if (!time || major < 15) {
    return std::nullopt;  // 13 and 14 have no dropped stats and word some parts differently
  }
  size_t at = 8;
  uint32_t xinfo = 0;
  if ((record.info & 0x80) != 0) {
    auto flags = f.at<uint32_t>(at);
    if (!flags) {
      return std::nullopt;
    }
    xinfo = *flags;
    at += 4;
  }
  uint32_t db = 0;
  uint32_t spc = 0;
  if ((xinfo & 0x01) != 0) {
    auto d = f.at<uint32_t>(at);
    auto t = f.at<uint32_t>(at + 4);
    if (!d || !t) {
      return std::nullopt;
    }
    db = *d;
    spc = *t;
    at += 8;
  }
  // Reads a counted array of `width`-byte items; its start, or nullopt when it does not fit.
  auto counted = [&](size_t width, int32_t& count) -> std::optional<size_t> {
    auto n = f.at<int32_t>(at);
    if (!n || *n < 0 || at + 4 + uint64_t{static_cast<uint32_t>(*n)} * width > f.size()) {
      return std::nullopt;
    }
    count = *n;
    const size_t start = at + 4;
    at = start + width * static_cast<size_t>(*n);
    return start;
  };
  int32_t nsub = 0, nrels = 0, nstats = 0, nmsgs = 0;
  size_t subs = 0, rels = 0, stats = 0, msgs = 0;
  if ((xinfo & 0x02) != 0) {
    auto start = counted(4, nsub);
    if (!start) {
      return std::nullopt;
    }
    subs = *start;
  }
  if ((xinfo & 0x04) != 0) {
    auto start = counted(12, nrels);
    if (!start) {
      return std::nullopt;
    }
    rels = *start;
  }
  if ((xinfo & 0x100) != 0) {
    auto start = counted(12, nstats);
    if (!start) {
      return std::nullopt;
    }
    stats = *start;
  }
  if ((xinfo & 0x08) != 0) {
    auto start = counted(16, nmsgs);
    if (!start) {
      return std::nullopt;
    }
    msgs = *start;
  }
  std::optional<uint32_t> twophase_xid;
  if ((xinfo & 0x10) != 0) {
    twophase_xid = f.at<uint32_t>(at);
    if (!twophase_xid) {
      return std::nullopt;
    }
    at += 4;
    if ((xinfo & 0x80) != 0) {
      return std::nullopt;  // a gid: not described
    }
  }
  std::optional<uint64_t> origin_lsn;
  std::optional<int64_t> origin_time;
  if ((xinfo & 0x20) != 0) {
    origin_lsn = f.at<uint64_t>(at);
    origin_time = f.at<int64_t>(at + 8);
    if (!origin_lsn || !origin_time) {
      return std::nullopt;
    }
  }

  std::string out;
  if (twophase_xid && *twophase_xid != 0) {
    out += fmt::format("{}: ", *twophase_xid);
  }
  out += timestamp_text(*time);
  if (nrels > 0) {
    out += "; rels:";
    for (int32_t i = 0; i < nrels; ++i) {
      auto rel = rel_at(f, rels + 12 * static_cast<size_t>(i));
      if (!rel || !in_known_directory(*rel)) {
        return std::nullopt;
      }
      out += " " + relation_path(*rel, 0);
    }
  }
  if (nsub > 0) {
    out += "; subxacts:";
    for (int32_t i = 0; i < nsub; ++i) {
      out += fmt::format(" {}", *f.at<uint32_t>(subs + 4 * static_cast<size_t>(i)));
    }
  }
  if (nstats > 0) {
    out += "; dropped stats:";
    for (int32_t i = 0; i < nstats; ++i) {
      const size_t item = stats + 12 * static_cast<size_t>(i);
      out += fmt::format(" {}/{}/{}", *f.at<int32_t>(item), *f.at<uint32_t>(item + 4),
                         *f.at<uint32_t>(item + 8));
    }
  }
  if (commit) {
    // The completion bits: apply feedback (29), relcache init file update (30), forced
    // synchronous commit (31).
    out += invalidations(f, msgs, nmsgs, db, spc, (xinfo & (1u << 30)) != 0);
    if ((xinfo & (1u << 29)) != 0) {
      out += "; apply_feedback";
    }
    if ((xinfo & (1u << 31)) != 0) {
      out += "; sync";
    }
  }
  if (origin_lsn) {
    if (!record.origin) {
      return std::nullopt;
    }
    out += fmt::format("; origin: node {}, lsn {}, at {}", *record.origin, lsn_text(*origin_lsn),
                       timestamp_text(*origin_time));
  }
  return out;
}

std::optional<std::string> standby_invalidations(const Fields& f) {
  // db u32, tablespace u32, relcache init file bool (padded), nmsgs i32, messages
  auto db = f.at<uint32_t>(0);
  auto spc = f.at<uint32_t>(4);
  auto init_file = f.at<uint8_t>(8);
  auto count = f.at<int32_t>(12);
  if (!db || !spc || !init_file || !count || *count < 0 ||
      16 + uint64_t{static_cast<uint32_t>(*count)} * 16 > f.size()) {
    return std::nullopt;
  }
  return invalidations(f, 16, *count, *db, *spc, *init_file != 0);
}

}  // namespace pgm::xlog::details
