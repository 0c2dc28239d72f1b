#include "pgm/management/registry.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace pgm::management {
namespace {

TEST(RegistryTest, EveryCodeAndNameHasExactlyOneRow) {
  std::set<int32_t> codes;
  std::set<std::string_view> names;
  for (const CommandSpec& s : command_specs()) {
    EXPECT_TRUE(codes.insert(s.code).second) << "code " << s.code << " twice";
    EXPECT_TRUE(names.insert(s.name).second) << "name " << s.name << " twice";
    EXPECT_EQ(static_cast<int32_t>(s.command), s.code) << s.name;
  }
  EXPECT_EQ(command_specs().size(), 31u);
}

TEST(RegistryTest, NamesAndCodesRoundTrip) {
  for (const CommandSpec& s : command_specs()) {
    EXPECT_EQ(command_name(s.command), s.name);
    EXPECT_EQ(command_from_name(s.name), s.command) << s.name;
    EXPECT_EQ(command_from_code(s.code), s.command) << s.name;
    EXPECT_EQ(find_spec(s.command), &s);
    EXPECT_EQ(find_spec_by_code(s.code), &s);
  }
  // pgmoneta-admin's codes are commands, but not the daemon's.
  EXPECT_EQ(command_name(Command::kAddUser), "user add");
  EXPECT_EQ(command_from_name("user add"), Command::kAddUser);
  EXPECT_EQ(find_spec(Command::kAddUser), nullptr);
  EXPECT_FALSE(command_from_code(26).has_value());
  EXPECT_FALSE(command_from_name("backups").has_value());
}

TEST(RegistryTest, VerbsStartTheirNamesAndTheFirstRowOfAVerbCarriesItsHelp) {
  std::set<std::string_view> verbs_seen;
  for (const CommandSpec& s : command_specs()) {
    EXPECT_EQ(s.name.substr(0, s.verb.size()), s.verb) << s.name;
    bool first = verbs_seen.insert(s.verb).second;
    EXPECT_EQ(first, !s.help.empty()) << s.name << ": help belongs on the verb's first row only";
    if (!first) {
      EXPECT_TRUE(s.usage.empty()) << s.name;
    }
  }
  EXPECT_EQ(verbs_seen.size(), 24u);
}

TEST(RegistryTest, OnlyQuickCommandsRunInline) {
  std::set<Command> inline_commands;
  for (const CommandSpec& s : command_specs()) {
    if (s.placement == Placement::kInline) {
      inline_commands.insert(s.command);
    }
  }
  EXPECT_EQ(inline_commands, (std::set<Command>{Command::kPing, Command::kShutdown, Command::kReset,
                                                Command::kReload, Command::kConfLs,
                                                Command::kConfGet, Command::kConfSet}));
}

// The one table: each family's failures map to its own members, unknown ones to its generic
// code, and every code maps back to its family.
TEST(RegistryTest, FailuresMapToTheirFamilysCodes) {
  EXPECT_EQ(error_code(Command::kBackup, Failure::kNoServer), kErrorBackupNoServer);
  EXPECT_EQ(error_code(Command::kBackup, Failure::kActive), kErrorBackupActive);
  EXPECT_EQ(error_code(Command::kRestore, Failure::kNoDisk), kErrorRestoreNoDisk);
  EXPECT_EQ(error_code(Command::kListBackup, Failure::kInvalidSort), kErrorListBackupInvalidSort);
  EXPECT_EQ(error_code(Command::kConfSet, Failure::kMissingArgument), kErrorConfSetNoKey);
  EXPECT_EQ(error_code(Command::kMode, Failure::kUnknownAction), kErrorModeUnknownAction);
  EXPECT_EQ(error_code(Family::kZstd, Failure::kNoFile), kErrorZstdNoFile);
  EXPECT_EQ(error_code(Family::kBzip2, Failure::kError), kErrorBzip2Error);
  EXPECT_EQ(error_code(Command::kS3Ls, Failure::kEngine), kErrorS3LsBase + kOffsiteLsEngine);
  EXPECT_EQ(error_code(Command::kSshRestore, Failure::kCorrupted),
            kErrorSshRestoreBase + kOffsiteRestoreCorrupted);
  // No member of that name: the family's generic code.
  EXPECT_EQ(error_code(Command::kInfo, Failure::kNoDisk), kErrorInfoError);
  EXPECT_EQ(error_code(Command::kReload, Failure::kSetup), kErrorReloadError);
  // No generic member either: the family's base.
  EXPECT_EQ(error_code(Command::kProgress, Failure::kNoServer), kErrorProgressBase);
  EXPECT_EQ(error_code(Command::kPing, Failure::kError), kErrorUnknownCommand);

  for (const CommandSpec& s : command_specs()) {
    if (s.family == Family::kNone) {
      continue;
    }
    for (int f = 0; f <= static_cast<int>(Failure::kCorrupted); ++f) {
      int32_t code = error_code(s.family, static_cast<Failure>(f));
      EXPECT_EQ(family_of(code), s.family) << s.name << " failure " << f << " -> " << code;
    }
    EXPECT_FALSE(family_name(s.family).empty()) << s.name;
  }
}

}  // namespace
}  // namespace pgm::management
