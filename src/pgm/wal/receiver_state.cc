#include <unistd.h>

#include <cerrno>
#include <thread>

#include <fmt/format.h>

#include "pgm/io/file.h"
#include "pgm/log/log.h"
#include "pgm/wal/receiver_internal.h"
#include "pgm/wal/segment.h"

namespace pgm::wal {

Result<void> Receiver::prepare_directories() {
  PGM_TRY(io::make_directories(o_.wal_dir, 0700));
  if (!o_.shipping_dir.empty()) {
    PGM_TRY(io::make_directories(o_.shipping_dir, 0700));
  }
  return {};
}

// Complete plain segments left by an earlier run (killed before it compressed them, or run
// with another compression setting) are finished with the current settings.
void Receiver::queue_leftovers(const std::string& dir) {
  if (!finisher_.needed()) {
    return;
  }
  auto names = io::list_directory(dir);
  if (!names) {
    return;
  }
  for (const std::string& name : *names) {
    WalFileInfo info = classify_wal_file(name);
    if (info.kind == WalFileKind::kSegment && info.compression == compress::Algorithm::kNone &&
        !info.encrypted) {
      log::info("wal {}: finishing {}/{} left by an earlier run", o_.server, dir, name);
      finisher_.push(dir, name);
    }
  }
}

// The shipping copy is written after the main one, so a crash can leave the shipping dir with
// a .partial of a segment the main dir already completed (streaming resumes after it). Such a
// .partial is replaced by a durable copy of the main dir's complete segment.
Result<void> Receiver::repair_shipping(const ResumePoint& resume) {
  if (o_.shipping_dir.empty()) {
    return {};
  }
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> shipped, io::list_directory(o_.shipping_dir));
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> main_names, io::list_directory(o_.wal_dir));
  SegmentNo resume_segno = segment_number(resume.lsn, seg_size_);
  for (const std::string& name : shipped) {
    WalFileInfo info = classify_wal_file(name);
    if (info.kind != WalFileKind::kPartial) {
      continue;
    }
    auto id = parse_segment_name(info.base, seg_size_);
    if (!id || id->segno >= resume_segno) {
      continue;
    }
    // The main copy may be plain or already finished, and the finisher thread may be turning
    // one into the other right now: a vanished file means look again.
    for (int attempt = 0; attempt < 3; ++attempt) {
      std::string source;
      for (const std::string& m : main_names) {
        WalFileInfo mi = classify_wal_file(m);
        if (mi.kind == WalFileKind::kSegment && mi.base == info.base &&
            (source.empty() || mi.compression != compress::Algorithm::kNone || mi.encrypted)) {
          source = m;
        }
      }
      if (source.empty()) {
        break;
      }
      auto bytes = io::read_file(o_.wal_dir + "/" + source);
      if (!bytes && bytes.error().code() == ErrorCode::kNotFound) {
        PGM_ASSIGN_OR_RETURN(main_names, io::list_directory(o_.wal_dir));
        continue;
      }
      PGM_TRY(bytes);
      PGM_TRY(io::write_file_atomic(o_.shipping_dir + "/" + source, *bytes, 0600));
      if (::unlink((o_.shipping_dir + "/" + name).c_str()) != 0 && errno != ENOENT) {
        return make_errno_error(fmt::format("remove {}/{}", o_.shipping_dir, name), errno);
      }
      PGM_TRY(io::fsync_directory(o_.shipping_dir));
      log::info("wal {}: wal_shipping: replaced {} by {}", o_.server, name, source);
      if (source == info.base) {
        finisher_.push(o_.shipping_dir, source);  // finished like every shipped segment
      }
      break;
    }
  }
  return {};
}

void Receiver::sleep_backoff(milliseconds delay) {
  auto until = Clock::now() + delay;
  while (!stop_.load() && Clock::now() < until) {
    std::this_thread::sleep_for(std::min(
        milliseconds(100), std::chrono::duration_cast<milliseconds>(until - Clock::now())));
  }
}

std::vector<std::string> Receiver::directories(const ReceiverOptions& o) {
  std::vector<std::string> dirs{o.wal_dir};
  if (!o.shipping_dir.empty()) {
    dirs.push_back(o.shipping_dir);
  }
  return dirs;
}

std::string Receiver::finished_as(const ReceiverOptions& o) {
  bool compressed = o.algorithm != compress::Algorithm::kNone;
  bool encrypted = o.encryption != crypto::AesMode::kNone;
  if (compressed && encrypted) {
    return "compressed and encrypted";
  }
  return compressed ? "compressed" : encrypted ? "encrypted" : "";
}

// A segment is durable under its final name: queue its compression, and end the session at
// this boundary when going on would outgrow the disk.
Result<void> Receiver::segment_completed(const std::string& dir, const std::string& name) {
  finisher_.push(dir, name);
  if (auto short_dir = space_.check(finisher_.backlog()); short_dir && !pause_) {
    log::debug("wal {}: too little space in {} after {}; pausing", o_.server, *short_dir, name);
    pause_ = true;
    pause_dir_ = *short_dir;
  }
  return {};
}

// Streaming is paused for lack of space in `dir`: says so once, then waits for room.
bool Receiver::wait_for_space(const std::string& dir, milliseconds min_wait) {
  std::string message = space_.paused_message(dir, finisher_.backlog());
  if (!paused_for_space_) {
    log::warn("wal {}: {}", o_.server, message);
    paused_for_space_ = true;
    pause_dir_ = dir;
  }
  auto report = [this, &dir](const FinishBacklog& backlog) {
    std::string now = space_.paused_message(dir, backlog);
    if (now != last_error_) {
      last_error_ = now;
      observer_.on_error(now, false);
    }
    publish(false);
    escalate(now);
  };
  report(finisher_.backlog());
  if (!space_.wait([this] { return finisher_.backlog(); }, stop_, min_wait, kSpacePoll, report)) {
    return false;
  }
  recovery_line_ = space_.resumed_message(pause_dir_);  // the space seen when deciding
  return true;
}

// The session works (it wrote WAL, or has run a while): the recovery from a failure or a full
// disk is logged once.
void Receiver::working_again() {
  if (paused_for_space_) {
    log::info("wal {}: {}", o_.server, recovery_line_);
    paused_for_space_ = false;
  } else if (!last_error_.empty()) {
    log::info("wal {}: streaming again", o_.server);
  }
  if (!last_error_.empty()) {
    last_error_.clear();
    observer_.on_error("", false);
  }
  failing_since_ = {};
  escalated_ = false;
}

// After kEscalateAfter without a working session: one ERROR line.
void Receiver::escalate(const std::string& message) {
  if (!escalated_ && failing_since_ != Clock::time_point{} &&
      Clock::now() - failing_since_ >= kEscalateAfter) {
    log::error("wal {}: no WAL streaming for {} minutes: {}", o_.server, kEscalateAfter.count(),
               message);
    escalated_ = true;
  }
}

}  // namespace pgm::wal
