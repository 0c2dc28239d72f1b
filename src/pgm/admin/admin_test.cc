#include "pgm/admin/admin.h"

#include <deque>
#include <sstream>

#include "support/temp_dir.h"
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include "pgm/crypto/vault.h"
#include "pgm/io/file.h"

namespace pgm::admin {
namespace {

class FakeTerminal : public Terminal {
 public:
  std::deque<std::string> answers;
  std::vector<std::string> prompts;
  Result<std::string> read_line(std::string_view prompt, bool /*echo*/) override {
    prompts.emplace_back(prompt);
    if (answers.empty()) {
      return make_error(ErrorCode::kUnavailable, "no terminal");
    }
    std::string a = answers.front();
    answers.pop_front();
    return a;
  }
};

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

using test_support::write_text;

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ctx_.pgmoneta_dir = home_ + "/.pgmoneta";
    users_ = home_ + "/pgmoneta_users.conf";
  }

  Options opts(std::vector<std::string> command) {
    Options o;
    o.command = std::move(command);
    o.file = users_;
    return o;
  }

  void make_master_key(const std::string& key = "the-master-key") {
    Options o = opts({"master-key"});
    o.password = key;
    auto r = create_master_key(ctx_, o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  std::vector<crypto::VaultEntry> load_users() {
    auto file = crypto::load_master_key_file(ctx_.pgmoneta_dir + "/master.key");
    EXPECT_TRUE(file.has_value());
    auto key = crypto::derive_master_key(file->password, file->salt);
    EXPECT_TRUE(key.has_value());
    auto users = crypto::load_vault(users_, *key);
    EXPECT_TRUE(users.has_value()) << users.error().message();
    return users.value_or(std::vector<crypto::VaultEntry>{});
  }

  void add(const std::string& user, const std::string& password) {
    Options o = opts({"user", "add"});
    o.user = user;
    o.password = password;
    auto r = user_add(ctx_, o);
    ASSERT_TRUE(r.has_value()) << r.error().message();
  }

  test_support::TempDir dir_{"pgm_admin"};
  std::string home_ = dir_.path();
  std::string users_;
  Context ctx_;
  FakeTerminal terminal_;
};

// ---- command line -------------------------------------------------------------------------

ParsedCommandLine parse(std::vector<const char*> args, std::string* out_text = nullptr,
                        std::string* err_text = nullptr) {
  args.insert(args.begin(), "pgmoneta-admin");
  std::ostringstream out;
  std::ostringstream err;
  auto p = parse_command_line(static_cast<int>(args.size()), args.data(), out, err);
  if (out_text != nullptr) {
    *out_text = out.str();
  }
  if (err_text != nullptr) {
    *err_text = err.str();
  }
  return p;
}

TEST(CommandLineTest, ParsesOptionsAndCommand) {
  auto p = parse({"-f", "users.conf", "-U", "repl", "-P", "pw", "-g", "-l", "32", "-F", "json",
                  "user", "add"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->file, "users.conf");
  EXPECT_EQ(p.options->user, "repl");
  EXPECT_EQ(p.options->password, "pw");
  EXPECT_TRUE(p.options->generate);
  EXPECT_EQ(p.options->length, 32);
  EXPECT_EQ(p.options->format, OutputFormat::kJson);
  EXPECT_EQ(p.options->command, (std::vector<std::string>{"user", "add"}));
}

TEST(CommandLineTest, DefaultsAndNoPassword) {
  auto p = parse({"master-key"});
  ASSERT_TRUE(p.options.has_value());
  EXPECT_EQ(p.options->password, std::nullopt);
  EXPECT_EQ(p.options->length, 64);
  EXPECT_EQ(p.options->format, OutputFormat::kText);
}

TEST(CommandLineTest, HelpAndVersionExitZero) {
  std::string out;
  for (const char* flag : {"-?", "-h", "--help"}) {
    auto p = parse({flag}, &out);
    EXPECT_FALSE(p.options.has_value());
    EXPECT_EQ(p.exit_code, 0);
    EXPECT_NE(out.find("master-key"), std::string::npos);
  }
  auto v = parse({"-V"}, &out);
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_EQ(out.rfind("pgmoneta-admin ", 0), 0u) << out;
}

TEST(CommandLineTest, UsageErrorsAreOneLine) {
  std::string err;
  for (std::vector<const char*> args : {std::vector<const char*>{"-F", "xml", "user", "ls"},
                                        {"--bogus"},
                                        {"user", "rename"},
                                        {},
                                        {"-l", "0", "master-key"}}) {
    auto p = parse(args, nullptr, &err);
    EXPECT_FALSE(p.options.has_value());
    EXPECT_EQ(p.exit_code, 2);
    EXPECT_EQ(err.rfind("pgmoneta-admin: ", 0), 0u) << err;
    EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
  }
}

TEST(CommandLineTest, AcceptsOldCommandSpellings) {
  EXPECT_EQ(parse_command({"add-user"}), Command::kUserAdd);
  EXPECT_EQ(parse_command({"update-user"}), Command::kUserEdit);
  EXPECT_EQ(parse_command({"remove-user"}), Command::kUserDel);
  EXPECT_EQ(parse_command({"list-users"}), Command::kUserLs);
  EXPECT_EQ(parse_command({"user", "ls"}), Command::kUserLs);
}

TEST(GeneratePasswordTest, HasRequestedLengthAndVaries) {
  auto a = generate_password(64);
  auto b = generate_password(64);
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_EQ(a->size(), 64u);
  EXPECT_NE(*a, *b);
  for (char c : *a) {
    EXPECT_TRUE(c > 0x20 && c < 0x7f) << static_cast<int>(c);
  }
  EXPECT_EQ(generate_password(8191)->size(), 8191u);
}

// ---- master-key ---------------------------------------------------------------------------

TEST_F(AdminTest, MasterKeyCreatesPrivateDirectoryAndFile) {
  make_master_key("my master key \xc3\xa9");
  EXPECT_EQ(mode_of(ctx_.pgmoneta_dir), 0700u);
  std::string path = ctx_.pgmoneta_dir + "/master.key";
  EXPECT_EQ(mode_of(path), 0600u);
  auto file = crypto::load_master_key_file(path);
  ASSERT_TRUE(file.has_value()) << file.error().message();
  EXPECT_EQ(file->password, "my master key \xc3\xa9");
  EXPECT_EQ(file->salt.size(), 16u);
  auto text = io::read_file(path);
  ASSERT_TRUE(text.has_value());
  EXPECT_EQ(std::count(text->begin(), text->end(), '\n'), 2);
}

TEST_F(AdminTest, MasterKeySaltIsRandom) {
  make_master_key();
  auto first = crypto::load_master_key_file(ctx_.pgmoneta_dir + "/master.key");
  ASSERT_EQ(std::remove((ctx_.pgmoneta_dir + "/master.key").c_str()), 0);
  make_master_key();
  auto second = crypto::load_master_key_file(ctx_.pgmoneta_dir + "/master.key");
  ASSERT_TRUE(first.has_value() && second.has_value());
  EXPECT_NE(first->salt, second->salt);
}

TEST_F(AdminTest, MasterKeyRefusesExistingFile) {
  make_master_key();
  Options o = opts({"master-key"});
  o.password = "another-key";
  auto r = create_master_key(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("already exists"), std::string::npos);
}

TEST_F(AdminTest, MasterKeyRefusesOpenDirectory) {
  ASSERT_EQ(mkdir(ctx_.pgmoneta_dir.c_str(), 0755), 0);
  ASSERT_EQ(chmod(ctx_.pgmoneta_dir.c_str(), 0755), 0);
  Options o = opts({"master-key"});
  o.password = "the-master-key";
  auto r = create_master_key(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermission);
  EXPECT_NE(r.error().message().find("0755"), std::string::npos) << r.error().message();
}

TEST_F(AdminTest, MasterKeyNeedsEightCharacters) {
  Options o = opts({"master-key"});
  o.password = "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9";  // 7 chars, 14 bytes
  auto r = create_master_key(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("8 characters"), std::string::npos);
  o.password = "1234567";
  EXPECT_FALSE(create_master_key(ctx_, o).has_value());
  o.password = "12345678";
  EXPECT_TRUE(create_master_key(ctx_, o).has_value());
}

TEST_F(AdminTest, MasterKeyFromEnvironment) {
  ctx_.env_password = "from-the-environment";
  auto r = create_master_key(ctx_, opts({"master-key"}));
  ASSERT_TRUE(r.has_value()) << r.error().message();
  auto file = crypto::load_master_key_file(*r);
  ASSERT_TRUE(file.has_value());
  EXPECT_EQ(file->password, "from-the-environment");
}

TEST_F(AdminTest, CommandLinePasswordWinsOverEnvironment) {
  ctx_.env_password = "from-the-environment";
  Options o = opts({"master-key"});
  o.password = "from-the-command-line";
  auto r = create_master_key(ctx_, o);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(crypto::load_master_key_file(*r)->password, "from-the-command-line");
}

TEST_F(AdminTest, MasterKeyGenerated) {
  Options o = opts({"master-key"});
  o.generate = true;
  o.length = 20;
  auto r = create_master_key(ctx_, o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(crypto::load_master_key_file(*r)->password.size(), 20u);
}

TEST_F(AdminTest, WithoutTerminalOrPasswordFailsClearly) {
  auto r = create_master_key(ctx_, opts({"master-key"}));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("PGMONETA_PASSWORD"), std::string::npos);
}

TEST_F(AdminTest, PromptsTwiceAndChecksConfirmation) {
  ctx_.terminal = &terminal_;
  terminal_.answers = {"typed-master-key", "typed-master-kez"};
  auto bad = create_master_key(ctx_, opts({"master-key"}));
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().message().find("do not match"), std::string::npos);
  EXPECT_EQ(terminal_.prompts.size(), 2u);
  terminal_.answers = {"typed-master-key", "typed-master-key"};
  auto good = create_master_key(ctx_, opts({"master-key"}));
  ASSERT_TRUE(good.has_value()) << good.error().message();
  EXPECT_EQ(crypto::load_master_key_file(*good)->password, "typed-master-key");
}

// ---- users --------------------------------------------------------------------------------

TEST_F(AdminTest, UserAddWritesDecryptableVault) {
  make_master_key();
  add("repl", "secret");
  ctx_.env_password = "from-env";
  Options o = opts({"user", "add"});
  o.user = "backup";
  auto r = user_add(ctx_, o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(mode_of(users_), 0600u);
  auto users = load_users();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].name, "repl");
  EXPECT_EQ(users[0].password, "secret");
  EXPECT_EQ(users[1].name, "backup");
  EXPECT_EQ(users[1].password, "from-env");
}

TEST_F(AdminTest, UserAddNeedsMasterKey) {
  Options o = opts({"user", "add"});
  o.user = "repl";
  o.password = "pw";
  auto r = user_add(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(ctx_.pgmoneta_dir), std::string::npos) << r.error().message();
}

TEST_F(AdminTest, UserAddRefusesDuplicate) {
  make_master_key();
  add("repl", "secret");
  Options o = opts({"user", "add"});
  o.user = "repl";
  o.password = "other";
  auto r = user_add(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("already exists"), std::string::npos);
}

TEST_F(AdminTest, UserAddRefusesSixtyFifthUser) {
  make_master_key();
  std::string text = "# full\n";
  for (int i = 0; i < 64; ++i) {
    text += "user" + std::to_string(i) + ":AAAA\n";
  }
  write_text(users_, text);
  Options o = opts({"user", "add"});
  o.user = "one-more";
  o.password = "pw";
  auto r = user_add(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("64"), std::string::npos);
}

TEST_F(AdminTest, PasswordLengthLimit) {
  make_master_key();
  Options o = opts({"user", "add"});
  o.user = "iam";
  o.password = std::string(8192, 'x');
  EXPECT_FALSE(user_add(ctx_, o).has_value());
  o.password = std::string(8191, 'x');
  ASSERT_TRUE(user_add(ctx_, o).has_value());
  EXPECT_EQ(load_users().at(0).password.size(), 8191u);
}

TEST_F(AdminTest, RejectsBadUserNames) {
  make_master_key();
  for (const char* name : {"a:b", "a b", "#x", ";x", "tab\tname"}) {
    Options o = opts({"user", "add"});
    o.user = name;
    o.password = "pw";
    EXPECT_FALSE(user_add(ctx_, o).has_value()) << name;
  }
}

TEST_F(AdminTest, UserAddGeneratedPassword) {
  make_master_key();
  Options o = opts({"user", "add"});
  o.user = "gen";
  o.generate = true;
  o.length = 30;
  auto r = user_add(ctx_, o);
  ASSERT_TRUE(r.has_value());
  ASSERT_TRUE(r->generated_password.has_value());
  EXPECT_EQ(r->generated_password->size(), 30u);
  EXPECT_EQ(load_users().at(0).password, *r->generated_password);
}

TEST_F(AdminTest, UserNameFromPrompt) {
  make_master_key();
  ctx_.terminal = &terminal_;
  terminal_.answers = {"prompted", "pw1", "pw1"};
  Options o = opts({"user", "add"});
  auto r = user_add(ctx_, o);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->user, "prompted");
  EXPECT_EQ(load_users().at(0).password, "pw1");
}

