#include "pgm/core/result.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace pgm {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kIo:
      return "io";
    case ErrorCode::kNotFound:
      return "not found";
    case ErrorCode::kCorruption:
      return "corruption";
    case ErrorCode::kProtocol:
      return "protocol";
    case ErrorCode::kServer:
      return "server";
    case ErrorCode::kConfig:
      return "config";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kCancelled:
      return "cancelled";
    case ErrorCode::kPermission:
      return "permission";
    case ErrorCode::kInvalidArgument:
      return "invalid argument";
    case ErrorCode::kUnavailable:
      return "unavailable";
    case ErrorCode::kInternal:
      return "internal";
  }
  return "unknown";
}

Error Error::with_context(std::string_view context) const {
  std::string message(context);
  message += ": ";
  message += message_;
  return Error(code_, std::move(message), sqlstate_);
}

Error errno_error(std::string_view what, int errnum) {
  ErrorCode code = ErrorCode::kIo;
  if (errnum == ENOENT) {
    code = ErrorCode::kNotFound;
  } else if (errnum == EACCES || errnum == EPERM) {
    code = ErrorCode::kPermission;
  }
  std::string message(what);
  message += ": ";
  message += std::strerror(
      errnum);  // NOLINT(concurrency-mt-unsafe): glibc returns static strings for known errnos
  return Error(code, std::move(message));
}

void check_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "PGM_CHECK failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace pgm
