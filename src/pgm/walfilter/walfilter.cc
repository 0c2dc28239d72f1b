#include "pgm/walfilter/walfilter.h"

#include <fcntl.h>

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <ostream>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include "pgm/compress/stream.h"
#include "pgm/crypto/aes_stream.h"
#include "pgm/crypto/vault.h"
#include "pgm/io/fd.h"
#include "pgm/io/file.h"
#include "pgm/io/file_system.h"
#include "pgm/log/log.h"
#include "pgm/version.h"
#include "pgm/wal/segment.h"
#include "pgm/walfilter/rewrite.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/format.h"

namespace pgm::walfilter {

namespace {

constexpr std::string_view kProgram = "pgmoneta-walfilter";

struct SourceFile {
  std::string path;
  wal::WalFileInfo info;
};

// The bytes of a stored WAL file as PostgreSQL wrote them: decrypted, then decompressed.
Result<std::vector<uint8_t>> read_plain(const std::string& path, const wal::WalFileInfo& info,
                                        crypto::AesMode mode, const crypto::MasterKey* key) {
  std::optional<crypto::AesGcmDecryptor> decryptor;
  std::optional<compress::Decompressor> decompressor;
  if (info.encrypted) {
    PGM_ASSIGN_OR_RETURN(crypto::AesGcmDecryptor d, crypto::AesGcmDecryptor::create(*key, mode));
    decryptor.emplace(std::move(d));
  }
  if (info.compression != compress::Algorithm::kNone) {
    PGM_ASSIGN_OR_RETURN(compress::Decompressor d,
                         compress::Decompressor::create(info.compression));
    decompressor.emplace(std::move(d));
  }
  std::vector<uint8_t> plain;
  std::vector<uint8_t> decrypted;
  auto to_plain = [&](std::span<const uint8_t> bytes) -> Result<void> {
    plain.insert(plain.end(), bytes.begin(), bytes.end());
    return {};
  };
  auto decompress = [&](std::span<const uint8_t> bytes) -> Result<void> {
    return decompressor ? decompressor->update(bytes, to_plain) : to_plain(bytes);
  };
  PGM_ASSIGN_OR_RETURN(std::string stored, io::read_file(path));
  const std::span<const uint8_t> stored_bytes(reinterpret_cast<const uint8_t*>(stored.data()),
                                              stored.size());
  if (decryptor) {
    PGM_TRY(decryptor->update(stored_bytes, decrypted));
    PGM_TRY(decryptor->finish(decrypted));
    PGM_TRY(decompress(decrypted));
  } else {
    PGM_TRY(decompress(stored_bytes));
  }
  if (decompressor) {
    PGM_TRY(decompressor->finish(to_plain));
  }
  return plain;
}

Result<std::string> real_path(const std::string& path) {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) {
    return make_errno_error(fmt::format("resolve {}", path), errno);
  }
  return std::string(resolved);
}

Result<void> write_segment(const std::string& dir, const SegmentWindow::Segment& segment) {
  const std::string path = dir + "/" + segment.name;
  PGM_ASSIGN_OR_RETURN(io::AtomicFile file, io::AtomicFile::create(path, 0600));
  PGM_TRY(file.write(
      std::string_view(reinterpret_cast<const char*>(segment.bytes.data()), segment.bytes.size())));
  return file.commit();
}

class Filter {
 public:
  Filter(const FilterConfig& config, FilterReport& report) : config_(config), report_(report) {}

  // Decodes the next file of the stream (`continues`: it follows the previous one).
  Result<void> add(const std::string& name, std::vector<uint8_t> bytes, bool continues) {
    if (!continues) {
      PGM_TRY(end_stream());
    }
    if (!decoder_) {
      decoder_ = std::make_unique<xlog::Decoder>();
      window_.reset();
    }
    if (!window_) {
      // The page size is in the long header the window checks for; read it here the same way.
      uint32_t page_size = 0;
      if (bytes.size() >= xlog::kLongPageHeaderSize) {
        std::memcpy(&page_size, bytes.data() + 36, 4);
      }
      if (page_size == 0 || page_size % 512 != 0) {
        return make_error(ErrorCode::kCorruption, fmt::format("{}: no valid page size", name));
      }
      window_ = std::make_unique<SegmentWindow>(page_size);
    }
    std::vector<uint8_t> copy = bytes;  // the window's copy is rewritten, the decoder reads this
    PGM_TRY(window_->add(name, std::move(copy)));
    decoder_->set_file_name(name);
    PGM_TRY(decoder_->feed(bytes, [this](const xlog::Record& r) { return take(r); }));
    // Records not yet complete start at or after end_lsn: the segments before it are done.
    return write(window_->take_before(decoder_->end_lsn()));
  }