TEST_F(AdminTest, UserEditChangesPasswordAndKeepsComments) {
  make_master_key();
  write_text(users_, "# managed by pgmoneta-admin\n");
  add("repl", "old");
  add("other", "keep");
  Options o = opts({"user", "edit"});
  o.user = "repl";
  o.password = "new";
  ASSERT_TRUE(user_edit(ctx_, o).has_value());
  auto users = load_users();
  ASSERT_EQ(users.size(), 2u);
  EXPECT_EQ(users[0].password, "new");
  EXPECT_EQ(users[1].password, "keep");
  auto text = io::read_file(users_);
  EXPECT_EQ(text->rfind("# managed by pgmoneta-admin\nrepl:", 0), 0u) << *text;
  o.user = "ghost";
  auto missing = user_edit(ctx_, o);
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().code(), ErrorCode::kNotFound);
}

TEST_F(AdminTest, UserDelRemovesOnlyThatUser) {
  make_master_key();
  add("a", "pa");
  add("b", "pb");
  Options o = opts({"user", "del"});
  o.user = "a";
  ASSERT_TRUE(user_del(ctx_, o).has_value());
  auto users = load_users();
  ASSERT_EQ(users.size(), 1u);
  EXPECT_EQ(users[0].name, "b");
  EXPECT_FALSE(user_del(ctx_, o).has_value());
}

