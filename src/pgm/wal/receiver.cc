#include "pgm/wal/receiver.h"

#include <dirent.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/wal/history.h"
#include "pgm/wal/protocol.h"
#include "pgm/wal/receiver_internal.h"
#include "pgm/wal/segment.h"
#include "pgm/wal/segment_writer.h"

namespace pgm::wal {

namespace {

// "16MB" / "1GB" / "1024kB" (SHOW wal_segment_size) in bytes.
Result<uint64_t> parse_show_size(std::string_view text) {
  uint64_t value = 0;
  size_t i = 0;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
    value = value * 10 + static_cast<uint64_t>(text[i] - '0');
    ++i;
  }
  std::string_view unit = text.substr(i);
  uint64_t factor = 0;
  if (unit == "kB") {
    factor = uint64_t{1} << 10;
  } else if (unit == "MB") {
    factor = uint64_t{1} << 20;
  } else if (unit == "GB") {
    factor = uint64_t{1} << 30;
  } else if (unit == "B" || unit.empty()) {
    factor = 1;
  }
  if (i == 0 || factor == 0) {
    return make_error(ErrorCode::kProtocol,
                      fmt::format("unexpected wal_segment_size '{}' from the server", text));
  }
  return value * factor;
}

}  // namespace

Result<void> Receiver::fetch_history(pg::Connection& conn, TimelineId tli) {
  if (tli.value() <= 1) {
    return {};
  }
  std::string name = history_file_name(tli);
  std::vector<std::string> dirs{o_.wal_dir};
  if (!o_.shipping_dir.empty()) {
    dirs.push_back(o_.shipping_dir);
  }
  std::vector<std::string> missing;
  for (const std::string& dir : dirs) {
    if (::access((dir + "/" + name).c_str(), F_OK) != 0) {
      missing.push_back(dir);
    }
  }
  if (missing.empty()) {
    return {};
  }
  PGM_ASSIGN_OR_RETURN(pg::QueryResult r,
                       conn.query(fmt::format("TIMELINE_HISTORY {}", tli.value())));
  if (r.rows() != 1 || r.columns() < 2) {
    return make_error(ErrorCode::kProtocol, "TIMELINE_HISTORY: unexpected result shape");
  }
  // The walsender sends the file's bytes as they are (no bytea escaping).
  std::string content(r.value(0, 1));
  if (auto parsed = parse_history(content); !parsed) {
    return make_error(ErrorCode::kCorruption,
                      fmt::format("{} from the server: {}", name, parsed.error().message()));
  }
  for (const std::string& dir : missing) {
    PGM_TRY(io::write_file_atomic(dir + "/" + name, content, 0600));
  }
  log::info("wal {}: stored {}", o_.server, name);
  return {};
}

Result<void> Receiver::create_slot(pg::Connection& conn) {
  std::string sql = conn.server_version() >= 150000
                        ? fmt::format("CREATE_REPLICATION_SLOT {} PHYSICAL (RESERVE_WAL)", o_.slot)
                        : fmt::format("CREATE_REPLICATION_SLOT {} PHYSICAL RESERVE_WAL", o_.slot);
  PGM_TRY(conn.query(sql));
  log::info("wal {}: created physical replication slot {}", o_.server, o_.slot);
  return {};
}

