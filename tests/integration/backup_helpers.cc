#include "integration/backup_helpers.h"

#include <dirent.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "integration/wal_helpers.h"
#include <nlohmann/json.hpp>

#include "pgm/backup/info.h"
#include "pgm/compress/stream.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/crypto/digest.h"
#include "pgm/incremental/block_map.h"

namespace pgm::testing {

namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    if (!line.empty()) {
      lines.push_back(line);
    }
  }
  return lines;
}

std::string sha512_hex(const std::string& data) {
  auto h = crypto::Sha512::create();
  if (!h) {
    return "";
  }
  h->update(std::string_view(data));
  return crypto::Sha512::hex(h->final());
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

struct Decoded {
  std::string sha512;
  uint64_t size = 0;
  uint64_t stored = 0;
  std::string error;
  std::vector<incremental::BlockHash> block_hashes;  // XXH3-128 per 8 KB of the plaintext
};

// Streams a stored file through AES-GCM (".aes") and the decompressor its suffix names, in
// chunks, hashing the plaintext.
Decoded decode_and_hash(const std::string& path, const crypto::MasterKey* key,
                        crypto::AesMode mode) {
  Decoded d;
  std::string rest = path;
  bool encrypted = ends_with(rest, ".aes");
  if (encrypted) {
    rest.resize(rest.size() - 4);
  }
  compress::Algorithm algorithm = compress::Algorithm::kNone;
  for (compress::Algorithm a : {compress::Algorithm::kGzip, compress::Algorithm::kZstd,
                                compress::Algorithm::kLz4, compress::Algorithm::kBzip2}) {
    if (ends_with(rest, std::string(compress::file_suffix(a)))) {
      algorithm = a;
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    d.error = "cannot open";
    return d;
  }
  auto hash = crypto::Sha512::create();
  if (!hash) {
    d.error = "sha512: " + hash.error().message();
    return d;
  }
  std::optional<crypto::AesGcmDecryptor> aes;
  if (encrypted) {
    if (key == nullptr) {
      d.error = "encrypted but no key";
      return d;
    }
    auto created = crypto::AesGcmDecryptor::create(*key, mode);
    if (!created) {
      d.error = "aes: " + created.error().message();
      return d;
    }
    aes.emplace(std::move(*created));
  }
  std::optional<compress::Decompressor> dec;
  if (algorithm != compress::Algorithm::kNone) {
    auto created = compress::Decompressor::create(algorithm);
    if (!created) {
      d.error = "decompressor: " + created.error().message();
      return d;
    }
    dec.emplace(std::move(*created));
  }
  incremental::BlockHasher blocks;
  compress::Sink sink = [&](std::span<const uint8_t> plain) -> Result<void> {
    hash->update(plain);
    blocks.update(plain);
    d.size += plain.size();
    return {};
  };
  auto feed = [&](std::span<const uint8_t> bytes) -> std::string {
    if (dec) {
      auto r = dec->update(bytes, sink);
      return r ? "" : r.error().message();
    }
    sink(bytes).ignore_error();  // never fails: it only hashes and counts
    return "";
  };
  std::vector<char> buffer(size_t{1} << 20);
  std::vector<uint8_t> plain;
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    auto n = static_cast<size_t>(in.gcount());
    if (n == 0) {
      break;
    }
    d.stored += n;
    std::span<const uint8_t> chunk(reinterpret_cast<const uint8_t*>(buffer.data()), n);
    if (aes) {
      plain.clear();
      if (auto r = aes->update(chunk, plain); !r) {
        d.error = "decrypt: " + r.error().message();
        return d;
      }
      chunk = plain;
    }
    if (std::string err = feed(chunk); !err.empty()) {
      d.error = "decompress: " + err;
      return d;
    }
  }
  if (aes) {
    plain.clear();
    if (auto r = aes->finish(plain); !r) {
      d.error = "decrypt: " + r.error().message();
      return d;
    }
    if (std::string err = feed(plain); !err.empty()) {
      d.error = "decompress: " + err;
      return d;
    }
  }
  if (dec) {
    if (auto r = dec->finish(sink); !r) {
      d.error = "decompress: " + r.error().message();
      return d;
    }
  }
  d.sha512 = crypto::Sha512::hex(hash->final());
  d.block_hashes = blocks.finish();
  return d;
}

}  // namespace

