#include "integration/cluster_fixture.h"

#include <filesystem>

#include "integration/process.h"

namespace pgm::testing {

std::string prepare_cluster(PostgresInstance& pg, const ClusterSetup& setup) {
  std::string error;
  auto fail = [&error](const std::string& what) {
    if (error.empty()) {
      error = what;
    }
  };
  if (!setup.settings.empty()) {
    std::vector<std::string> sqls;
    for (const std::string& setting : setup.settings) {
      sqls.push_back("ALTER SYSTEM SET " + setting);
    }
    sqls.emplace_back("SELECT pg_reload_conf()");
    for (const std::string& sql : sqls) {
      CommandOutput r = pg.psql(sql);
      if (r.exit_code != 0) {
        fail(sql + ": " + r.describe());
      }
    }
  }
  if (setup.tablespace) {
    std::string ts_dir =
        std::filesystem::path(pg.data_dir()).parent_path().string() + "/tablespace1";
    std::filesystem::create_directories(ts_dir);
    chown_to_test_user(ts_dir);
    for (const std::string& sql :
         {"CREATE TABLESPACE ts1 LOCATION '" + ts_dir + "'",
          std::string("CREATE TABLE ts_table TABLESPACE ts1 AS SELECT g, md5(g::text) AS h FROM "
                      "generate_series(1, 20000) g")}) {
      CommandOutput r = pg.psql(sql);
      if (r.exit_code != 0) {
        fail(sql + ": " + r.describe());
      }
    }
  }
  CommandOutput bench =
      pg.run_tool("pgbench", {"-i", "-q", "-s", std::to_string(setup.pgbench_scale)});
  if (bench.exit_code != 0) {
    fail("pgbench -i: " + bench.describe());
  }
  return error;
}

}  // namespace pgm::testing
