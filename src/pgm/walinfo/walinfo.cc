#include "pgm/walinfo/walinfo.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>

#include <fmt/format.h>

#include "pgm/crypto/vault.h"
#include "pgm/io/file.h"
#include "pgm/io/file_system.h"
#include "pgm/log/log.h"
#include "pgm/wal/segment.h"
#include "pgm/walinfo/filter.h"
#include "pgm/walinfo/live_mapping.h"
#include "pgm/walinfo/mapping.h"
#include "pgm/walinfo/output.h"
#include "pgm/walinfo/settings.h"
#include "pgm/walinfo/summary.h"
#include "pgm/xlog/decoder.h"
#include "pgm/xlog/rmgr.h"
#include "pgm/xlog/stored_segment.h"

namespace pgm::walinfo {

namespace {

constexpr std::string_view kProgram = "pgmoneta-walinfo";
constexpr std::string_view kEnough = "enough records";

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Reads `path` in 64 kB chunks; `consume` gets each with its offset. I/O errors name the path.
Result<void> read_chunks(const std::string& path,
                         const std::function<Result<void>(std::span<const uint8_t>)>& consume) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return make_errno_error(fmt::format("open {}", path), errno);
  }
  std::vector<char> buffer(size_t{1} << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto got = static_cast<size_t>(in.gcount());
    if (got == 0) {
      break;
    }
    PGM_TRY(consume({reinterpret_cast<const uint8_t*>(buffer.data()), got}));
  }
  if (in.bad()) {
    return make_error(ErrorCode::kIo, fmt::format("read {}: I/O error", path));
  }
  return {};
}

