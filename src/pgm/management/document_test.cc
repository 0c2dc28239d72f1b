#include "pgm/management/document.h"

#include <gtest/gtest.h>

#include "pgm/version.h"

namespace pgm::management {
namespace {

using nlohmann::json;

TEST(DocumentTest, MakeRequestHasPgmonetaHeader) {
  std::tm tm{};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 2;
  tm.tm_mday = 5;
  tm.tm_hour = 7;
  tm.tm_min = 8;
  tm.tm_sec = 9;
  tm.tm_isdst = -1;
  std::time_t t = std::mktime(&tm);
  json doc = make_request(Command::kBackup, json{{"Server", "primary"}}, OutputFormat::kJson,
                          compress::Algorithm::kZstd, crypto::AesMode::kAes256Gcm, t);
  json expected = {{"Header",
                    {{"ClientVersion", kVersion},
                     {"Command", 1},
                     {"Compression", 2},
                     {"Encryption", 1},
                     {"Output", 1},
                     {"Timestamp", "20240305070809"}}},
                   {"Request", {{"Server", "primary"}}}};
  EXPECT_EQ(doc, expected);
  // Keys come out sorted, as pgmoneta's tree prints them.
  EXPECT_EQ(doc.dump().substr(0, 27), R"({"Header":{"ClientVersion":)");
}

TEST(DocumentTest, MakeRequestReplacesNonObjectRequest) {
  json doc = make_request(Command::kPing, json(), OutputFormat::kText, compress::Algorithm::kNone,
                          crypto::AesMode::kNone);
  EXPECT_EQ(doc["Request"], json::object());
  EXPECT_EQ(doc["Header"]["Timestamp"].get<std::string>().size(), 14u);
}

TEST(DocumentTest, FormatElapsedMatchesPgmoneta) {
  EXPECT_EQ(format_elapsed(0), "00:00:0.0000");
  EXPECT_EQ(format_elapsed(0.00123), "00:00:0.0012");
  EXPECT_EQ(format_elapsed(3723.5), "01:02:3.5000");
  EXPECT_EQ(format_elapsed(59.25), "00:00:59.2500");
  EXPECT_EQ(format_elapsed(-1), "00:00:0.0000");
}

TEST(DocumentTest, MakeSuccessEchoesAndAddsOutcome) {
  json req = make_request(Command::kPing, json::object(), OutputFormat::kText,
                          compress::Algorithm::kNone, crypto::AesMode::kNone);
  json doc = make_success(req, json{{"Servers", 2}}, 0.5);
  EXPECT_EQ(doc["Header"], req["Header"]);
  EXPECT_EQ(doc["Request"], req["Request"]);
  EXPECT_EQ(doc["Outcome"], (json{{"Status", true}, {"Time", "00:00:0.5000"}}));
  EXPECT_EQ(doc["Response"], (json{{"ServerVersion", kVersion}, {"Servers", 2}}));
}

TEST(DocumentTest, MakeFailureCarriesErrorWorkflowAndMessage) {
  json req = make_request(Command::kBackup, json{{"Server", "primary"}}, OutputFormat::kText,
                          compress::Algorithm::kNone, crypto::AesMode::kNone);
  json doc = make_failure(req, kErrorBackupActive, "backup", {"worker 1: EIO"},
                          "another backup is running");
  EXPECT_EQ(doc["Outcome"], (json{{"Status", false},
                                  {"Error", 102},
                                  {"Workflow", "backup"},
                                  {"WorkerErrors", {"worker 1: EIO"}},
                                  {"Message", "another backup is running"}}));
  EXPECT_EQ(doc["Response"], (json{{"Server", "primary"}, {"ServerVersion", kVersion}}));
  json bare = make_failure(json(), kErrorBadPayload, "");
  EXPECT_EQ(bare["Outcome"], (json{{"Status", false}, {"Error", 1}, {"Workflow", "main"}}));
  EXPECT_FALSE(bare.contains("Header"));
}

TEST(DocumentTest, ParseRequestAcceptsValidDocuments) {
  json req = make_request(Command::kMode, json{{"Server", "a"}, {"Action", "offline"}},
                          OutputFormat::kRaw, compress::Algorithm::kNone, crypto::AesMode::kNone);
  auto v = parse_request(req);
  ASSERT_TRUE(v.has_value()) << v.error().message();
  EXPECT_EQ(v->command, 24);
  EXPECT_EQ(v->output, OutputFormat::kRaw);
  EXPECT_EQ(v->request["Action"], "offline");
  auto no_request = parse_request(json{{"Header", {{"Command", 9}}}});
  ASSERT_TRUE(no_request.has_value());
  EXPECT_EQ(no_request->request, json::object());
  auto unknown = parse_request(json{{"Header", {{"Command", 4242}}}});
  ASSERT_TRUE(unknown.has_value());
  EXPECT_EQ(unknown->command, 4242);
}

struct BadRequest {
  const char* name;
  json doc;
  const char* message_part;
};

class ParseRequestErrorTest : public ::testing::TestWithParam<BadRequest> {};

TEST_P(ParseRequestErrorTest, Rejects) {
  auto v = parse_request(GetParam().doc);
  ASSERT_FALSE(v.has_value());
  EXPECT_EQ(v.error().code(), ErrorCode::kProtocol);
  EXPECT_NE(v.error().message().find(GetParam().message_part), std::string::npos)
      << v.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, ParseRequestErrorTest,
    ::testing::Values(
        BadRequest{"NotObject", json::array(), "not a JSON object"},
        BadRequest{"NoHeader", json{{"Request", json::object()}}, "no Header"},
        BadRequest{"HeaderNotObject", json{{"Header", 3}}, "Header is not an object"},
        BadRequest{"NoCommand", json{{"Header", json::object()}}, "no Command"},
        BadRequest{"StringCommand", json{{"Header", {{"Command", "9"}}}}, "not an integer"},
        BadRequest{"FloatCommand", json{{"Header", {{"Command", 9.5}}}}, "not an integer"},
        BadRequest{"HugeCommand", json{{"Header", {{"Command", 1LL << 40}}}}, "out of range"},
        BadRequest{"RequestNotObject", json{{"Header", {{"Command", 9}}}, {"Request", "x"}},
                   "Request is not an object"}),
    [](const testing::TestParamInfo<BadRequest>& param_info) { return param_info.param.name; });

TEST(ProtocolTest, CommandNamesAndErrors) {
  EXPECT_EQ(command_name(Command::kStatusDetails), "status details");
  EXPECT_EQ(command_name(Command::kReset), "clear prometheus");
  EXPECT_EQ(command_name(static_cast<Command>(77)), "unknown");
  EXPECT_EQ(command_from_code(201), Command::kS3Restore);
  EXPECT_FALSE(command_from_code(0).has_value());
  EXPECT_EQ(kErrorConfSetUnknownKey, 2704);
  EXPECT_EQ(kErrorConfSetUnknownServer, 2705);
  EXPECT_EQ(error_description(102), "Backup: another operation is active on the server");
  EXPECT_EQ(error_description(699), "Restore: error 699");
  EXPECT_EQ(error_description(77), "Unknown error");
}

}  // namespace
}  // namespace pgm::management
