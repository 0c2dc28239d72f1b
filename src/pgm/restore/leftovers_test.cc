#include "pgm/restore/leftovers.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include <gtest/gtest.h>

#include "pgm/io/file.h"

namespace pgm::restore {
namespace {

namespace fs = std::filesystem;

// Above any pid_max: never a live process.
constexpr const char* kDeadPid = "99999999";

std::vector<std::string> names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) {
    out.push_back(e.path().filename().string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(LeftoversTest, WorkspaceDirectoriesOfDeadProcessesGoOthersStay) {
  test_support::TempDir ws("pgm-leftovers");
  const std::string me = std::to_string(::getpid());
  for (const std::string& name :
       {std::string("proven-primary-20261207000000-") + kDeadPid,
        std::string("archive-my-server-20261207000000-") + kDeadPid,
        std::string("archive-my-server-20261207000000-") + kDeadPid + "-tblspc_ts1",
        "proven-primary-20261207000000-" + me, std::string("proven-notes"),
        std::string("backup-20261207000000-") + kDeadPid}) {
    ASSERT_TRUE(io::make_directories(ws.path() + "/" + name + "/data", 0700));
    ASSERT_TRUE(io::write_file_atomic(ws.path() + "/" + name + "/data/f", "x", 0600));
  }
  EXPECT_EQ(remove_dead_workspace_leftovers(ws.path()), 3u);
  EXPECT_EQ(names(ws.path()),
            (std::vector<std::string>{std::string("backup-20261207000000-") + kDeadPid,
                                      "proven-notes", "proven-primary-20261207000000-" + me}));
  EXPECT_EQ(remove_dead_workspace_leftovers(ws.path() + "/absent"), 0u);
}

TEST(LeftoversTest, TempFilesOfDeadProcessesGoOnlyUnderThePrefix) {
  test_support::TempDir dir("pgm-leftovers");
  const std::string me = std::to_string(::getpid());
  for (const std::string& name :
       {std::string("archive-primary-1.tar.zstd.tmp.") + kDeadPid,
        "archive-primary-1.tar.zstd.tmp." + me, std::string("other.tar.tmp.") + kDeadPid,
        std::string("archive-primary-1.tar.zstd")}) {
    std::ofstream(dir.path() + "/" + name) << "x";  // not write_file_atomic: its own temp
  }                                                 // name is one of these
  EXPECT_EQ(remove_dead_temp_files(dir.path(), "archive-primary-"), 1u);
  EXPECT_EQ(names(dir.path()),
            (std::vector<std::string>{"archive-primary-1.tar.zstd",
                                      "archive-primary-1.tar.zstd.tmp." + me,
                                      std::string("other.tar.tmp.") + kDeadPid}));
}

}  // namespace
}  // namespace pgm::restore