std::string daemon_backup_root(const DaemonInstance& d, const std::string& server) {
  return d.dir() / ("base/" + server + "/backup");
}

std::map<std::string, std::string> read_info_file(const std::string& backup_dir) {
  std::map<std::string, std::string> kv;
  for (const std::string& line : lines_of(read_text(backup_dir + "/backup.info"))) {
    size_t eq = line.find('=');
    if (eq != std::string::npos) {
      kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
  }
  return kv;
}

std::string VerifyResult::summary() const {
  std::string s;
  for (size_t i = 0; i < problems.size() && i < 40; ++i) {
    s += "  " + problems[i] + "\n";
  }
  if (problems.size() > 40) {
    s += "  ... and " + std::to_string(problems.size() - 40) + " more\n";
  }
  return s;
}

VerifyResult verify_backup(const std::string& dir, const std::string& expect_suffix,
                           const crypto::MasterKey* key) {
  VerifyResult v;
  auto problem = [&](const std::string& p) { v.problems.push_back(p); };
  std::map<std::string, std::string> info = read_info_file(dir);
  if (info["STATUS"] != "1") {
    problem("backup.info STATUS is '" + info["STATUS"] + "', not 1");
  }
  auto mode = static_cast<crypto::AesMode>(std::atoi(info["ENCRYPTION"].c_str()));
  // Tablespaces: TABLESPACE<n>=tblspc_<name>, TABLESPACE_OID<n>=<oid> (pgmoneta's keys), so
  // pg_tblspc/<oid>/x maps to tblspc_<name>/x.
  std::map<std::string, std::string> tblspc_by_oid;
  for (const auto& [k, val] : info) {
    if (k.rfind("TABLESPACE_OID", 0) == 0) {
      std::string n = k.substr(std::string("TABLESPACE_OID").size());
      tblspc_by_oid[val] = info["TABLESPACE" + n];
    }
  }

  // PostgreSQL's manifest (plain, in data/).
  std::map<std::string, std::string> pg_sums;
  {
    nlohmann::json m =
        nlohmann::json::parse(read_text(dir + "/data/backup_manifest"), nullptr, false);
    if (m.is_discarded() || !m.contains("Files") || !m["Files"].is_array()) {
      problem("data/backup_manifest is missing or not PostgreSQL's JSON manifest");
    } else {
      for (const nlohmann::json& f : m["Files"]) {
        std::string path = f.value("Path", "");
        if (f.value("Checksum-Algorithm", "") != "SHA512") {
          problem("backup_manifest: " + path + " has checksum algorithm " +
                  f.value("Checksum-Algorithm", "(none)"));
        }
        pg_sums[path] = f.value("Checksum", "");
      }
    }
  }

  // Relation files' per-block hashes, to hold against backup.blockmap.
  std::map<std::string, std::vector<incremental::BlockHash>> mapped;

  // backup.manifest: "<path relative to data/>,<sha512>".
  std::set<std::string> stored_paths;  // relative to dir
  std::set<std::string> manifest_paths;
  std::vector<std::string> manifest_lines = lines_of(read_text(dir + "/backup.manifest"));
  if (manifest_lines.empty()) {
    problem("backup.manifest is missing or empty");
  }
  for (const std::string& line : manifest_lines) {
    size_t comma = line.rfind(',');
    if (comma == std::string::npos) {
      problem("backup.manifest: malformed line '" + line + "'");
      continue;
    }
    std::string path = line.substr(0, comma);
    std::string sum = line.substr(comma + 1);
    manifest_paths.insert(path);
    std::string base = "data/" + path;
    if (path.rfind("pg_tblspc/", 0) == 0) {
      size_t slash = path.find('/', 10);
      std::string oid =
          path.substr(10, slash == std::string::npos ? std::string::npos : slash - 10);
      auto it = tblspc_by_oid.find(oid);
      if (it == tblspc_by_oid.end() || slash == std::string::npos) {
        problem(path + ": no tablespace with oid " + oid + " in backup.info");
        continue;
      }
      base = it->second + "/" + path.substr(slash + 1);
    }
    bool plain = path == "backup_label" || path == "backup_manifest";
    std::string stored = plain ? base : base + expect_suffix;
    if (!path_exists(dir + "/" + stored)) {
      std::string found;
      for (const char* s : {"", ".gz", ".zstd", ".lz4", ".bz2", ".aes", ".gz.aes", ".zstd.aes",
                            ".lz4.aes", ".bz2.aes"}) {
        if (path_exists(dir + "/" + base + s)) {
          found += " " + base + s;
        }
      }
      problem(path + ": expected " + stored + "; present:" + (found.empty() ? " nothing" : found));
      continue;
    }
    stored_paths.insert(stored);
    Decoded d = decode_and_hash(dir + "/" + stored, key, mode);
    if (!d.error.empty()) {
      problem(stored + ": " + d.error);
      continue;
    }
    ++v.files;
    if (incremental::incremental_candidate(path, d.size)) {
      mapped[path] = std::move(d.block_hashes);
    }
    v.plain_bytes += d.size;
    v.stored_bytes += d.stored;
    if (d.sha512 != sum) {
      problem(stored + ": SHA-512 of the decoded bytes differs from backup.manifest");
    }
    auto pg = pg_sums.find(path);
    if (pg != pg_sums.end()) {
      ++v.postgres_compared;
      if (pg->second != d.sha512) {
        problem(stored + ": SHA-512 differs from PostgreSQL's backup_manifest");
      }
    }
  }
  // backup.blockmap: exactly the relation files, with the hashes of their decoded blocks.
  if (auto map = incremental::BlockMap::read(dir + "/" + incremental::kBlockMapFile); !map) {
    problem(map.error().message());
  } else {
    for (const auto& e : map->entries()) {
      auto it = mapped.find(e.path);
      if (it == mapped.end()) {
        problem("backup.blockmap lists " + e.path + ", which is no relation file of the backup");
        continue;
      }
      const auto hashes = map->hashes(e);
      if (!std::equal(hashes.begin(), hashes.end(), it->second.begin(), it->second.end())) {
        problem("backup.blockmap: the block hashes of " + e.path + " differ from its content");
      }
      mapped.erase(it);
    }
    for (const auto& [path, hashes] : mapped) {
      problem("backup.blockmap lacks relation file " + path);
    }
  }
  for (const auto& [path, sum] : pg_sums) {
    if (!manifest_paths.contains(path)) {
      problem("PostgreSQL's manifest lists " + path + ", backup.manifest does not");
    }
  }

  // No stray file: everything under data/ and tblspc_*/ is in the manifest.
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file()) {
      continue;
    }
    std::string rel = fs::relative(it->path(), dir).string();
    if (rel == "backup.info" || rel == "backup.manifest" || rel == "backup.sha512" ||
        rel == incremental::kBlockMapFile) {
      continue;
    }
    if (!stored_paths.contains(rel)) {
      problem("stray file " + rel + " (not in backup.manifest)");
    }
  }
  // Tablespace links: data/pg_tblspc/<oid> -> ../../tblspc_<name> (relative).
  for (const auto& [oid, name] : tblspc_by_oid) {
    fs::path link = fs::path(dir) / "data/pg_tblspc" / oid;
    if (!fs::is_symlink(link, ec)) {
      problem("data/pg_tblspc/" + oid + " is not a symlink");
      continue;
    }
    fs::path target = fs::read_symlink(link, ec);
    if (target.is_absolute() || !fs::equivalent(link, fs::path(dir) / name, ec)) {
      problem("data/pg_tblspc/" + oid + " -> " + target.string() + ", not a relative link to " +
              name);
    }
  }

  // sha512sum -c, for real, in the backup directory.
  CommandOutput sum =
      run_in(dir, {"/usr/bin/sha512sum", "--quiet", "--strict", "-c", "backup.sha512"});
  if (sum.exit_code != 0) {
    problem("sha512sum -c backup.sha512 failed: " + sum.describe());
  }
  // Every stored file and the catalog files are covered by backup.sha512.
  std::set<std::string> sha_paths;
  for (const std::string& line : lines_of(read_text(dir + "/backup.sha512"))) {
    size_t star = line.find(" *./");
    if (star != std::string::npos) {
      sha_paths.insert(line.substr(star + 4));
    }
  }
  for (const std::string& p : stored_paths) {
    if (!sha_paths.contains(p)) {
      problem(p + " is not in backup.sha512");
    }
  }
  for (const char* p : {"backup.info", "backup.manifest"}) {
    if (!sha_paths.contains(p)) {
      problem(std::string(p) + " is not in backup.sha512");
    }
  }

  if (info["RESTORE"] != std::to_string(v.plain_bytes)) {
    problem("backup.info RESTORE=" + info["RESTORE"] + ", decoded files sum to " +
            std::to_string(v.plain_bytes));
  }
  return v;
}

