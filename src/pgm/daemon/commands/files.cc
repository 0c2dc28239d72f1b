// Management commands on one file (encrypt, decrypt, compress, decompress): Request
// SourceFile (an absolute path), Response SourceFile and DestinationFile. They run in a
// forked child (they block on the disk) and transform the file in place as
// backup/file_verbs.h describes. Error codes (management/errors.h): 14xx decrypt, 15xx
// encrypt, 16xx-19xx the algorithm's family for compress/decompress (+0 no file, +3 error),
// 2001 unknown suffix for decompress, 2101 unknown algorithm for compress.
#include <optional>
#include <string>

#include <fmt/format.h>

#include "pgm/backup/file_verbs.h"
#include "pgm/compress/codec.h"
#include "pgm/daemon/commands/handlers.h"
#include "pgm/log/log.h"
#include "pgm/management/errors.h"
#include "pgm/management/protocol.h"

namespace pgm::daemon {

namespace mgmt = pgm::management;
using nlohmann::json;

namespace {

// The error family of a file verb: compress and decompress report in the algorithm's family.
using Codes = mgmt::Family;

Codes codes_of(compress::Algorithm a) {
  switch (a) {
    case compress::Algorithm::kGzip:
      return mgmt::Family::kGzip;
    case compress::Algorithm::kLz4:
      return mgmt::Family::kLz4;
    case compress::Algorithm::kBzip2:
      return mgmt::Family::kBzip2;
    case compress::Algorithm::kZstd:
    case compress::Algorithm::kNone:
      break;
  }
  return mgmt::Family::kZstd;
}

// SourceFile of the request, or the failure to answer.
struct Source {
  std::string path;
  std::optional<CommandResult> failure;
};

Source source_of(const json& request, const Codes& codes, const std::string& workflow) {
  Source s;
  s.path = string_arg(request, mgmt::key::kSourceFile);
  if (s.path.empty()) {
    s.failure = CommandResult::failure(codes, mgmt::Failure::kNoFile,
                                       "the request has no SourceFile", workflow);
  } else if (s.path.front() != '/') {
    s.failure = CommandResult::failure(
        codes, mgmt::Failure::kNoFile,
        fmt::format("SourceFile '{}' is not an absolute path (the daemon does not share the "
                    "client's working directory)",
                    s.path),
        workflow);
  }
  return s;
}

CommandResult answer(const Result<std::string>& done, const std::string& source, const Codes& codes,
                     const std::string& workflow) {
  if (!done) {
    mgmt::Failure failure = done.error().code() == ErrorCode::kNotFound ? mgmt::Failure::kNoFile
                                                                        : mgmt::Failure::kError;
    log::warn("{}: {}", workflow, done.error().message());
    return CommandResult::failure(codes, failure, done.error().message(), workflow);
  }
  log::info("{}: {} -> {}", workflow, source, *done);
  json r;
  r[mgmt::key::kSourceFile] = source;
  r[mgmt::key::kDestinationFile] = *done;
  return CommandResult::success(r);
}

crypto::AesMode mode_of(const DaemonContext& ctx) {
  return ctx.config->encryption == crypto::AesMode::kNone ? crypto::AesMode::kAes256Gcm
                                                          : ctx.config->encryption;
}

}  // namespace

CommandResult commands::encrypt(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  const Codes codes = mgmt::Family::kEncrypt;
  Source s = source_of(request, codes, "encrypt");
  if (s.failure) {
    return *s.failure;
  }
  if (!ctx.master_key) {
    return CommandResult::failure(
        codes, mgmt::Failure::kError,
        "there is no master key (create one with pgmoneta-admin master-key)", "encrypt");
  }
  return answer(backup::encrypt_file(s.path, *ctx.master_key, mode_of(ctx)), s.path, codes,
                "encrypt");
}

CommandResult commands::decrypt(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  const Codes codes = mgmt::Family::kDecrypt;
  Source s = source_of(request, codes, "decrypt");
  if (s.failure) {
    return *s.failure;
  }
  if (!ctx.master_key) {
    return CommandResult::failure(
        codes, mgmt::Failure::kError,
        "there is no master key (create one with pgmoneta-admin master-key)", "decrypt");
  }
  return answer(backup::decrypt_file(s.path, *ctx.master_key, mode_of(ctx)), s.path, codes,
                "decrypt");
}

CommandResult commands::compress(const Call& call) {
  const DaemonContext& ctx = call.ctx;
  const json& request = call.request;
  compress::Algorithm a = ctx.config->compression.algorithm;
  if (a == compress::Algorithm::kNone) {
    a = compress::Algorithm::kZstd;
  }
  if (compress::file_suffix(a).empty()) {
    return CommandResult::failure(mgmt::Family::kCompress, mgmt::Failure::kUnknownFormat,
                                  "the configured compression algorithm is unknown", "compress");
  }
  Codes codes = codes_of(a);
  Source s = source_of(request, codes, "compress");
  if (s.failure) {
    return *s.failure;
  }
  return answer(backup::compress_file(s.path, a, ctx.config->compression_level), s.path, codes,
                "compress");
}

CommandResult commands::decompress(const Call& call) {
  const json& request = call.request;
  std::string path = string_arg(request, mgmt::key::kSourceFile);
  auto a = backup::compression_of_suffix(path);
  if (!path.empty() && !a) {
    return CommandResult::failure(
        mgmt::Family::kDecompress, mgmt::Failure::kUnknownFormat,
        fmt::format("{}: unknown compression suffix (expected .gz, .zstd, .zst, .lz4 or .bz2)",
                    path),
        "decompress");
  }
  Codes codes = codes_of(a.value_or(compress::Algorithm::kZstd));
  Source s = source_of(request, codes, "decompress");
  if (s.failure) {
    return *s.failure;
  }
  return answer(backup::decompress_file(s.path), s.path, codes, "decompress");
}

}  // namespace pgm::daemon
