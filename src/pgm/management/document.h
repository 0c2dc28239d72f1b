// The management JSON document (reference §4.2): builders for requests (CLI) and responses
// (daemon), and validation of an incoming request. Pure functions, thread-safe.
//
//   request  = {Header: {Command, ClientVersion, Output, Timestamp, Compression, Encryption},
//               Request: {...}}
//   response = request echoed + Outcome + Response
//   Outcome  = {Status: true, Time: "HH:MM:S.ffff"}                        on success
//            = {Status: false, Error, Workflow, [WorkerErrors], [Message]} on failure
// nlohmann::json objects keep keys sorted, as pgmoneta's sorted tree does.
#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pgm/compress/codec.h"
#include "pgm/core/result.h"
#include "pgm/crypto/aes.h"
#include "pgm/management/protocol.h"

namespace pgm::management {

// A whole request document; Timestamp is the local time now ("YYYYMMDDHHMMSS") and
// ClientVersion our version. `request` must be an object (anything else becomes {}).
nlohmann::json make_request(Command command, nlohmann::json request, OutputFormat output,
                            compress::Algorithm compression, crypto::AesMode encryption);
// Same with an explicit timestamp, for tests.
nlohmann::json make_request(Command command, nlohmann::json request, OutputFormat output,
                            compress::Algorithm compression, crypto::AesMode encryption,
                            std::time_t now);

// request_doc echoed (a non-object becomes {}), plus Outcome {Status true, Time} and Response
// (`response`, a non-object becomes {}) with ServerVersion set to our version.
nlohmann::json make_success(const nlohmann::json& request_doc, nlohmann::json response,
                            double elapsed_seconds);

// request_doc echoed plus Outcome {Status false, Error, Workflow, WorkerErrors if any, Message
// if non-empty} and Response {ServerVersion, Server when the request named one}, as pgmoneta's
// pgmoneta_management_response_error() does.
nlohmann::json make_failure(const nlohmann::json& request_doc, int32_t error, std::string workflow,
                            std::vector<std::string> worker_errors = {}, std::string message = {});

// "YYYYMMDDHHMMSS" in local time.
std::string format_timestamp(std::time_t t);
// pgmoneta's elapsed format "%02d:%02d:%.4f": 0.00123 s -> "00:00:0.0012",
// 3723.5 s -> "01:02:3.5000". Negative or non-finite values count as 0.
std::string format_elapsed(double seconds);

// A validated view of a request document (copies, so it outlives the document).
struct RequestView {
  int32_t command = 0;
  nlohmann::json header;   // the Header object
  nlohmann::json request;  // the Request object ({} when missing)
  OutputFormat output = OutputFormat::kText;
};

// Checks: the document is an object, Header is an object, Header.Command is an integer that
// fits int32, Request (if present) is an object. Errors are kProtocol with a clear message.
// Unknown commands are not an error here: the dispatcher answers kErrorUnknownCommand.
Result<RequestView> parse_request(const nlohmann::json& doc);

}  // namespace pgm::management