// The slot's restart position, nullopt when it has none. Missing or non-physical slots are
// errors with *invalid set.
Result<std::optional<ResumePoint>> Receiver::read_slot(pg::Connection& conn, bool* invalid) {
  *invalid = false;
  std::string type;
  std::string restart_lsn;
  std::string restart_tli;
  bool found = false;
  if (conn.server_version() >= 150000) {
    auto r = conn.query(fmt::format("READ_REPLICATION_SLOT {}", o_.slot));
    if (!r) {
      if (r.error().code() == ErrorCode::kServer) {
        // e.g. "cannot use READ_REPLICATION_SLOT with a logical replication slot"
        *invalid = true;
        return make_error(ErrorCode::kConfig,
                          fmt::format("replication slot {} is not usable: {}; wal_slot must "
                                      "name a physical slot",
                                      o_.slot, r.error().message()));
      }
      return tl::unexpected(r.error());
    }
    if (r->rows() == 1 && !r->is_null(0, 0)) {
      found = true;
      type = r->value(0, 0);
      restart_lsn = r->value(0, 1);
      restart_tli = r->value(0, 2);
    }
  } else {
    // READ_REPLICATION_SLOT is PostgreSQL 15+; older servers answer on a normal connection.
    pg::ConnectParams p = o_.connect;
    p.replication = false;
    p.dbname = "postgres";
    PGM_ASSIGN_OR_RETURN(pg::Connection sql, pg::Connection::connect(p));
    PGM_ASSIGN_OR_RETURN(
        pg::QueryResult r,
        sql.query(fmt::format("SELECT slot_type, restart_lsn FROM pg_replication_slots "
                              "WHERE slot_name = '{}'",
                              o_.slot)));
    if (r.rows() == 1) {
      found = true;
      type = r.value(0, 0);
      restart_lsn = r.value(0, 1);
    }
  }
  if (!found) {
    *invalid = true;
    return make_error(ErrorCode::kConfig,
                      fmt::format("replication slot {} does not exist; create it with SELECT "
                                  "pg_create_physical_replication_slot('{}', true) or set "
                                  "create_slot = yes",
                                  o_.slot, o_.slot));
  }
  if (type != "physical") {
    *invalid = true;
    return make_error(ErrorCode::kConfig,
                      fmt::format("replication slot {} is a {} slot; wal_slot must name a "
                                  "physical slot",
                                  o_.slot, type));
  }
  if (restart_lsn.empty()) {
    return std::optional<ResumePoint>();
  }
  PGM_ASSIGN_OR_RETURN(Lsn lsn, Lsn::parse(restart_lsn));
  TimelineId tli(restart_tli.empty() ? 0u : static_cast<uint32_t>(std::stoul(restart_tli)));
  if (!lsn.is_valid()) {
    return std::optional<ResumePoint>();
  }
  return std::optional<ResumePoint>(ResumePoint{lsn, tli});
}

Lsn Receiver::flushed() const {
  Lsn f = writer_ ? writer_->flushed() : Lsn();
  if (shipper_ && shipper_->flushed() < f) {
    f = shipper_->flushed();
  }
  return f;
}

void Receiver::publish(bool streaming) {
  ReceiverProgress p;
  p.streaming = streaming;
  if (writer_) {
    p.tli = writer_->timeline();
    p.received = writer_->position();
    const std::string& path = writer_->current_path();
    auto slash = path.rfind('/');
    p.current_file = slash == std::string::npos ? path : path.substr(slash + 1);
  }
  p.flushed = flushed();
  p.server_end = server_end_;
  p.unfinished = finisher_.backlog().waiting;
  observer_.on_progress(p);
}

Result<void> Receiver::write(Lsn start, std::span<const uint8_t> data) {
  PGM_TRY(writer_->write(start, data));
  if (shipper_) {
    PGM_TRY(shipper_->write(start, data).map_error([](Error e) {
      return e.with_context("wal_shipping");
    }));
  }
  return {};
}

Result<void> Receiver::flush_writers() {
  if (writer_) {
    PGM_TRY(writer_->flush());
  }
  if (shipper_) {
    PGM_TRY(shipper_->flush());
  }
  return {};
}

Result<void> Receiver::send_feedback(PGconn* conn, bool reply_requested) {
  StandbyStatusUpdate u;
  u.write = writer_ ? writer_->position() : Lsn();
  u.flush = flushed();
  u.apply = Lsn();
  u.client_time = to_pg_time(std::chrono::system_clock::now());
  u.reply_requested = reply_requested;
  std::vector<uint8_t> msg = encode_standby_status_update(u);
  if (PQputCopyData(conn, reinterpret_cast<const char*>(msg.data()),
                    static_cast<int>(msg.size())) <= 0 ||
      PQflush(conn) != 0) {
    return make_error(ErrorCode::kIo,
                      fmt::format("send standby status update: {}",
                                  pg::describe_connect_error(PQerrorMessage(conn))));
  }
  last_reported_flush_ = u.flush;
  return {};
}

