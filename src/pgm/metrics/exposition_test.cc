#include "pgm/metrics/exposition.h"

#include <gtest/gtest.h>

#include "pgm/metrics/metrics_test_support.h"
#include "pgm/metrics/prometheus.h"

namespace pgm::metrics {
namespace {

TEST(ExpositionTest, ReadsFamiliesSamplesLabelsAndEscapes) {
  auto families = parse_exposition(
      "# HELP pgmoneta_state The state\\\\of \\\"things\\\"\n"
      "# TYPE pgmoneta_state gauge\n"
      "pgmoneta_state 1\n"
      "\n"
      "#HELP pgmoneta_server_valid Valid\n"
      "#TYPE pgmoneta_server_valid gauge\n"
      "pgmoneta_server_valid{name=\"a\\\"b\",role=\"x\\\\y\"} 0\n"
      "pgmoneta_server_valid{name=\"c\"} 1 1700000000\n");
  ASSERT_EQ(families.size(), 2u);
  EXPECT_EQ(families[0].name, "pgmoneta_state");
  EXPECT_EQ(families[0].help, "The state\\of \"things\"");
  EXPECT_EQ(families[0].type, "gauge");
  ASSERT_EQ(families[0].samples.size(), 1u);
  EXPECT_EQ(families[0].samples[0].value, "1");
  const Family& servers = families[1];
  EXPECT_EQ(servers.type, "gauge");
  ASSERT_EQ(servers.samples.size(), 2u);
  ASSERT_EQ(servers.samples[0].labels.size(), 2u);
  EXPECT_EQ(servers.samples[0].labels[0].first, "name");
  EXPECT_EQ(servers.samples[0].labels[0].second, "a\"b");
  EXPECT_EQ(servers.samples[0].labels[1].second, "x\\y");
  EXPECT_EQ(servers.samples[1].value, "1");
}

TEST(ExpositionTest, SkipsWhatItCannotReadAndGroupsSeriesOfOneFamily) {
  auto families = parse_exposition(
      "garbage{name=\"unterminated} 1\n"
      "{x=\"1\"} 2\n"
      "novalue\n"
      "# random comment\n"
      "requests_total 5\n"
      "requests_total_created 1\n"
      "# TYPE latency histogram\n"
      "latency_sum 3\n"
      "latency_count 4\n"
      "latency_bucket{le=\"1\"} 2\n"
      "latency_extra 9\n");
  ASSERT_EQ(families.size(), 3u);
  EXPECT_EQ(families[0].name, "requests_total");
  EXPECT_EQ(families[0].samples.size(), 2u);
  EXPECT_EQ(families[1].name, "latency");
  EXPECT_EQ(families[1].type, "histogram");
  EXPECT_EQ(families[1].samples.size(), 3u);
  EXPECT_EQ(families[2].name, "latency_extra");
}

TEST(ExpositionTest, ReadsBackEverySampleOfOurOwnExposition) {
  const std::string text = render_prometheus(testing::sample_snapshot());
  size_t sample_lines = 0;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end > start && text[start] != '#') {
      ++sample_lines;
    }
    start = end + 1;
  }
  size_t samples = 0;
  for (const Family& family : parse_exposition(text)) {
    EXPECT_FALSE(family.help.empty()) << family.name;
    EXPECT_FALSE(family.type.empty()) << family.name;
    samples += family.samples.size();
  }
  EXPECT_GT(samples, 50u);
  EXPECT_EQ(samples, sample_lines);
}

}  // namespace
}  // namespace pgm::metrics