// The length of a .partial segment that was written: up to the end of the last page holding
// a non-zero byte (the receiver writes at exact offsets into a file of full segment size, the
// rest stays zero).
Result<uint64_t> written_length(const std::string& path) {
  constexpr uint64_t kPage = 8192;
  uint64_t offset = 0;
  uint64_t last_nonzero = 0;
  PGM_TRY(read_chunks(path, [&](std::span<const uint8_t> bytes) -> Result<void> {
    for (size_t i = bytes.size(); i > 0; --i) {
      if (bytes[i - 1] != 0) {
        last_nonzero = offset + i;
        break;
      }
    }
    offset += bytes.size();
    return {};
  }));
  return (last_nonzero + kPage - 1) / kPage * kPage;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return io::posix_file_system().stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

// Decodes streams of segments, hands each record through the filter to the printer or the
// summary, and stops once the limit or the end LSN is reached.
class Dumper {
 public:
  Dumper(const RecordFilter& filter, RecordPrinter* printer, Summary* summary, uint64_t limit,
         crypto::AesMode mode, const std::function<Result<crypto::MasterKey>()>& load_key)
      : filter_(filter),
        printer_(printer),
        summary_(summary),
        limit_(limit),
        mode_(mode),
        load_key_(load_key) {}

  // Reads the files in order; consecutive segments share one decoder.
  Result<void> read_files(const std::vector<std::string>& paths) {
    std::optional<wal::SegmentId> last;
    for (const std::string& path : paths) {
      const wal::WalFileInfo info = wal::classify_wal_file(base_name(path));
      if (decoder_ && decoder_->segment_size() != 0) {
        auto id = wal::parse_segment_name(info.base, decoder_->segment_size());
        if (!id || !last || id->tli != last->tli || id->segno != last->segno + 1) {
          PGM_TRY(close_stream());
        }
      }
      if (!decoder_) {
        decoder_ = std::make_unique<xlog::Decoder>();
      }
      partial_end_ = false;
      const crypto::MasterKey* key = nullptr;
      if (info.encrypted) {
        PGM_ASSIGN_OR_RETURN(key, master_key(path));
      }
      auto read = info.kind == wal::WalFileKind::kPartial
                      ? read_partial(path)
                      : xlog::decode_stored_file(io::posix_file_system(), path, mode_, key,
                                                 *decoder_, sink());
      if (stopped_) {
        return {};
      }
      PGM_TRY(read);
      ++files_;
      last = decoder_->segment_size() != 0
                 ? wal::parse_segment_name(info.base, decoder_->segment_size())
                       .map([](wal::SegmentId id) { return std::optional(id); })
                       .value_or(std::nullopt)
                 : std::nullopt;
    }
    return close_stream();
  }

  Result<void> read_tar(const std::string& path) {
    const crypto::MasterKey* key = nullptr;
    if (auto loaded = master_key(path); loaded) {
      key = *loaded;  // without one, an .aes member fails naming itself
    }
    decoder_ = std::make_unique<xlog::Decoder>();
    auto read =
        xlog::decode_wal_in_tar(io::posix_file_system(), path, mode_, key, *decoder_, sink());
    if (stopped_) {
      return {};
    }
    PGM_TRY(read);
    ++files_;
    return close_stream();
  }

  uint64_t decoded() const { return decoded_; }
  uint64_t shown() const { return shown_; }
  uint64_t files() const { return files_; }
  const std::vector<std::string>& notes() const { return notes_; }

 private:
  // A .partial: only its written pages, so that its end is the end of the WAL, not a page of
  // zeros.
  Result<void> read_partial(const std::string& path) {
    PGM_ASSIGN_OR_RETURN(const uint64_t written, written_length(path));
    decoder_->set_file_name(base_name(path));
    uint64_t fed = 0;
    const xlog::RecordSink each = sink();
    PGM_TRY(read_chunks(path, [&](std::span<const uint8_t> bytes) -> Result<void> {
      const uint64_t take = std::min<uint64_t>(bytes.size(), written - std::min(written, fed));
      fed += bytes.size();
      return take == 0 ? Result<void>() : decoder_->feed(bytes.first(take), each);
    }));
    partial_end_ = true;
    return {};
  }

  xlog::RecordSink sink() {
    return [this](const xlog::Record& record) { return take(record); };
  }

  Result<void> take(const xlog::Record& record) {
    ++decoded_;
    if (filter_.past_end(record.lsn)) {
      return stop();
    }
    // The description is worded only when it is printed or searched for relations.
    const bool need_description = summary_ == nullptr || !filter_.objects.empty();
    const std::string description =
        need_description ? xlog::describe(record, decoder_->major()) : std::string();
    if (!filter_.matches(record, description)) {
      return {};
    }
    if (summary_ != nullptr) {
      summary_->add(record);
    } else if (printer_ != nullptr) {
      printer_->print(record, description);
    }
    ++shown_;
    if (limit_ != 0 && shown_ >= limit_) {
      return stop();
    }
    return {};
  }

  Result<void> stop() {
    stopped_ = true;
    return make_error(ErrorCode::kCancelled, std::string(kEnough));
  }

  // Ends the current stream. A record cut at a segment boundary continues in a segment not
  // given: a note, not an error. Cut anywhere else, the input is truncated.
  Result<void> close_stream() {
    if (!decoder_) {
      return {};
    }
    std::unique_ptr<xlog::Decoder> decoder = std::move(decoder_);
    const bool partial_end = partial_end_;
    partial_end_ = false;
    auto finished = decoder->finish();
    if (finished) {
      return {};
    }
    if (partial_end) {
      notes_.push_back(fmt::format("the WAL written so far ends after {}: {}",
                                   decoder->end_lsn().to_string(), finished.error().message()));
      return {};
    }
    const uint32_t segment_size = decoder->segment_size();
    if (segment_size != 0 && decoder->bytes_fed() % segment_size == 0) {
      notes_.push_back(fmt::format("the record after {} continues in a segment not given",
                                   decoder->end_lsn().to_string()));
      return {};
    }
    return finished;
  }

  Result<const crypto::MasterKey*> master_key(const std::string& path) {
    if (!key_) {
      auto key = load_key_ ? load_key_()
                           : Result<crypto::MasterKey>(
                                 make_error(ErrorCode::kUnavailable, "no master key available"));
      if (!key) {
        return tl::unexpected<Error>(
            key.error().with_context(fmt::format("{}: encrypted; master key", path)));
      }
      key_ = std::move(*key);
    }
    return &*key_;
  }

  const RecordFilter& filter_;
  RecordPrinter* printer_;
  Summary* summary_;
  uint64_t limit_;
  crypto::AesMode mode_;
  const std::function<Result<crypto::MasterKey>()>& load_key_;
  std::optional<crypto::MasterKey> key_;
  std::unique_ptr<xlog::Decoder> decoder_;
  bool stopped_ = false;
  bool partial_end_ = false;  // the stream's last file is a .partial
  uint64_t decoded_ = 0;
  uint64_t shown_ = 0;
  uint64_t files_ = 0;
  std::vector<std::string> notes_;
};

int fail(std::ostream& err, const std::string& message) {
  err << kProgram << ": " << message << "\n";
  if (log::options().type != log::Type::kConsole) {
    log::error("{}", message);
  }
  return kExitFailure;
}

Result<Settings> settings_for(const Options& options) {
  if (options.config) {
    return load_settings(*options.config);
  }
  auto settings = load_settings(std::string(kDefaultConfigPath));
  if (!settings && settings.error().code() == ErrorCode::kNotFound) {
    return Settings{};
  }
  return settings;
}

Result<void> configure_logging(const Options& options, const Settings& settings) {
  log::Options log_options;
  log_options.type = settings.log_type;
  log_options.level = settings.log_level;
  log_options.path = settings.log_path;
  log_options.ident = std::string(kProgram);
  if (options.logfile) {
    log_options.type = log::Type::kFile;
    log_options.path = *options.logfile;
  }
  return log::configure(log_options);
}

}  // namespace

Context process_context() {
  Context context;
  context.load_master_key = [] { return crypto::load_master_key(); };
  context.stdout_is_terminal = isatty(STDOUT_FILENO) == 1;
  return context;
}