CommandOutput run_in(const std::string& cwd, const std::vector<std::string>& argv,
                     std::chrono::milliseconds timeout) {
  ProcessOptions o;
  o.argv = argv;
  o.cwd = cwd;
  return run_command(o, timeout);
}

std::string fabricate_backup(const std::string& source, const std::string& root,
                             const std::string& label, const std::string& wal) {
  std::string target = root + "/" + label;
  CommandOutput cp = run_in(root, {"/bin/cp", "-a", source, target});
  if (cp.exit_code != 0) {
    return "cp -a " + source + " " + target + ": " + cp.describe();
  }
  std::string info;
  for (std::string line : lines_of(read_text(target + "/backup.info"))) {
    if (line.rfind("LABEL=", 0) == 0) {
      line = "LABEL=" + label;
    } else if (!wal.empty() && line.rfind("WAL=", 0) == 0) {
      line = "WAL=" + wal;
    }
    info += line + "\n";
  }
  std::string sha;
  for (std::string line : lines_of(read_text(target + "/backup.sha512"))) {
    if (ends_with(line, " *./backup.info")) {
      line = sha512_hex(info) + " *./backup.info";
    }
    sha += line + "\n";
  }
  for (const auto& [name, text] : {std::pair{"backup.info", info}, {"backup.sha512", sha}}) {
    std::string path = target + "/" + name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
    out.close();
    if (!out) {
      return "cannot rewrite " + path;
    }
    chown_to_test_user(path);
  }
  return "";
}

