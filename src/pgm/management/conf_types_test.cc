#include "pgm/management/conf_types.h"

#include <gtest/gtest.h>

namespace pgm::management {
namespace {

using nlohmann::json;

json sv(const char* text, int64_t value) { return {{"string_value", text}, {"value", value}}; }

TEST(ConfTypesTest, MainKeysGetPgmonetasTypes) {
  EXPECT_EQ(typed_conf_value("backlog", "16", false), json(16));
  EXPECT_EQ(typed_conf_value("keep_alive", "on", false), json(true));
  EXPECT_EQ(typed_conf_value("tls", "off", false), json(false));
  EXPECT_EQ(typed_conf_value("s3_use_tls", "on", false), json(1));
  EXPECT_EQ(typed_conf_value("compression", "zstd", false), sv("zstd", 2));
  EXPECT_EQ(typed_conf_value("compression", "gz", false), sv("gz", 1));
  EXPECT_EQ(typed_conf_value("encryption", "none", false), sv("none", 0));
  EXPECT_EQ(typed_conf_value("storage_engine", "local,s3", false), sv("local,s3", 5));
  EXPECT_EQ(typed_conf_value("create_slot", "yes", false), sv("yes", 1));
  EXPECT_EQ(typed_conf_value("create_slot", "off", false), sv("off", 2));
  EXPECT_EQ(typed_conf_value("log_level", "debug1", false), sv("debug1", 2));
  EXPECT_EQ(typed_conf_value("hugepage", "try", false), sv("try", 1));
  EXPECT_EQ(typed_conf_value("log_type", "file", false), sv("file", 1));
  EXPECT_EQ(typed_conf_value("log_level", "info", false), sv("info", 3));
  EXPECT_EQ(typed_conf_value("log_mode", "append", false), sv("append", 1));
  EXPECT_EQ(typed_conf_value("blocking_timeout", "30s", false),
            json({{"string_value", "30s"}, {"value", 30}}));
  EXPECT_EQ(typed_conf_value("log_rotation_age", "0", false),
            json({{"string_value", "0s"}, {"value", 0}}));
  EXPECT_EQ(typed_conf_value("metrics_cache_max_size", "256K", false),
            json({{"string_value", "262144B"}, {"value", 262144}}));
  EXPECT_EQ(typed_conf_value("update_process_title", "verbose", false),
            json({{"string_value", "verbose"}, {"value", 3}}));
  EXPECT_EQ(typed_conf_value("direct_io", "off", false),
            json({{"string_value", "off"}, {"value", 0}}));
}

TEST(ConfTypesTest, ServerKeysAndTextThatDoesNotParseStayText) {
  EXPECT_EQ(typed_conf_value("port", "5432", true), json(5432));
  EXPECT_EQ(typed_conf_value("create_slot", "-1", true), json(0));
  EXPECT_EQ(typed_conf_value("online", "on", true), json(true));
  EXPECT_EQ(typed_conf_value("host", "localhost", true), json("localhost"));
  EXPECT_EQ(typed_conf_value("compression", "zstd", true), json("zstd"));  // not a server key
  EXPECT_EQ(typed_conf_value("backlog", "many", false), json("many"));
  EXPECT_EQ(typed_conf_value("compression", "brotli", false), json("brotli"));
  EXPECT_EQ(typed_conf_value("base_dir", "/srv/pgmoneta", false), json("/srv/pgmoneta"));
}

TEST(ConfTypesTest, EnumCodesNameBack) {
  EXPECT_EQ(conf_enum_name("log_level", 3), "info");
  EXPECT_EQ(conf_enum_name("log_level", 1), "debug");
  EXPECT_EQ(conf_enum_name("storage_engine", 5), "local,s3");
  EXPECT_EQ(conf_enum_name("create_slot", 2), "no");
  EXPECT_EQ(conf_enum_name("hugepage", 9), std::nullopt);
  EXPECT_EQ(conf_enum_name("base_dir", 1), std::nullopt);
  for (const char* key : {"hugepage", "log_type", "log_mode", "create_slot"}) {
    for (int64_t code = 0; code < 3; ++code) {
      if (auto name = conf_enum_name(key, code)) {
        EXPECT_EQ(typed_conf_value(key, *name, false), sv(name->c_str(), code))
            << key << " " << *name;
      }
    }
  }
}

}  // namespace
}  // namespace pgm::management