Result<std::vector<std::string>> wal_files_in(const std::string& dir) {
  PGM_ASSIGN_OR_RETURN(std::vector<std::string> names, io::list_directory(dir));
  std::map<std::string, std::string> complete;  // segment name -> file name (first form)
  std::map<std::string, std::string> partial;
  for (const std::string& name : names) {
    const wal::WalFileInfo info = wal::classify_wal_file(name);
    if (info.kind == wal::WalFileKind::kSegment) {
      complete.emplace(info.base, name);
    } else if (info.kind == wal::WalFileKind::kPartial) {
      partial.emplace(info.base, name);
    }
  }
  for (const auto& [segment, name] : partial) {
    complete.emplace(segment, name);  // only when the complete segment is absent
  }
  std::vector<std::string> paths;
  paths.reserve(complete.size());
  for (const auto& [segment, name] : complete) {
    std::string path = dir;
    path.append("/").append(name);
    paths.push_back(std::move(path));
  }
  return paths;
}

int run(const Options& options, const Context& context, std::ostream& out, std::ostream& err) {
  if (options.rmgrs.size() == 1 && options.rmgrs.front() == "list") {
    for (const std::string& name : rmgr_names()) {
      out << name << "\n";
    }
    return 0;
  }
  auto settings = settings_for(options);
  if (!settings) {
    return fail(err, settings.error().message());
  }
  if (auto logging = configure_logging(options, *settings); !logging) {
    return fail(err, logging.error().message());
  }

  // The users file is encrypted with the master key: check both now rather than later. Its
  // passwords are those -t uses to read names from a server.
  std::vector<crypto::VaultEntry> users;
  if (options.users) {
    auto key = context.load_master_key ? context.load_master_key()
                                       : Result<crypto::MasterKey>(make_error(
                                             ErrorCode::kUnavailable, "no master key available"));
    if (!key) {
      return fail(err, key.error().with_context(*options.users).message());
    }
    auto loaded = crypto::load_vault(*options.users, *key);
    if (!loaded) {
      return fail(err, loaded.error().message());
    }
    users = std::move(*loaded);
  }

  std::optional<OidMapping> mapping;
  if (options.mapping) {
    auto loaded = OidMapping::load(*options.mapping);
    if (!loaded) {
      return fail(err, loaded.error().message());
    }
    mapping = std::move(*loaded);
  } else if (options.translate) {
    if (settings->servers.empty()) {
      return fail(err,
                  "-t needs a mapping file (-m) or a server section (host, port, user) in the "
                  "configuration file (-c)");
    }
    const ServerSection& server = settings->servers.front();
    std::string password;
    for (const crypto::VaultEntry& user : users) {
      if (user.name == server.user) {
        password = user.password;
      }
    }
    auto live = read_live_mapping(server, password);
    if (!live) {
      return fail(err, live.error().message());
    }
    if (options.verbose) {
      err << kProgram << ": " << live->size() << " names read from server [" << server.name
          << "]\n";
    }
    mapping = std::move(*live);
  }
  auto filter = make_filter(options, mapping ? &*mapping : nullptr);
  if (!filter) {
    return fail(err, filter.error().message());
  }

  std::vector<std::string> files;
  const bool tar = !is_directory(options.path) && xlog::wal_tar_layers(options.path).has_value();
  if (is_directory(options.path)) {
    auto listed = wal_files_in(options.path);
    if (!listed) {
      return fail(err, listed.error().message());
    }
    files = std::move(*listed);
  } else if (!tar) {
    files.push_back(options.path);
  }

  std::ofstream file_out;
  if (options.output) {
    file_out.open(*options.output, std::ios::binary | std::ios::trunc);
    if (!file_out) {
      return fail(err, fmt::format("{}: cannot open the output file", *options.output));
    }
  }
  std::ostream& sink = options.output ? file_out : out;
  const bool color =
      options.color == Color::kOn || (options.color == Color::kAuto && !options.output &&
                                      options.format == Format::kRaw && context.stdout_is_terminal);
  const OidMapping* translate = mapping ? &*mapping : nullptr;
  RecordPrinter printer(sink, options.format, color && options.format == Format::kRaw, translate);
  Summary summary;
  const bool print_records = !options.summary && !options.quiet;
  Dumper dumper(*filter, print_records ? &printer : nullptr, options.summary ? &summary : nullptr,
                options.limit, settings->encryption, context.load_master_key);

  if (print_records) {
    printer.begin();
  }
  auto done = tar ? dumper.read_tar(options.path) : dumper.read_files(files);
  if (print_records) {
    printer.end();
  }
  if (!done) {
    if (options.verbose) {
      err << kProgram << ": " << dumper.decoded() << " records decoded before the error\n";
    }
    return fail(err, done.error().message());
  }
  if (options.summary) {
    summary.render(sink, options.format);
    sink.flush();
  }
  if (options.output && !file_out) {
    return fail(err, fmt::format("{}: write failed", *options.output));
  }
  if (options.verbose) {
    for (const std::string& note : dumper.notes()) {
      err << kProgram << ": " << note << "\n";
    }
    err << kProgram << ": " << dumper.files() << " files, " << dumper.decoded()
        << " records decoded, " << dumper.shown() << " shown\n";
  }
  return 0;
}

}  // namespace pgm::walinfo
