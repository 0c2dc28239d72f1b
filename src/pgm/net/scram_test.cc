#include "pgm/net/scram.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pgm/crypto/base64.h"

namespace pgm::net {
namespace {

// RFC 7677 section 3.
constexpr std::string_view kClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
constexpr std::string_view kCombinedNonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

ScramServer rfc_server(std::string password = "pencil") {
  ScramServer s(std::move(password));
  s.set_nonce_for_testing(std::string(kServerNonce));
  s.set_salt_for_testing(*crypto::base64_decode(kSalt));
  return s;
}

TEST(ScramTest, ClientReproducesRfc7677Example) {
  ScramClient c("user", "pencil");
  c.set_nonce_for_testing(std::string(kClientNonce));
  EXPECT_EQ(c.client_first(), kClientFirst);
  auto final_message = c.handle_server_first(kServerFirst);
  ASSERT_TRUE(final_message) << final_message.error().message();
  EXPECT_EQ(*final_message, kClientFinal);
  EXPECT_TRUE(c.verify_server_final(kServerFinal));
}

TEST(ScramTest, ServerReproducesRfc7677Example) {
  ScramServer s = rfc_server();
  auto first = s.handle_client_first(kClientFirst);
  ASSERT_TRUE(first) << first.error().message();
  EXPECT_EQ(*first, kServerFirst);
  auto final_message = s.handle_client_final(kClientFinal);
  ASSERT_TRUE(final_message) << final_message.error().message();
  EXPECT_EQ(*final_message, kServerFinal);
}

TEST(ScramTest, ClientRejectsWrongServerSignature) {
  ScramClient c("user", "pencil");
  c.set_nonce_for_testing(std::string(kClientNonce));
  c.client_first();
  ASSERT_TRUE(c.handle_server_first(kServerFirst));
  auto r = c.verify_server_final("v=AAAATRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), ErrorCode::kPermission);
  ScramClient c2("user", "pencil");
  c2.set_nonce_for_testing(std::string(kClientNonce));
  c2.client_first();
  ASSERT_TRUE(c2.handle_server_first(kServerFirst));
  auto e = c2.verify_server_final("e=invalid-proof");
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().message().find("invalid-proof"), std::string::npos);
}

TEST(ScramTest, ClientRejectsBadServerFirst) {
  const std::vector<std::string> cases = {
      "r=otherNonce,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",            // does not extend our nonce
      "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",  // no server part
      "r=rOprNGfwEbeRWgbNEkqOxx,s=!!!!,i=4096",
      "r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
      "r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=99999999",
      "r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==",
      "m=x,r=rOprNGfwEbeRWgbNEkqOxx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
      "",
  };
  for (const std::string& m : cases) {
    ScramClient c("", "pencil");
    c.set_nonce_for_testing(std::string(kClientNonce));
    c.client_first();
    auto r = c.handle_server_first(m);
    ASSERT_FALSE(r) << m;
    EXPECT_EQ(r.error().code(), ErrorCode::kProtocol) << m;
  }
}

TEST(ScramTest, ClientOverTlsSendsYFlag) {
  ScramClient c("", "x", /*over_tls=*/true);
  EXPECT_EQ(c.client_first().substr(0, 8), "y,,n=,r=");
}

TEST(ScramTest, RoundTripWithRandomNoncesAndYFlag) {
  for (bool tls : {false, true}) {
    ScramClient c("", "s3cret", tls);
    ScramServer s("s3cret");
    auto first = s.handle_client_first(c.client_first());
    ASSERT_TRUE(first);
    EXPECT_EQ(s.salt().size(), kScramSaltLength);
    auto final_message = c.handle_server_first(*first);
    ASSERT_TRUE(final_message);
    auto server_final = s.handle_client_final(*final_message);
    ASSERT_TRUE(server_final) << server_final.error().message();
    EXPECT_TRUE(c.verify_server_final(*server_final));
  }
}

TEST(ScramTest, WrongPasswordFailsAsAuthenticationFailure) {
  ScramClient c("", "wrong");
  ScramServer s("right");
  auto first = s.handle_client_first(c.client_first());
  ASSERT_TRUE(first);
  auto final_message = c.handle_server_first(*first);
  ASSERT_TRUE(final_message);
  auto r = s.handle_client_final(*final_message);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_scram_auth_failure(r.error()));
}

TEST(ScramTest, TamperedProofFailsAsAuthenticationFailure) {
  ScramServer s = rfc_server();
  ASSERT_TRUE(s.handle_client_first(kClientFirst));
  std::string tampered(kClientFinal);
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  auto r = s.handle_client_final(tampered);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_scram_auth_failure(r.error())) << r.error().message();
}