Result<std::optional<Receiver::NextTimeline>> Receiver::stream(pg::Connection& connection,
                                                               bool* streamed) {
  PGconn* conn = connection.native();
  const milliseconds interval = std::max(o_.status_interval, milliseconds(100));
  auto next_status = Clock::now() + interval;
  auto last_message = Clock::now();
  bool pinged = false;
  bool dirty = false;  // bytes written since the last flush
  const auto started = Clock::now();
  bool working = false;
  for (;;) {
    if (stop_.load() || pause_) {
      // Leave cleanly: everything received is made durable and reported.
      PGM_TRY(flush_writers());
      // Best effort: the server learns our position again at the next session.
      send_feedback(conn, false).ignore_error();
      PQputCopyEnd(conn, nullptr);
      PQflush(conn);
      return std::optional<NextTimeline>();
    }
    char* buffer = nullptr;
    int n = PQgetCopyData(conn, &buffer, 1);
    if (n > 0) {
      std::unique_ptr<char, void (*)(void*)> owned(buffer, PQfreemem);
      last_message = Clock::now();
      pinged = false;
      auto msg = decode_copy_data(
          std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(buffer), size_t(n)));
      PGM_TRY(msg);
      if (auto* x = std::get_if<XLogData>(&*msg)) {
        if (x->server_end > server_end_) {
          server_end_ = x->server_end;
        }
        if (!x->data.empty()) {
          PGM_TRY(write(x->start, x->data));
          dirty = true;
          *streamed = true;
        }
      } else {
        const auto& k = std::get<PrimaryKeepalive>(*msg);
        if (k.server_end > server_end_) {
          server_end_ = k.server_end;
        }
        if (k.reply_requested) {
          // The server waits for this answer (a shutting-down walsender waits until we have
          // flushed everything): make what we have durable first, sync mode or not.
          if (dirty) {
            PGM_TRY(flush_writers());
            dirty = false;
          }
          PGM_TRY(send_feedback(conn, false));
        }
      }
      continue;
    }
    if (n == -2) {
      return make_error(
          ErrorCode::kIo,
          fmt::format("replication stream: {}", pg::describe_connect_error(PQerrorMessage(conn))));
    }
    if (n == -1) {
      // The server ended the stream: end of timeline (a next-timeline row follows) or an
      // error. Answer its CopyDone with ours, as the protocol asks.
      PGM_TRY(flush_writers());
      PQputCopyEnd(conn, nullptr);
      PQflush(conn);
      std::unique_ptr<PGresult, void (*)(PGresult*)> res(PQgetResult(conn), PQclear);
      if (res && PQresultStatus(res.get()) == PGRES_TUPLES_OK) {
        if (PQntuples(res.get()) != 1 || PQnfields(res.get()) < 2) {
          return make_error(ErrorCode::kProtocol, "end of timeline: unexpected result shape");
        }
        auto next = static_cast<uint32_t>(std::stoul(PQgetvalue(res.get(), 0, 0)));
        PGM_ASSIGN_OR_RETURN(Lsn start, Lsn::parse(PQgetvalue(res.get(), 0, 1)));
        // Then CommandComplete for START_REPLICATION.
        for (;;) {
          std::unique_ptr<PGresult, void (*)(PGresult*)> rest(PQgetResult(conn), PQclear);
          if (!rest) {
            break;
          }
          if (PQresultStatus(rest.get()) == PGRES_FATAL_ERROR) {
            return make_error(ErrorCode::kServer,
                              pg::describe_connect_error(PQresultErrorMessage(rest.get())));
          }
        }
        return std::optional<NextTimeline>(NextTimeline{TimelineId(next), start});
      }
      std::string why =
          res ? pg::describe_connect_error(PQresultErrorMessage(res.get())) : std::string();
      while (PGresult* rest = PQgetResult(conn)) {
        PQclear(rest);
      }
      return make_error(ErrorCode::kIo, why.empty() ? std::string("the server ended streaming")
                                                    : "replication stream: " + why);
    }

    // No complete message buffered: the batch is done.
    if (!working && (*streamed || Clock::now() - started >= kWorkingAfter)) {
      working_again();
      working = true;
    }
    if (dirty && o_.sync) {
      PGM_TRY(flush_writers());
      dirty = false;
      PGM_TRY(send_feedback(conn, false));
      next_status = Clock::now() + interval;
    }
    auto now = Clock::now();
    if (now >= next_status) {
      if (dirty) {
        PGM_TRY(flush_writers());
        dirty = false;
      }
      PGM_TRY(send_feedback(conn, false));
      next_status = now + interval;
    } else if (flushed() != last_reported_flush_) {
      // A segment completed (and was fsynced) inside the batch: tell the server promptly so
      // synchronous commits and the slot advance.
      PGM_TRY(send_feedback(conn, false));
    }
    if (!pinged && now - last_message >= kQuietBeforePing) {
      PGM_TRY(send_feedback(conn, true));
      pinged = true;
    } else if (pinged && now - last_message >= kQuietBeforePing + kQuietBeforeDead) {
      return make_error(
          ErrorCode::kTimeout,
          fmt::format(
              "no message from the server for {} s",
              std::chrono::duration_cast<std::chrono::seconds>(now - last_message).count()));
    }
    publish(true);

    auto wait = std::chrono::duration_cast<milliseconds>(next_status - now);
    wait = std::clamp(wait, milliseconds(0), kPollSlice);
    pollfd pfd{PQsocket(conn), POLLIN, 0};
    int rc = ::poll(&pfd, 1, static_cast<int>(wait.count()));
    if (rc < 0 && errno != EINTR) {
      return make_errno_error("poll on the replication connection", errno);
    }
    if (rc > 0 && PQconsumeInput(conn) == 0) {
      return make_error(
          ErrorCode::kIo,
          fmt::format("replication stream: {}", pg::describe_connect_error(PQerrorMessage(conn))));
    }
  }
}