TEST_F(AdminTest, UserLsListsNames) {
  write_text(users_, "# c\nrepl:AAAA\n\nbackup:BBBB\n");
  auto names = user_ls(opts({"user", "ls"}));
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, (std::vector<std::string>{"repl", "backup"}));
}

TEST_F(AdminTest, MalformedVaultIsNotRewritten) {
  make_master_key();
  write_text(users_, "repl:AAAA\nthis is not an entry\n");
  Options o = opts({"user", "add"});
  o.user = "x";
  o.password = "pw";
  auto r = user_add(ctx_, o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find(users_ + ":2"), std::string::npos) << r.error().message();
}

TEST_F(AdminTest, UserCommandsNeedFile) {
  Options o = opts({"user", "ls"});
  o.file.clear();
  auto r = user_ls(o);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("-f"), std::string::npos);
}

// ---- run() output -------------------------------------------------------------------------

TEST_F(AdminTest, RunPrintsJsonOutcome) {
  make_master_key();
  add("repl", "pw");
  Options o = opts({"user", "ls"});
  o.format = OutputFormat::kJson;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run(o, ctx_, out, err), 0) << err.str();
  auto doc = nlohmann::json::parse(out.str());
  EXPECT_EQ(doc["Header"]["Command"], 104);
  EXPECT_EQ(doc["Outcome"]["Status"], true);
  EXPECT_TRUE(doc["Outcome"].contains("Time"));
  EXPECT_EQ(doc["Response"]["Users"], nlohmann::json::array({"repl"}));
  EXPECT_TRUE(err.str().empty());
}

