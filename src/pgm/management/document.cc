#include "pgm/management/document.h"

#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>

#include "pgm/version.h"

namespace pgm::management {

using nlohmann::json;

std::string format_timestamp(std::time_t t) {
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  size_t n = std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm);
  return std::string(buf, n);
}

std::string format_elapsed(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    seconds = 0;
  }
  auto whole = static_cast<int64_t>(seconds);
  int64_t hours = whole / 3600;
  int64_t minutes = (whole % 3600) / 60;
  double sec = static_cast<double>(whole % 60) + (seconds - static_cast<double>(whole));
  return fmt::format("{:02}:{:02}:{:.4f}", hours, minutes, sec);
}

json make_request(Command command, json request, OutputFormat output,
                  compress::Algorithm compression, crypto::AesMode encryption, std::time_t now) {
  json header = json::object();
  header[key::kCommand] = static_cast<int32_t>(command);
  header[key::kClientVersion] = kVersion;
  header[key::kOutput] = static_cast<uint8_t>(output);
  header[key::kTimestamp] = format_timestamp(now);
  header[key::kCompression] = static_cast<uint8_t>(compression);
  header[key::kEncryption] = static_cast<uint8_t>(encryption);
  json doc = json::object();
  doc[key::kHeader] = std::move(header);
  doc[key::kRequest] = request.is_object() ? std::move(request) : json::object();
  return doc;
}

json make_request(Command command, json request, OutputFormat output,
                  compress::Algorithm compression, crypto::AesMode encryption) {
  return make_request(command, std::move(request), output, compression, encryption,
                      std::time(nullptr));
}

json make_success(const json& request_doc, json response, double elapsed_seconds) {
  json doc = request_doc.is_object() ? request_doc : json::object();
  json outcome = json::object();
  outcome[key::kStatus] = true;
  outcome[key::kTime] = format_elapsed(elapsed_seconds);
  doc[key::kOutcome] = std::move(outcome);
  if (!response.is_object()) {
    response = json::object();
  }
  response[key::kServerVersion] = kVersion;
  doc[key::kResponse] = std::move(response);
  return doc;
}

json make_failure(const json& request_doc, int32_t error, std::string workflow,
                  std::vector<std::string> worker_errors, std::string message) {
  json doc = request_doc.is_object() ? request_doc : json::object();
  json outcome = json::object();
  outcome[key::kStatus] = false;
  outcome[key::kError] = error;
  outcome[key::kWorkflow] = workflow.empty() ? std::string("main") : std::move(workflow);
  if (!worker_errors.empty()) {
    outcome[key::kWorkerErrors] = std::move(worker_errors);
  }
  if (!message.empty()) {
    outcome[key::kMessage] = std::move(message);
  }
  doc[key::kOutcome] = std::move(outcome);
  json response = json::object();
  response[key::kServerVersion] = kVersion;
  auto req = doc.find(key::kRequest);
  if (req != doc.end() && req->is_object()) {
    auto server = req->find(key::kServer);
    if (server != req->end() && server->is_string()) {
      response[key::kServer] = *server;
    }
  }
  doc[key::kResponse] = std::move(response);
  return doc;
}

Result<RequestView> parse_request(const json& doc) {
  if (!doc.is_object()) {
    return make_error(ErrorCode::kProtocol, "request document is not a JSON object");
  }
  auto header = doc.find(key::kHeader);
  if (header == doc.end()) {
    return make_error(ErrorCode::kProtocol, "request has no Header");
  }
  if (!header->is_object()) {
    return make_error(ErrorCode::kProtocol, "request Header is not an object");
  }
  auto command = header->find(key::kCommand);
  if (command == header->end()) {
    return make_error(ErrorCode::kProtocol, "request Header has no Command");
  }
  if (!command->is_number_integer()) {
    return make_error(ErrorCode::kProtocol, "request Header.Command is not an integer");
  }
  RequestView view;
  if (command->is_number_unsigned()) {
    auto v = command->get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max())) {
      return make_error(ErrorCode::kProtocol, "request Header.Command is out of range");
    }
    view.command = static_cast<int32_t>(v);
  } else {
    auto v = command->get<int64_t>();
    if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) {
      return make_error(ErrorCode::kProtocol, "request Header.Command is out of range");
    }
    view.command = static_cast<int32_t>(v);
  }
  view.header = *header;
  auto output = header->find(key::kOutput);
  if (output != header->end() && output->is_number_integer()) {
    auto v = output->get<int64_t>();
    if (v == 1) {
      view.output = OutputFormat::kJson;
    } else if (v == 2) {
      view.output = OutputFormat::kRaw;
    }
  }
  auto request = doc.find(key::kRequest);
  if (request == doc.end() || request->is_null()) {
    view.request = json::object();
  } else if (!request->is_object()) {
    return make_error(ErrorCode::kProtocol, "request Request is not an object");
  } else {
    view.request = *request;
  }
  return view;
}

}  // namespace pgm::management
