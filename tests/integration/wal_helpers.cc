#include "integration/wal_helpers.h"

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "integration/harness.h"

#include "pgm/crypto/base64.h"

namespace pgm::testing {

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

std::span<const uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// Whole file; "" when unreadable (read_text goes through a stringstream: slow for 16 MiB).
std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    return "";
  }
  std::string data(static_cast<size_t>(f.tellg()), '\0');
  f.seekg(0);
  f.read(data.data(), static_cast<std::streamsize>(data.size()));
  return data;
}

// First offset where a and b differ (or the shorter length).
size_t first_difference(const std::string& a, const std::string& b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return i;
    }
  }
  return n;
}

}  // namespace

std::optional<crypto::MasterKey> load_master_key_at(const std::string& path, std::string* error) {
  std::istringstream in(read_text(path));
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    line = trim(line);
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  if (lines.size() < 2) {
    *error = path + ": expected two lines (password, salt)";
    return std::nullopt;
  }
  auto password = crypto::base64_decode(lines[0]);
  auto salt = crypto::base64_decode(lines[1]);
  if (!password || !salt) {
    *error = path + ": bad base64";
    return std::nullopt;
  }
  auto key = crypto::derive_master_key(std::string(password->begin(), password->end()), *salt);
  if (!key) {
    *error = path + ": " + key.error().message();
    return std::nullopt;
  }
  return std::move(*key);
}

std::string path_join(const std::string& dir, const std::string& name) {
  std::string path = dir;
  path += '/';
  path += name;
  return path;
}

std::string daemon_wal_dir(const DaemonInstance& d, const std::string& server) {
  return d.dir() / ("base/" + server + "/wal");
}

std::string expected_suffix(compress::Algorithm algorithm, crypto::AesMode encryption) {
  std::string s(compress::file_suffix(algorithm));
  if (encryption != crypto::AesMode::kNone) {
    s += ".aes";
  }
  return s;
}

