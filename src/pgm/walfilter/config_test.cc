#include "pgm/walfilter/config.h"

#include <gtest/gtest.h>

namespace pgm::walfilter {
namespace {

TEST(FilterConfigTest, ParsesPgmonetasExample) {
  auto config = parse_filter_config(
      "source_dir: /src\n"
      "target_dir: /dst\n"
      "configuration_file: /etc/pgmoneta/pgmoneta_walfilter.conf\n"
      "rules:\n"
      "  - xids:\n"
      "    - 752\n"
      "    - 753\n"
      "  - operations: [DELETE]\n",
      "f.yaml");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->source_dir, "/src");
  EXPECT_EQ(config->target_dir, "/dst");
  EXPECT_EQ(config->configuration_file, "/etc/pgmoneta/pgmoneta_walfilter.conf");
  EXPECT_EQ(config->xids, (std::set<uint32_t>{752, 753}));
  EXPECT_TRUE(config->delete_operations);
}

TEST(FilterConfigTest, RulesAreOptional) {
  auto config = parse_filter_config("source_dir: a\ntarget_dir: b\n", "f.yaml");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_TRUE(config->xids.empty());
  EXPECT_FALSE(config->delete_operations);
}

struct BadCase {
  const char* text;
  const char* message;  // the whole error message
};

class FilterConfigErrorTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(FilterConfigErrorTest, NamesLineAndKey) {
  auto config = parse_filter_config(GetParam().text, "f.yaml");
  ASSERT_FALSE(config);
  EXPECT_EQ(config.error().code(), ErrorCode::kConfig);
  EXPECT_EQ(config.error().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Table, FilterConfigErrorTest,
    ::testing::Values(
        BadCase{"source_dir: a\ntarget_dir: b\nrules:\n  - xids: [752, abc]\n",
                "f.yaml:4: rules[0].xids[1]: not a transaction id: \"abc\""},
        BadCase{"source_dir: a\ntarget_dir: b\nrules:\n  - xids: [1]\n",
                "f.yaml:4: rules[0].xids[0]: not a transaction id: \"1\""},
        BadCase{"source_dir: a\ntarget_dir: b\nrules:\n  - operations: [UPDATE]\n",
                "f.yaml:4: rules[0].operations[0]: unknown operation \"UPDATE\" (expected "
                "DELETE)"},
        BadCase{"source_dir: a\ntarget_dir: b\nrules:\n  - tables: [t]\n",
                "f.yaml:4: rules[0].tables: unknown rule (expected xids or operations)"},
        BadCase{"source_dir: a\ntarget_dir: b\nrules:\n  - xids: 752\n",
                "f.yaml:4: rules[0].xids: expected a list"},
        BadCase{"source_dir: a\ntarget_dir: b\nrules: yes\n", "f.yaml:3: rules: expected a list"},
        BadCase{"source_dir: a\ntarget_dir: b\nsource_dri: c\n",
                "f.yaml:3: unknown key \"source_dri\""},
        BadCase{"source_dir: [a, b]\ntarget_dir: b\n",
                "f.yaml:1: source_dir: expected a single value"},
        BadCase{"source_dir: a\n", "f.yaml: target_dir is required"},
        BadCase{"- a\n- b\n", "f.yaml:1: expected a mapping of keys"},
        BadCase{"source_dir: a\n  target_dir: [\n", "f.yaml:2: illegal map value"}));

TEST(FilterSettingsTest, ReadsItsSectionOrPgmonetas) {
  auto settings = parse_settings(
      "[pgmoneta_walfilter]\nlog_type = file\nlog_level = debug1\nencryption = aes-128-gcm\n",
      "w.conf");
  ASSERT_TRUE(settings) << settings.error().message();
  EXPECT_EQ(settings->log_type, log::Type::kFile);
  EXPECT_EQ(settings->encryption, crypto::AesMode::kAes128Gcm);
  auto from_pgmoneta = parse_settings("[pgmoneta]\nbase_dir = /x\nlog_type = syslog\n", "p.conf");
  ASSERT_TRUE(from_pgmoneta) << from_pgmoneta.error().message();
  EXPECT_EQ(from_pgmoneta->log_type, log::Type::kSyslog);
}

TEST(FilterSettingsTest, BadValueNamesFileAndLine) {
  auto settings = parse_settings("[pgmoneta_walfilter]\n\nlog_type = pager\n", "w.conf");
  ASSERT_FALSE(settings);
  EXPECT_EQ(settings.error().message(), "w.conf:3: invalid log_type \"pager\"");
}

}  // namespace
}  // namespace pgm::walfilter