tl::expected<SessionEnd, Failure> Receiver::session() {
  SessionEnd end;
  auto fail = [&end](Error e, bool invalid = false) {
    return tl::unexpected(Failure{std::move(e), invalid, end.streamed});
  };
  pg::ConnectParams p = o_.connect;
  p.replication = true;
  p.dbname.clear();
  p.application_name = o_.slot;
  auto connected = pg::Connection::connect(p);
  if (!connected) {
    return fail(connected.error());
  }
  pg::Connection conn = std::move(*connected);

  auto ident = conn.query("IDENTIFY_SYSTEM");
  if (!ident) {
    return fail(ident.error());
  }
  if (ident->rows() != 1 || ident->columns() < 3) {
    return fail(Error(ErrorCode::kProtocol, "IDENTIFY_SYSTEM: unexpected result shape"));
  }
  TimelineId server_tli(static_cast<uint32_t>(std::stoul(std::string(ident->value(0, 1)))));
  auto xlogpos = Lsn::parse(ident->value(0, 2));
  if (!xlogpos) {
    return fail(xlogpos.error());
  }

  auto seg = conn.query("SHOW wal_segment_size");
  if (!seg) {
    return fail(seg.error());
  }
  auto seg_size = parse_show_size(seg->value(0, 0));
  if (!seg_size) {
    return fail(seg_size.error());
  }
  if (auto ok = check_segment_size(*seg_size); !ok) {
    return fail(ok.error());
  }
  seg_size_ = *seg_size;
  space_.set_segment_size(seg_size_);

  bool invalid = false;
  auto slot = read_slot(conn, &invalid);
  if (!slot && invalid && o_.create_slot &&
      slot.error().message().find("does not exist") != std::string::npos) {
    if (auto created = create_slot(conn); !created) {
      return fail(created.error());
    }
    slot = read_slot(conn, &invalid);
  }
  if (!slot) {
    return fail(slot.error(), invalid);
  }

  // Where to start: what we have, else the slot, else the server's current position.
  auto local = resume_position(o_.wal_dir, seg_size_);
  if (!local) {
    return fail(local.error());
  }
  ResumePoint start{*xlogpos, server_tli};
  const char* source = "the server's current position";
  if (*local) {
    start = **local;
    source = "the newest local segment";
  } else if (*slot && (*slot)->tli.is_valid()) {
    start = **slot;
    source = "the replication slot";
  } else if (*slot) {
    start.lsn = (*slot)->lsn;
    source = "the replication slot";
  }
  start.lsn = segment_start(segment_number(start.lsn, seg_size_), seg_size_);

  // The server's timeline history tells which timeline a position belongs to: a local
  // position past our timeline's end continues on the timeline the server took there.
  if (auto h = fetch_history(conn, server_tli); !h) {
    return fail(h.error());
  }
  if (server_tli > start.tli && server_tli.value() > 1) {
    auto text = io::read_file(o_.wal_dir + "/" + history_file_name(server_tli));
    if (text) {
      if (auto entries = parse_history(*text); entries) {
        TimelineId at = timeline_at(*entries, server_tli, start.lsn);
        if (at > start.tli) {
          log::info("wal {}: timeline {} ended before {}; continuing on timeline {}", o_.server,
                    start.tli.value(), start.lsn.to_string(), at.value());
          start.tli = at;
        }
      }
    }
  }
  if (auto r = repair_shipping(start); !r) {
    return fail(r.error());
  }

  log::info("wal {}: streaming from {} on timeline {} ({})", o_.server, start.lsn.to_string(),
            start.tli.value(), source);
  for (;;) {
    auto writer = SegmentWriter::create(
        o_.wal_dir, seg_size_, start.tli, [this](const std::string& name) -> Result<void> {
          log::debug("wal {}: segment {} complete", o_.server, name);
          return segment_completed(o_.wal_dir, name);
        });
    if (!writer) {
      return fail(writer.error());
    }
    writer_.emplace(std::move(*writer));
    shipper_.reset();
    if (!o_.shipping_dir.empty()) {
      auto shipper = SegmentWriter::create(o_.shipping_dir, seg_size_, start.tli,
                                           [this](const std::string& name) -> Result<void> {
                                             return segment_completed(o_.shipping_dir, name);
                                           });
      if (!shipper) {
        return fail(shipper.error());
      }
      shipper_.emplace(std::move(*shipper));
    }
    auto started = conn.query(fmt::format("START_REPLICATION SLOT {} PHYSICAL {} TIMELINE {}",
                                          o_.slot, start.lsn.to_string(), start.tli.value()));
    if (!started) {
      return fail(started.error());
    }
    if (started->kind() != pg::QueryResult::Kind::kCopyBoth) {
      return fail(Error(ErrorCode::kProtocol, "START_REPLICATION did not start a copy stream"));
    }
    publish(true);
    auto next = stream(conn, &end.streamed);
    // Whatever happened, what was written so far is made durable before we go on.
    // A failed close is not reported: flushed() stays behind, and the next session resumes
    // from the start of the newest segment, rewriting whatever might not be durable.
    if (writer_) {
      writer_->close().ignore_error();
    }
    if (shipper_) {
      shipper_->close().ignore_error();
    }
    if (!next) {
      return fail(next.error());
    }
    if (!*next) {
      end.paused = pause_;
      end.stopped = !pause_;
      return end;
    }
    TimelineId next_tli = (*next)->tli;
    Lsn next_start = (*next)->start;
    log::info("wal {}: timeline {} ended at {}; following timeline {}", o_.server,
              start.tli.value(), next_start.to_string(), next_tli.value());
    if (auto h = fetch_history(conn, next_tli); !h) {
      return fail(h.error());
    }
    start.tli = next_tli;
    start.lsn = segment_start(segment_number(next_start, seg_size_), seg_size_);
  }
}