  Result<void> end_stream() {
    if (!decoder_) {
      return {};
    }
    if (auto finished = decoder_->finish(); !finished) {
      // The last record continues in a file that is not there: written unchanged.
      log::warn("{}", finished.error().message());
    }
    report_.records += decoder_->records_decoded();
    decoder_.reset();
    auto rest = window_->take_before(std::nullopt);
    window_.reset();
    return write(rest);
  }

 private:
  bool filtered(uint32_t xid) const {
    return config_.xids.count(xid) != 0 || deleting_.count(xid) != 0;
  }

  Result<void> take(const xlog::Record& record) {
    if (config_.delete_operations && is_user_delete(record)) {
      deleting_.insert(record.toplevel_xid.value_or(record.xid));
      deleting_.insert(record.xid);
    }
    PGM_ASSIGN_OR_RETURN(std::optional<CommitInfo> commit, parse_commit(record));
    if (!commit) {
      return {};
    }
    bool hit = filtered(commit->xid);
    for (uint32_t sub : commit->subxacts) {
      hit = hit || filtered(sub);
    }
    if (!hit) {
      return {};
    }
    PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> abort, abort_in_place_of(record, *commit));
    PGM_TRY(window_->overwrite(record.lsn, record.bytes, abort));
    log::info("xid {}: commit at {:X}/{:X} rewritten as abort", commit->xid, record.lsn.high(),
              record.lsn.low());
    report_.aborted.insert(commit->xid);
    report_.aborted.insert(commit->subxacts.begin(), commit->subxacts.end());
    return {};
  }

  Result<void> write(const std::vector<SegmentWindow::Segment>& segments) {
    for (const SegmentWindow::Segment& segment : segments) {
      PGM_TRY(write_segment(config_.target_dir, segment));
      ++report_.segments;
    }
    return {};
  }

  const FilterConfig& config_;
  FilterReport& report_;
  std::unique_ptr<xlog::Decoder> decoder_;
  std::unique_ptr<SegmentWindow> window_;
  std::set<uint32_t> deleting_;  // transactions with a heap DELETE
};

}  // namespace