std::vector<int> backup_children(int daemon_pid) {
  std::vector<int> pids;
  for (const std::string& name : list_dir("/proc")) {
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) {
      continue;
    }
    std::string stat = read_text("/proc/" + name + "/stat");
    size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream fields(stat.substr(close + 2));
    std::string state;
    int ppid = 0;
    fields >> state >> ppid;
    if (ppid != daemon_pid || state == "Z") {
      continue;
    }
    if (process_cmdline(std::stoll(name)).rfind("pgmoneta: backup", 0) == 0) {
      pids.push_back(std::stoi(name));
    }
  }
  return pids;
}

Process start_cli(const DaemonInstance& d, const std::vector<std::string>& args,
                  const std::string& out_path) {
  ProcessOptions o;
  o.argv = {d.bin("pgmoneta-cli"), "-c", d.cli_config_path(), "-F", "raw"};
  o.argv.insert(o.argv.end(), args.begin(), args.end());
  o.home = d.home();
  o.stdout_path = out_path;
  o.stderr_path = out_path + ".err";
  return Process::start(o);
}

std::vector<uint64_t> du_bytes(const std::vector<std::string>& paths, std::string* error) {
  std::vector<std::string> argv = {"/usr/bin/du", "-sb"};
  argv.insert(argv.end(), paths.begin(), paths.end());
  CommandOutput r = run_in("/", argv);
  std::vector<uint64_t> sizes;
  if (r.exit_code != 0) {
    *error = "du: " + r.describe();
    return sizes;
  }
  for (const std::string& line : lines_of(r.out)) {
    sizes.push_back(std::stoull(line));
  }
  if (sizes.size() != paths.size()) {
    *error = "du printed " + std::to_string(sizes.size()) + " lines: " + r.out;
    sizes.clear();
  }
  return sizes;
}

std::vector<std::pair<uint64_t, std::string>> unshared_files(const std::string& dir) {
  std::vector<std::pair<uint64_t, std::string>> files;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_symlink() || !it->is_regular_file() || it->hard_link_count() != 1) {
      continue;
    }
    files.emplace_back(it->file_size(), fs::relative(it->path(), dir).string());
  }
  std::sort(files.rbegin(), files.rend());
  return files;
}

}  // namespace pgm::testing