Result<void> Receiver::run() {
  if (!is_valid_slot_name(o_.slot)) {
    return make_error(ErrorCode::kConfig,
                      fmt::format("wal_slot '{}' is not a valid replication slot name (1-63 "
                                  "characters of a-z, 0-9 and _)",
                                  o_.slot));
  }
  if (o_.encryption != crypto::AesMode::kNone && !o_.key) {
    return make_error(ErrorCode::kConfig,
                      "encryption is configured but there is no master key (pgmoneta-admin "
                      "master-key)");
  }
  PGM_TRY(prepare_directories());
  queue_leftovers(o_.wal_dir);
  if (!o_.shipping_dir.empty()) {
    queue_leftovers(o_.shipping_dir);
  }

  milliseconds backoff = o_.min_backoff;
  while (!stop_.load()) {
    auto result = session();
    writer_.reset();
    shipper_.reset();
    if (result && !result->paused) {
      break;  // stopped
    }
    publish(false);
    if (result ? result->streamed : result.error().streamed) {
      backoff = o_.min_backoff;
    }
    if (failing_since_ == Clock::time_point{}) {
      failing_since_ = Clock::now();
    }
    // A full disk: no reconnecting until there is room again (the slot keeps the WAL). A
    // pause decided at a segment boundary holds even if the session then failed otherwise.
    if (pause_ || result || is_out_of_space(result.error().error)) {
      std::string dir = pause_ || result ? pause_dir_ : space_.directory_of(result.error().error);
      pause_ = false;
      if (!wait_for_space(dir, backoff)) {
        break;  // stopped
      }
      backoff = std::min(backoff * 2, o_.max_backoff);
      continue;
    }
    const Failure& f = result.error();
    std::string message = f.error.message();
    if (message != last_error_) {
      if (f.invalid) {
        log::error("wal {}: {}", o_.server, message);
      } else {
        log::warn("wal {}: {}; retrying in {} ms", o_.server, message, backoff.count());
      }
      last_error_ = message;
      observer_.on_error(message, f.invalid);
    }
    if (!f.invalid) {
      escalate(message);
    }
    sleep_backoff(backoff);
    backoff = std::min(backoff * 2, o_.max_backoff);
  }
  publish(false);
  finisher_.stop();
  return {};
}

bool is_valid_slot_name(std::string_view name) {
  if (name.empty() || name.size() > 63) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

Result<void> run_receiver(const ReceiverOptions& options, ReceiverObserver& observer,
                          const std::atomic<bool>& stop) {
  Receiver receiver(options, observer, stop);
  return receiver.run();
}

}  // namespace pgm::wal