TEST(ScramTest, MockServerAlwaysFailsEvenWithItsOwnAnswers) {
  std::vector<uint8_t> secret(32, 7);
  ScramServer s = ScramServer::mock("bob", secret);
  ScramClient c("", "anything");
  auto first = s.handle_client_first(c.client_first());
  ASSERT_TRUE(first);
  EXPECT_NE(first->find(",i=4096"), std::string::npos);
  auto final_message = c.handle_server_first(*first);
  ASSERT_TRUE(final_message);
  auto r = s.handle_client_final(*final_message);
  ASSERT_FALSE(r);
  EXPECT_TRUE(is_scram_auth_failure(r.error()));
}

TEST(ScramTest, MockSaltIsStablePerUserAndSecret) {
  std::vector<uint8_t> secret(32, 1);
  std::vector<uint8_t> other(32, 2);
  auto salt = [](std::string_view user, const std::vector<uint8_t>& key) {
    return ScramServer::mock(user, key).salt();
  };
  EXPECT_EQ(salt("bob", secret), salt("bob", secret));
  EXPECT_EQ(salt("bob", secret).size(), kScramSaltLength);
  EXPECT_NE(salt("bob", secret), salt("alice", secret));
  EXPECT_NE(salt("bob", secret), salt("bob", other));
}

struct BadMessage {
  std::string message;
  std::string expected;  // substring of the error
};

TEST(ScramTest, ServerRejectsMalformedClientFirst) {
  const std::vector<BadMessage> cases = {
      {"", "empty"},
      {"p=tls-server-end-point,,n=,r=abc", "channel binding"},
      {"x,,n=,r=abc", "channel binding flag"},
      {"n,a=admin,n=,r=abc", "authorization identity"},
      {"n,,r=abc", "expected attribute 'n'"},
      {"n,,n=", "missing attribute 'r'"},
      {"n,,n=,r=", "invalid nonce"},
      {"n,,n=,r=a b", "invalid nonce"},
      {"n,,n=a=b,r=abc", "invalid user name"},
      {"n,,m=ext,n=,r=abc", "mandatory extension"},
      {"n,,n=,r=abc,x=1", "extensions are not supported"},
      {"n,,n=,r=abc,", "trailing"},
      {std::string("n,,n=,r=a\0b", 11), "invalid nonce"},
  };
  for (const auto& c : cases) {
    ScramServer s("pencil");
    auto r = s.handle_client_first(c.message);
    ASSERT_FALSE(r) << c.message;
    EXPECT_EQ(r.error().code(), ErrorCode::kProtocol) << c.message;
    EXPECT_NE(r.error().message().find(c.expected), std::string::npos)
        << c.message << " -> " << r.error().message();
  }
}

TEST(ScramTest, ServerAcceptsEscapedUserNameAndIgnoresIt) {
  ScramServer s("pencil");
  EXPECT_TRUE(s.handle_client_first("n,,n=a=2Cb=3Dc,r=abc"));
}

TEST(ScramTest, ServerRejectsMalformedClientFinal) {
  std::string n(kCombinedNonce);
  const std::vector<BadMessage> cases = {
      {"", "missing attribute 'c'"},
      {"r=" + n + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "expected attribute 'c'"},
      {"c=biws,r=" + n, "missing attribute 'p'"},
      {"c=eSws,r=" + n + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "gs2 header"},
      {"c=bi*s,r=" + n + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "invalid base64"},
      {"c=biws,r=" + n + "x,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "nonce"},
      {"c=biws,r=wrong,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "nonce"},
      {"c=biws,r=" + n + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", "invalid base64"},
      {"c=biws,r=" + n + ",p=dHzb ZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", "invalid base64"},
      {"c=biws,r=" + n + ",p=AAAA", "wrong length"},
      {"c=biws,r=" + n + ",x=1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
       "expected attribute 'p'"},
      {"c=biws,r=" + n + ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,x=1",
       "extensions are not supported"},
  };
  for (const auto& c : cases) {
    ScramServer s = rfc_server();
    ASSERT_TRUE(s.handle_client_first(kClientFirst));
    auto r = s.handle_client_final(c.message);
    ASSERT_FALSE(r) << c.message;
    EXPECT_EQ(r.error().code(), ErrorCode::kProtocol) << c.message;
    EXPECT_NE(r.error().message().find(c.expected), std::string::npos)
        << c.message << " -> " << r.error().message();
  }
}

TEST(ScramTest, ServerChecksChannelBindingAgainstYHeader) {
  ScramServer s = rfc_server();
  ASSERT_TRUE(s.handle_client_first("y,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
  // c=biws is "n,,": does not match the "y,," header.
  auto r = s.handle_client_final(kClientFinal);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("gs2 header"), std::string::npos);
}

TEST(ScramTest, ServerRefusesMessagesOutOfOrder) {
  ScramServer s("pencil");
  EXPECT_FALSE(s.handle_client_final(kClientFinal));
  ScramServer s2 = rfc_server();
  ASSERT_TRUE(s2.handle_client_first(kClientFirst));
  EXPECT_FALSE(s2.handle_client_first(kClientFirst));
}

}  // namespace
}  // namespace pgm::net