Result<FilterReport> filter_directory(const FilterConfig& config, crypto::AesMode mode,
                                      const std::function<Result<crypto::MasterKey>()>& load_key) {
  PGM_ASSIGN_OR_RETURN(std::string source, real_path(config.source_dir));
  PGM_TRY(io::make_directories(config.target_dir, 0700));
  PGM_ASSIGN_OR_RETURN(std::string target, real_path(config.target_dir));
  if (source == target) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("target_dir {} is source_dir: the source is never modified",
                                  config.target_dir));
  }
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> names, io::list_directory(source));
  std::vector<SourceFile> files;
  for (const std::string& name : names) {
    wal::WalFileInfo info = wal::classify_wal_file(name);
    if (info.kind == wal::WalFileKind::kSegment || info.kind == wal::WalFileKind::kPartial) {
      files.push_back({fmt::format("{}/{}", source, name), std::move(info)});
    }
  }
  // A complete segment sorts before the .partial of the same segment, which is then skipped
  // (the receiver renames the .partial once the segment is complete).
  auto is_partial = [](const SourceFile& f) { return f.info.kind == wal::WalFileKind::kPartial; };
  std::stable_sort(files.begin(), files.end(), [&](const SourceFile& a, const SourceFile& b) {
    return a.info.base != b.info.base ? a.info.base < b.info.base : !is_partial(a) && is_partial(b);
  });
  std::vector<SourceFile> chosen;
  for (SourceFile& file : files) {
    if (!chosen.empty() && chosen.back().info.base == file.info.base) {
      if (is_partial(file)) {
        log::debug("{}: skipped, the complete segment is there", file.path);
        continue;
      }
      return make_error(ErrorCode::kInvalidArgument, fmt::format("{} and {} hold the same segment",
                                                                 chosen.back().path, file.path));
    }
    chosen.push_back(std::move(file));
  }
  files = std::move(chosen);
  if (files.empty()) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("source_dir {}: no WAL segment files", config.source_dir));
  }

  FilterReport report;
  Filter filter(config, report);
  std::optional<crypto::MasterKey> key;
  std::optional<std::pair<uint32_t, uint64_t>> previous;  // timeline, segment number
  for (const SourceFile& file : files) {
    if (file.info.encrypted && !key) {
      PGM_ASSIGN_OR_RETURN(crypto::MasterKey loaded, load_key());
      key.emplace(std::move(loaded));
    }
    PGM_ASSIGN_OR_RETURN(std::vector<uint8_t> plain,
                         read_plain(file.path, file.info, mode, key ? &*key : nullptr)
                             .map_error([&](const Error& e) { return e.with_context(file.path); }));
    // The name gives the position: <timeline 8 hex><segment number high 8><low 8>.
    const auto tli = static_cast<uint32_t>(std::stoul(file.info.base.substr(0, 8), nullptr, 16));
    const uint64_t segno = std::stoull(file.info.base.substr(8, 8), nullptr, 16) * 0x100000000ull +
                           std::stoull(file.info.base.substr(16, 8), nullptr, 16);
    const bool continues = previous && previous->first == tli && previous->second + 1 == segno;
    const std::string out_name =
        file.info.kind == wal::WalFileKind::kPartial ? file.info.base + ".partial" : file.info.base;
    PGM_TRY(filter.add(out_name, std::move(plain), continues));
    previous = {tli, segno};
  }
  PGM_TRY(filter.end_stream());
  for (uint32_t xid : config.xids) {
    if (report.aborted.count(xid) == 0) {
      report.not_found.insert(xid);
    }
  }
  return report;
}

int run(int argc, char** argv, std::ostream& out, std::ostream& err) {
  std::string yaml_path;
  bool version = false;
  CLI::App app{"Command line utility to filter Write-Ahead Log (WAL) files based on rules",
               std::string(kProgram)};
  app.set_help_flag("-?,-h,--help", "Display help");
  app.add_flag("-V,--version", version, "Display version information");
  app.add_option("config", yaml_path, "<yaml_config_file>");
  app.footer("pgmoneta: https://pgmoneta.github.io/");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      out << app.help();
      return 0;
    }
    err << kProgram << ": " << e.what() << " (see " << kProgram << " --help)\n";
    return 2;
  }
  if (version) {
    out << kProgram << " " << kVersion << "\n";
    return 0;
  }
  if (yaml_path.empty()) {
    err << kProgram << ": the YAML configuration file is required (see " << kProgram
        << " --help)\n";
    return 2;
  }
  auto fail = [&](const Error& e) {
    err << kProgram << ": " << e.message() << "\n";
    return 1;
  };
  auto config = load_filter_config(yaml_path);
  if (!config) {
    return fail(config.error());
  }
  Settings settings;
  const std::string settings_path = config->configuration_file.empty()
                                        ? std::string(kDefaultSettingsPath)
                                        : config->configuration_file;
  if (auto loaded = load_settings(settings_path); loaded) {
    settings = *loaded;
  } else if (loaded.error().code() != ErrorCode::kNotFound || !config->configuration_file.empty()) {
    return fail(loaded.error());
  }
  log::Options log_options;
  log_options.type = settings.log_type;
  log_options.level = settings.log_level;
  log_options.path = settings.log_path;
  log_options.ident = std::string(kProgram);
  if (auto configured = log::configure(log_options); !configured) {
    return fail(configured.error());
  }
  auto report =
      filter_directory(*config, settings.encryption, [] { return crypto::load_master_key(); });
  if (!report) {
    log::error("{}", report.error().message());
    return fail(report.error());
  }
  for (uint32_t xid : report->not_found) {
    log::warn("xid {}: no commit of it in {}", xid, config->source_dir);
  }
  out << fmt::format("{} segment(s) written to {}, {} transaction(s) filtered", report->segments,
                     config->target_dir, report->aborted.size());
  if (!report->aborted.empty()) {
    out << fmt::format(" (xids {})", fmt::join(report->aborted, ", "));
  }
  out << "\n";
  return 0;
}

}  // namespace pgm::walfilter
