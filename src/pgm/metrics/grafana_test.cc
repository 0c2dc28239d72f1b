// The Grafana dashboard in contrib/grafana only queries metric names we emit.
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/bytes.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pgm/metrics/exposition_validator_test_internal.h"
#include "pgm/metrics/metrics_test_support.h"
#include "pgm/metrics/prometheus.h"

namespace pgm::metrics {
namespace {

using nlohmann::json;

json load_dashboard() {
  std::ifstream in(std::string(PGM_SOURCE_DIR) + "/contrib/grafana/pgmoneta.json");
  EXPECT_TRUE(in.good());
  std::stringstream buf;
  buf << in.rdbuf();
  return json::parse(buf.str(), nullptr, false);
}

struct Query {
  std::string key;  // "expr" (a panel target) or "query" (a template variable)
  std::string text;
};

// Every "expr" string anywhere, and the templating queries.
void collect_queries(const json& j, std::vector<Query>& out) {
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      if ((it.key() == "expr" || it.key() == "query") && it->is_string()) {
        out.push_back({it.key(), it->get<std::string>()});
      } else {
        collect_queries(*it, out);
      }
    }
  } else if (j.is_array()) {
    for (const json& e : j) {
      collect_queries(e, out);
    }
  }
}

TEST(GrafanaDashboardTest, IsImportable) {
  json d = load_dashboard();
  ASSERT_FALSE(d.is_discarded()) << "contrib/grafana/pgmoneta.json is not valid JSON";
  EXPECT_GE(d.value("schemaVersion", 0), 36);
  ASSERT_TRUE(d.contains("__inputs"));
  EXPECT_EQ(d["__inputs"][0]["name"], "DS_PROMETHEUS");
  bool server_variable = false;
  for (const json& v : d["templating"]["list"]) {
    if (v.value("name", "") == "server") {
      server_variable = true;
      std::string q =
          v["query"].is_string() ? v["query"].get<std::string>() : v["query"].value("query", "");
      EXPECT_EQ(q, "label_values(pgmoneta_server_online, name)");
    }
  }
  EXPECT_TRUE(server_variable);
  EXPECT_GE(d["panels"].size(), 9U);
}

TEST(GrafanaDashboardTest, QueriesOnlyEmittedMetrics) {
  json d = load_dashboard();
  ASSERT_FALSE(d.is_discarded());
  auto e = testing::check_exposition(render_prometheus(testing::sample_snapshot()),
                                     testing::compatibility_total_gauges());
  std::set<std::string> emitted;
  for (const auto& [name, type] : e.types) {
    emitted.insert(name);
  }
  std::vector<Query> queries;
  collect_queries(d, queries);
  ASSERT_GE(queries.size(), 10U);
  const std::regex metric("pgmoneta_[a-z_]+");
  for (const auto& [key, q] : queries) {
    size_t names = 0;
    for (std::sregex_iterator it(q.begin(), q.end(), metric), end; it != end; ++it) {
      ++names;
      EXPECT_EQ(emitted.count(it->str()), 1U) << it->str() << " in " << q;
    }
    if (key == "expr") {
      EXPECT_GT(names, 0U) << q;
    }
  }
}

// promtool parses each expression as a recording rule ($server as Grafana would expand it).
TEST(GrafanaDashboardTest, QueriesAreValidPromQL) {
  const char* promtool = "/usr/bin/promtool";
  if (::access(promtool, X_OK) != 0) {
    GTEST_SKIP() << "promtool not installed";
  }
  json d = load_dashboard();
  ASSERT_FALSE(d.is_discarded());
  std::vector<Query> queries;
  collect_queries(d, queries);
  json rules = json::array();
  for (const auto& [key, q] : queries) {
    if (key != "expr") {
      continue;
    }
    std::string expr = std::regex_replace(q, std::regex("\\$server"), "primary|standby");
    rules.push_back({{"record", "pgm:dashboard:" + std::to_string(rules.size())}, {"expr", expr}});
  }
  // JSON is YAML, so the rule file can be written with nlohmann.
  json file = {{"groups", json::array({{{"name", "dashboard"}, {"rules", rules}}})}};
  std::string path = ::testing::TempDir() + "pgm_metrics_dashboard_rules.yml";
  {
    std::ofstream out(path, std::ios::binary);
    out << file.dump(2);
  }
  std::string command = std::string(promtool) + " check rules '" + path + "' 2>&1";
  test_support::CommandOutput run = test_support::run_command(command);
  ASSERT_NE(run.status, -1) << command;
  const std::string& output = run.output;
  int status = run.status;
  std::remove(path.c_str());
  EXPECT_EQ(status, 0) << output;
}

}  // namespace
}  // namespace pgm::metrics