TEST_F(AdminTest, RunPrintsTextAndFailsWithOneLine) {
  std::ostringstream out;
  std::ostringstream err;
  Options o = opts({"master-key"});
  o.password = "the-master-key";
  ASSERT_EQ(run(o, ctx_, out, err), 0);
  EXPECT_NE(out.str().find("Master key stored in"), std::string::npos);
  out.str("");
  EXPECT_EQ(run(o, ctx_, out, err), 1);
  EXPECT_EQ(err.str().rfind("pgmoneta-admin: ", 0), 0u);
  EXPECT_EQ(err.str().find('\n'), err.str().size() - 1) << err.str();

  std::ostringstream jout;
  std::ostringstream jerr;
  o.format = OutputFormat::kJson;
  EXPECT_EQ(run(o, ctx_, jout, jerr), 1);
  auto doc = nlohmann::json::parse(jout.str());
  EXPECT_EQ(doc["Outcome"]["Status"], false);
  EXPECT_EQ(doc["Header"]["Command"], 100);
}

TEST_F(AdminTest, RunShowsGeneratedPassword) {
  make_master_key();
  Options o = opts({"user", "add"});
  o.user = "gen";
  o.generate = true;
  o.length = 12;
  std::ostringstream out;
  std::ostringstream err;
  ASSERT_EQ(run(o, ctx_, out, err), 0) << err.str();
  EXPECT_NE(out.str().find("Password: "), std::string::npos);
  EXPECT_NE(out.str().find(load_users().at(0).password), std::string::npos);
}

}  // namespace
}  // namespace pgm::admin