std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return names;
  }
  while (dirent* e = ::readdir(d)) {  // NOLINT(concurrency-mt-unsafe): one thread per DIR
    std::string name = e->d_name;
    if (name != "." && name != "..") {
      names.push_back(name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

std::optional<std::string> decode_stored_file(const std::string& path, const wal::WalFileInfo& info,
                                              crypto::AesMode mode, const crypto::MasterKey* key,
                                              std::string* error) {
  if (!path_exists(path)) {
    *error = path + ": missing";
    return std::nullopt;
  }
  std::string data = read_file(path);
  if (info.encrypted) {
    if (key == nullptr || mode == crypto::AesMode::kNone) {
      *error = path + ": encrypted but the test has no key";
      return std::nullopt;
    }
    auto plain = crypto::aes_decrypt(*key, mode, bytes_of(data));
    if (!plain) {
      *error = path + ": decrypt: " + plain.error().message();
      return std::nullopt;
    }
    data.assign(plain->begin(), plain->end());
  }
  if (info.compression != compress::Algorithm::kNone) {
    auto plain = compress::decompress(info.compression, bytes_of(data), size_t{1} << 30);
    if (!plain) {
      *error = path + ": decompress " + std::string(compress::algorithm_name(info.compression)) +
               ": " + plain.error().message();
      return std::nullopt;
    }
    data.assign(plain->begin(), plain->end());
  }
  return data;
}

std::string WalDirCheck::summary() const {
  std::string s;
  for (const std::string& p : problems) {
    s += "  problem: " + p + "\n";
  }
  s += "  " + std::to_string(segments) + " complete segments, " + std::to_string(compared) +
       " compared:";
  for (const std::string& n : names) {
    s += " " + n;
  }
  return s + "\n";
}

WalDirCheck check_wal_dir(const WalDirCheckOptions& o,
                          const std::vector<std::string>& also_allowed) {
  WalDirCheck out;
  struct PerTimeline {
    std::map<wal::SegmentNo, std::vector<std::string>> complete;  // segno -> file names
    std::vector<std::pair<wal::SegmentNo, std::string>> partials;
  };
  std::map<uint32_t, PerTimeline> timelines;
  std::vector<std::string> names = list_dir(o.wal_dir);
  if (names.empty()) {
    out.problems.push_back(o.wal_dir + " is empty or unreadable");
  }
  for (const std::string& name : names) {
    wal::WalFileInfo info = wal::classify_wal_file(name);
    switch (info.kind) {
      case wal::WalFileKind::kOther:
        out.problems.push_back("unexpected file " + name);
        break;
      case wal::WalFileKind::kHistory:
        break;
      case wal::WalFileKind::kPartial:
      case wal::WalFileKind::kSegment: {
        auto id = wal::parse_segment_name(info.base, o.seg_size);
        if (!id) {
          out.problems.push_back(name + ": " + id.error().message());
          break;
        }
        PerTimeline& t = timelines[id->tli.value()];
        if (info.kind == wal::WalFileKind::kPartial) {
          t.partials.emplace_back(id->segno, name);
        } else {
          t.complete[id->segno].push_back(name);
        }
        break;
      }
    }
  }
  for (const auto& [tli, t] : timelines) {
    if (!t.complete.empty()) {
      out.ranges[tli] = {t.complete.begin()->first, t.complete.rbegin()->first};
    }
    std::optional<wal::SegmentNo> prev;
    for (const auto& [segno, files] : t.complete) {
      if (files.size() > 1) {
        std::string all;
        for (const std::string& f : files) {
          all += " " + f;
        }
        out.problems.push_back("segment stored more than once:" + all);
      }
      if (prev && segno != *prev + 1) {
        out.problems.push_back("gap on timeline " + std::to_string(tli) + ": after " +
                               wal::segment_name_for(wal::TimelineId(tli), *prev, o.seg_size) +
                               " comes " + files[0]);
      }
      prev = segno;
    }
    if (t.partials.size() > 1) {
      out.problems.push_back("more than one .partial on timeline " + std::to_string(tli));
    }
    for (const auto& [segno, name] : t.partials) {
      if (!t.complete.empty() && segno <= t.complete.rbegin()->first) {
        out.problems.push_back(name + " is not newer than the newest complete segment " +
                               t.complete.rbegin()->second[0]);
      }
    }
  }
  // Byte comparison of every complete segment.
  for (const std::string& name : names) {
    wal::WalFileInfo info = wal::classify_wal_file(name);
    if (info.kind != wal::WalFileKind::kSegment) {
      continue;
    }
    ++out.segments;
    out.names.push_back(info.base);
    bool allowed = name == info.base + o.suffix;
    for (const std::string& other : also_allowed) {
      allowed = allowed || name == info.base + other;
    }
    if (!allowed) {
      out.problems.push_back(name + ": expected the suffix '" + o.suffix + "'");
    }
    std::string error;
    std::optional<std::string> plain =
        decode_stored_file(o.wal_dir + "/" + name, info, o.mode, o.key, &error);
    if (!plain) {
      out.problems.push_back(error);
      continue;
    }
    if (plain->size() != o.seg_size) {
      out.problems.push_back(name + ": decodes to " + std::to_string(plain->size()) +
                             " bytes, not one segment");
      continue;
    }
    if (o.reference_dir.empty()) {
      continue;
    }
    std::string ref_path = path_join(o.reference_dir, info.base);
    if (!path_exists(ref_path)) {
      if (o.require_reference) {
        std::string problem = name;
        problem.append(": no ").append(ref_path).append(" to compare with");
        out.problems.push_back(problem);
      }
      continue;
    }
    std::string ref = read_file(ref_path);
    ++out.compared;
    if (ref != *plain) {
      size_t at = first_difference(ref, *plain);
      std::string problem = name;
      problem.append(": differs from ").append(ref_path).append(" at byte offset ");
      problem += std::to_string(at);
      out.problems.push_back(problem);
    }
  }
  return out;
}

std::string wait_for_settled_segment(const std::string& dir, const std::string& segment,
                                     const std::string& suffix, std::chrono::milliseconds timeout,
                                     const std::vector<std::string>& also_allowed) {
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    std::vector<std::string> names = list_dir(dir);
    bool found = false;
    std::string unsettled;
    for (const std::string& name : names) {
      wal::WalFileInfo info = wal::classify_wal_file(name);
      if (name == segment + suffix) {
        found = true;
      }
      bool allowed = name == info.base + suffix;
      for (const std::string& other : also_allowed) {
        allowed = allowed || name == info.base + other;
      }
      if (info.kind == wal::WalFileKind::kOther ||
          (info.kind == wal::WalFileKind::kSegment && !allowed)) {
        unsettled += " " + name;
      }
    }
    if (found && unsettled.empty()) {
      return "";
    }
    if (steady_clock::now() >= deadline) {
      std::string listing;
      for (const std::string& n : names) {
        listing += " " + n;
      }
      std::string state;
      if (!found) {
        state.append(segment).append(suffix).append(" not in ").append(dir).append("; ");
      }
      if (!unsettled.empty()) {
        state.append("not (yet) in final form:").append(unsettled).append("; ");
      }
      return state.append("listing:").append(listing);
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

std::string check_partial_prefix(const std::string& wal_dir, const std::string& reference_dir,
                                 wal::TimelineId tli, wal::Lsn flushed, size_t* compared,
                                 uint64_t seg_size) {
  *compared = 0;
  uint64_t offset = wal::segment_offset(flushed, seg_size);
  if (offset == 0) {
    return "";
  }
  std::string name = wal::segment_name(tli, flushed, seg_size);
  std::string partial_path = wal_dir + "/" + name + ".partial";
  std::string partial = read_file(partial_path);
  if (partial.size() != seg_size) {
    // It may have been completed meanwhile: then the complete segment is checked elsewhere.
    if (!path_exists(partial_path)) {
      for (const std::string& n : list_dir(wal_dir)) {
        if (n.rfind(name, 0) == 0) {
          return "";
        }
      }
      return partial_path + " missing although " + flushed.to_string() + " is flushed";
    }
    return partial_path + " is " + std::to_string(partial.size()) + " bytes, not " +
           std::to_string(seg_size);
  }
  std::string ref = read_file(reference_dir + "/" + name);
  if (ref.size() < offset) {
    return reference_dir + "/" + name + " is too short to compare";
  }
  *compared = offset;
  size_t at = first_difference(ref.substr(0, offset), partial.substr(0, offset));
  if (at < offset) {
    return partial_path + " differs from the reference at byte offset " + std::to_string(at) +
           " (flushed up to offset " + std::to_string(offset) + ")";
  }
  return "";
}

std::vector<std::string> unfinished_files(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> out;
  for (const std::string& name : list_dir(dir)) {
    wal::WalFileInfo info = wal::classify_wal_file(name);
    if (info.kind == wal::WalFileKind::kOther ||
        (info.kind == wal::WalFileKind::kSegment && !suffix.empty() && name == info.base)) {
      out.push_back(name);
    }
  }
  return out;
}

std::string slot_restart_lsn(const PostgresInstance& pg, const std::string& slot) {
  bool ok = false;
  std::string v = sql_value(
      pg, "SELECT restart_lsn FROM pg_replication_slots WHERE slot_name = '" + slot + "'", &ok);
  return ok ? v : "";
}

nlohmann::json server_details(const DaemonInstance& d, const std::string& server,
                              std::string* error) {
  CliResult r = d.cli({"status", "details"}, "json");
  if (r.exit_code() != 0 || !r.json) {
    if (error != nullptr) {
      *error = "status details failed: " + r.describe();
    }
    return nullptr;
  }
  nlohmann::json s = find_server(*r.json, server);
  if (s.is_null() && error != nullptr) {
    *error = "no server '" + server + "' in " + r.json->dump();
  }
  return s;
}

std::optional<nlohmann::json> wait_for_details(
    const DaemonInstance& d, const std::string& server,
    const std::function<bool(const nlohmann::json&)>& pred, std::chrono::milliseconds timeout,
    std::string* last) {
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    std::string error;
    nlohmann::json s = server_details(d, server, &error);
    if (s.is_object()) {
      if (pred(s)) {
        return s;
      }
      *last = s.dump();
    } else {
      *last = error;
    }
    if (steady_clock::now() >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

bool json_bool(const nlohmann::json& j, const std::string& key, bool fallback) {
  if (j.is_object() && j.contains(key) && j[key].is_boolean()) {
    return j[key].get<bool>();
  }
  return fallback;
}

int64_t json_int(const nlohmann::json& j, const std::string& key, int64_t fallback) {
  if (j.is_object() && j.contains(key) && j[key].is_number_integer()) {
    return j[key].get<int64_t>();
  }
  return fallback;
}

std::string json_string(const nlohmann::json& j, const std::string& key) {
  if (j.is_object() && j.contains(key) && j[key].is_string()) {
    return j[key].get<std::string>();
  }
  return "";
}

std::string sql_value(const PostgresInstance& pg, const std::string& sql, bool* ok) {
  CommandOutput r = pg.psql(sql);
  if (ok != nullptr) {
    *ok = r.exit_code == 0;
  }
  return r.exit_code == 0 ? trim(r.out) : r.describe();
}

std::string switch_wal(const PostgresInstance& pg, std::string* error) {
  CommandOutput r = pg.psql(
      "CREATE TABLE IF NOT EXISTS wal_it_switch (t timestamptz); "
      "INSERT INTO wal_it_switch VALUES (now());");
  if (r.exit_code != 0) {
    *error = "write before pg_switch_wal failed: " + r.describe();
    return "";
  }
  r = pg.psql("SELECT pg_walfile_name(pg_switch_wal())");
  if (r.exit_code != 0) {
    *error = "pg_switch_wal failed: " + r.describe();
    return "";
  }
  return trim(r.out);
}

std::vector<std::string> walsender_pids(const PostgresInstance& pg, const std::string& app_name) {
  CommandOutput r =
      pg.psql("SELECT pid FROM pg_stat_replication WHERE application_name = '" + app_name + "'");
  std::vector<std::string> pids;
  if (r.exit_code != 0) {
    return pids;
  }
  std::istringstream in(r.out);
  std::string line;
  while (std::getline(in, line)) {
    if (!trim(line).empty()) {
      pids.push_back(trim(line));
    }
  }
  return pids;
}

std::string drop_slot(const PostgresInstance& pg, const std::string& slot,
                      std::chrono::milliseconds timeout) {
  auto deadline = steady_clock::now() + timeout;
  while (true) {
    CommandOutput r = pg.psql(
        "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
        "WHERE slot_name = '" +
        slot + "'");
    if (r.exit_code == 0) {
      return "";
    }
    if (steady_clock::now() >= deadline) {
      return "drop slot " + slot + ": " + r.describe();
    }
    std::this_thread::sleep_for(milliseconds(200));
  }
}

std::string process_cmdline(int64_t pid) {
  std::string s = read_text("/proc/" + std::to_string(pid) + "/cmdline");
  std::replace(s.begin(), s.end(), '\0', ' ');
  return trim(s);
}

}  // namespace pgm::testing
