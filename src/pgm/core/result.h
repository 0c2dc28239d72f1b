// Result and Error: how fallible code reports failure. Thread-safe value types.
//
// Fallible functions return Result<T> (Result<void> for actions). An Error has
// a code and a message; callers add context on the way up with
// `err.with_context("backup b42")`, giving "backup b42: write base/1: No space left on device".
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include <tl/expected.hpp>

namespace pgm {

enum class ErrorCode {
  kIo,          // file system or socket failure
  kNotFound,    // a named thing does not exist
  kCorruption,  // stored data fails a check
  kProtocol,    // malformed bytes from a peer
  kServer,      // PostgreSQL reported an error (sqlstate set)
  kConfig,      // invalid configuration or argument
  kTimeout,     // a deadline passed
  kCancelled,   // stopped on request
  kPermission,  // ownership or mode refused
  kInvalidArgument,
  kUnavailable,  // not possible right now (busy, offline, not implemented)
  kInternal,     // a bug
};

const char* error_code_name(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message) : code_(code), message_(std::move(message)) {}
  Error(ErrorCode code, std::string message, std::string sqlstate)
      : code_(code), message_(std::move(message)), sqlstate_(std::move(sqlstate)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  // SQLSTATE for kServer errors, empty otherwise.
  const std::string& sqlstate() const { return sqlstate_; }

  // Returns a copy whose message is "<context>: <message>".
  Error with_context(std::string_view context) const;

 private:
  ErrorCode code_;
  std::string message_;
  std::string sqlstate_;
};

// tl::expected<T, Error> that the compiler refuses to see dropped: a call whose Result
// is ignored warns. Where ignoring is right (best-effort cleanup), spell it
// `.ignore_error()` with a comment saying why.
template <typename T>
class [[nodiscard]] Result : public tl::expected<T, Error> {
 public:
  using Base = tl::expected<T, Error>;
  using Base::Base;
  using Base::operator=;
  Result() = default;
  Result(const Base& other) : Base(other) {}        // NOLINT(google-explicit-constructor)
  Result(Base&& other) : Base(std::move(other)) {}  // NOLINT(google-explicit-constructor)

  // Drops the outcome on purpose; the caller comments why.
  void ignore_error() const noexcept {}
};

inline tl::unexpected<Error> make_error(ErrorCode code, std::string message) {
  return tl::unexpected<Error>(Error(code, std::move(message)));
}

// Builds an error from errno: "<what>: <strerror(errnum)>", code kIo
// (kNotFound for ENOENT, kPermission for EACCES/EPERM).
Error errno_error(std::string_view what, int errnum);
inline tl::unexpected<Error> make_errno_error(std::string_view what, int errnum) {
  return tl::unexpected<Error>(errno_error(what, errnum));
}

}  // namespace pgm

#define PGM_CONCAT_INNER(a, b) a##b
#define PGM_CONCAT(a, b) PGM_CONCAT_INNER(a, b)

// Evaluates a Result-returning expression; returns its error from the enclosing function.
#define PGM_TRY(expr)                                               \
  do {                                                              \
    auto pgm_try_result_ = (expr);                                  \
    if (!pgm_try_result_) {                                         \
      return tl::unexpected<::pgm::Error>(pgm_try_result_.error()); \
    }                                                               \
  } while (false)

#define PGM_ASSIGN_OR_RETURN_IMPL(tmp, var, expr)     \
  auto tmp = (expr);                                  \
  if (!tmp) {                                         \
    return tl::unexpected<::pgm::Error>(tmp.error()); \
  }                                                   \
  var = std::move(*tmp)

// `PGM_ASSIGN_OR_RETURN(auto x, f());` binds x to the value or returns the error.
#define PGM_ASSIGN_OR_RETURN(var, expr) \
  PGM_ASSIGN_OR_RETURN_IMPL(PGM_CONCAT(pgm_assign_result_, __LINE__), var, expr)

// For bugs only: aborts with file and line when cond is false.
#define PGM_CHECK(cond)                               \
  do {                                                \
    if (!(cond)) {                                    \
      ::pgm::check_failed(#cond, __FILE__, __LINE__); \
    }                                                 \
  } while (false)

namespace pgm {
[[noreturn]] void check_failed(const char* expr, const char* file, int line);
}  // namespace pgm
