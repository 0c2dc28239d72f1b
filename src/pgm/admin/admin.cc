#include "pgm/admin/admin.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <sys/stat.h>

#include "pgm/core/scope_exit.h"
#include "pgm/core/unique_fd.h"
#include "pgm/crypto/base64.h"
#include "pgm/crypto/vault.h"
#include "pgm/io/file.h"
#include "pgm/version.h"

namespace pgm::admin {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
    "!@#$%^&*()-_=+[{]}\\|;:'\",<.>/?";

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

class TtyTerminal : public Terminal {
 public:
  Result<std::string> read_line(std::string_view prompt, bool echo) override {
    UniqueFd fd(::open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
      return make_error(ErrorCode::kUnavailable, "no terminal to prompt on");
    }
    if (::write(fd.get(), prompt.data(), prompt.size()) < 0) {
      return make_errno_error("write /dev/tty", errno);
    }
    termios saved{};
    bool restore = false;
    if (!echo && tcgetattr(fd.get(), &saved) == 0) {
      termios quiet = saved;
      quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
      restore = tcsetattr(fd.get(), TCSAFLUSH, &quiet) == 0;
    }
    ScopeExit reset([&] {
      if (restore) {
        tcsetattr(fd.get(), TCSAFLUSH, &saved);
      }
      if (!echo) {
        [[maybe_unused]] ssize_t n = ::write(fd.get(), "\n", 1);
      }
    });
    std::string line;
    char c = 0;
    while (true) {
      ssize_t n = ::read(fd.get(), &c, 1);
      if (n < 0 && errno == EINTR) {
        continue;
      }
      if (n <= 0 || c == '\n') {
        break;
      }
      if (line.size() > crypto::kMaxPasswordLength + 1) {
        continue;  // keep draining the line; the length check rejects it later
      }
      line.push_back(c);
    }
    if (!line.empty() && line.back() == '\r') {
      line.pop_back();
    }
    return line;
  }
};

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string vault_path_required_error() { return "missing -f FILE (the users or admins file)"; }

Result<void> validate_user_name(std::string_view name) {
  if (name.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "empty user name");
  }
  if (name.size() > crypto::kMaxUsernameLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("user name longer than {} bytes", crypto::kMaxUsernameLength));
  }
  if (name.front() == '#' || name.front() == ';') {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("user name '{}' cannot start with '#' or ';'", name));
  }
  for (char c : name) {
    auto u = static_cast<unsigned char>(c);
    if (c == ':' || u <= 0x20 || u == 0x7f) {
      return make_error(
          ErrorCode::kInvalidArgument,
          fmt::format("user name '{}' contains ':', a space or a control character", name));
    }
  }
  return {};
}

Result<void> validate_password(std::string_view password) {
  if (password.empty()) {
    return make_error(ErrorCode::kInvalidArgument, "empty password");
  }
  if (password.size() > crypto::kMaxPasswordLength) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("password is {} bytes; the limit is {}", password.size(),
                                  crypto::kMaxPasswordLength));
  }
  if (password.find_first_of(std::string_view("\n\r\0", 3)) != std::string_view::npos) {
    return make_error(ErrorCode::kInvalidArgument, "password contains a newline or NUL character");
  }
  return {};
}

Result<void> validate_master_password(std::string_view password) {
  PGM_TRY(validate_password(password));
  auto chars = crypto::utf8_length(password);
  if (!chars) {
    return make_error(ErrorCode::kInvalidArgument, "master key is not valid UTF-8");
  }
  if (*chars < crypto::kMinMasterKeyCharacters) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("master key must be at least {} characters", crypto::kMinMasterKeyCharacters));
  }
  return {};
}

// A password from -P, -g, PGMONETA_PASSWORD or the terminal (asked twice), in that order.
struct ObtainedPassword {
  std::string value;
  bool generated = false;
};

Result<ObtainedPassword> obtain_password(const Context& ctx, const Options& opts,
                                         std::string_view what) {
  if (opts.password) {
    return ObtainedPassword{*opts.password, false};
  }
  if (opts.generate) {
    if (opts.length < 1 || static_cast<size_t>(opts.length) > crypto::kMaxPasswordLength) {
      return make_error(ErrorCode::kInvalidArgument,
                        fmt::format("-l must be between 1 and {}", crypto::kMaxPasswordLength));
    }
    PGM_ASSIGN_OR_RETURN(std::string p, generate_password(static_cast<size_t>(opts.length)));
    return ObtainedPassword{std::move(p), true};
  }
  if (ctx.env_password) {
    return ObtainedPassword{*ctx.env_password, false};
  }
  auto no_terminal = [&] {
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("no {} given and no terminal to ask for it; use -P, -g or "
                                  "PGMONETA_PASSWORD",
                                  lower(what)));
  };
  if (ctx.terminal == nullptr) {
    return no_terminal();
  }
  auto first = ctx.terminal->read_line(fmt::format("{} (will not echo): ", what), false);
  if (!first) {
    return first.error().code() == ErrorCode::kUnavailable ? no_terminal()
                                                           : tl::unexpected(first.error());
  }
  PGM_ASSIGN_OR_RETURN(std::string second,
                       ctx.terminal->read_line(fmt::format("Verify {}: ", what), false));
  ScopeExit wipe([&] { OPENSSL_cleanse(second.data(), second.size()); });
  if (*first != second) {
    OPENSSL_cleanse(first->data(), first->size());
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("the {}s do not match", lower(what)));
  }
  return ObtainedPassword{std::move(*first), false};
}

Result<std::string> obtain_user_name(const Context& ctx, const Options& opts) {
  if (!opts.user.empty()) {
    PGM_TRY(validate_user_name(opts.user));
    return opts.user;
  }
  if (ctx.terminal == nullptr) {
    return make_error(ErrorCode::kInvalidArgument, "no user name given; use -U USER");
  }
  auto name = ctx.terminal->read_line("User name: ", true);
  if (!name) {
    return make_error(ErrorCode::kInvalidArgument, "no user name given; use -U USER");
  }
  PGM_TRY(validate_user_name(*name));
  return *name;
}

Result<crypto::MasterKey> load_key(const Context& ctx) {
  PGM_ASSIGN_OR_RETURN(crypto::MasterKeyFile file,
                       crypto::load_master_key_file(ctx.pgmoneta_dir + "/master.key"));
  ScopeExit wipe([&] { OPENSSL_cleanse(file.password.data(), file.password.size()); });
  return crypto::derive_master_key(file.password, file.salt);
}

// The vault file as lines, with the entries located. Malformed lines are errors (we do not
// rewrite a file we do not understand).
struct VaultText {
  std::vector<std::string> lines;
  std::vector<std::pair<size_t, std::string>> entries;  // line index, user name

  std::optional<size_t> find(std::string_view name) const {
    for (const auto& [index, n] : entries) {
      if (n == name) {
        return index;
      }
    }
    return std::nullopt;
  }
  std::string text() const {
    std::string out;
    for (const std::string& l : lines) {
      out += l;
      out += '\n';
    }
    return out;
  }
};

Result<VaultText> read_vault_text(const std::string& path, bool must_exist) {
  VaultText v;
  auto text = io::read_config_file(path);
  if (!text) {
    if (text.error().code() == ErrorCode::kNotFound && !must_exist) {
      return v;
    }
    return tl::unexpected(text.error());
  }
  std::string_view rest = *text;
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    auto parsed = crypto::parse_vault_line(line);
    if (!parsed) {
      return tl::unexpected(
          parsed.error().with_context(fmt::format("{}:{}", path, v.lines.size() + 1)));
    }
    if (parsed->has_value()) {
      v.entries.emplace_back(v.lines.size(), (*parsed)->name);
    }
    v.lines.emplace_back(line);
  }
  return v;
}

Result<void> require_file(const Options& opts) {
  if (opts.file.empty()) {
    return make_error(ErrorCode::kInvalidArgument, vault_path_required_error());
  }
  return {};
}

Result<UserChange> set_user_password(const Context& ctx, const Options& opts, bool adding) {
  PGM_TRY(require_file(opts));
  PGM_ASSIGN_OR_RETURN(VaultText vault, read_vault_text(opts.file, !adding));
  PGM_ASSIGN_OR_RETURN(crypto::MasterKey key, load_key(ctx));
  ScopeExit wipe_key([&] { OPENSSL_cleanse(key.bytes.data(), key.bytes.size()); });
  PGM_ASSIGN_OR_RETURN(std::string user, obtain_user_name(ctx, opts));
  std::optional<size_t> existing = vault.find(user);
  if (adding && existing) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("user '{}' already exists in {}", user, opts.file));
  }
  if (!adding && !existing) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("user '{}' does not exist in {}", user, opts.file));
  }
  if (adding && vault.entries.size() >= crypto::kMaxUsers) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("{} already holds {} users, the maximum", opts.file, crypto::kMaxUsers));
  }
  PGM_ASSIGN_OR_RETURN(ObtainedPassword password, obtain_password(ctx, opts, "Password"));
  ScopeExit wipe_pw([&] { OPENSSL_cleanse(password.value.data(), password.value.size()); });
  PGM_TRY(validate_password(password.value));
  PGM_ASSIGN_OR_RETURN(std::string encoded, crypto::encrypt_vault_password(key, password.value));
  std::string line = user + ":" + encoded;
  if (existing) {
    vault.lines[*existing] = line;
  } else {
    vault.lines.push_back(line);
  }
  PGM_TRY(io::write_file_atomic(opts.file, vault.text(), 0600));
  UserChange change{user, std::nullopt};
  if (password.generated) {
    change.generated_password = password.value;
  }
  return change;
}

std::string timestamp_now() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d%H%M%S", &tm);
  return buf;
}

std::string elapsed_string(std::chrono::steady_clock::duration d) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  long long total_s = us / 1000000;
  return fmt::format("{:02}:{:02}:{:02}.{:04}", total_s / 3600, (total_s / 60) % 60, total_s % 60,
                     (us % 1000000) / 100);
}

}  // namespace

std::unique_ptr<Terminal> make_tty_terminal() { return std::make_unique<TtyTerminal>(); }

Result<Command> parse_command(const std::vector<std::string>& words) {
  std::string joined;
  for (const std::string& w : words) {
    joined += joined.empty() ? w : " " + w;
  }
  if (joined == "master-key") {
    return Command::kMasterKey;
  }
  if (joined == "user add" || joined == "add-user") {
    return Command::kUserAdd;
  }
  if (joined == "user edit" || joined == "update-user") {
    return Command::kUserEdit;
  }
  if (joined == "user del" || joined == "remove-user") {
    return Command::kUserDel;
  }
  if (joined == "user ls" || joined == "list-users") {
    return Command::kUserLs;
  }
  if (joined.empty()) {
    return make_error(ErrorCode::kInvalidArgument,
                      "no command given; expected master-key or user add|edit|del|ls");
  }
  return make_error(ErrorCode::kInvalidArgument,
                    fmt::format("unknown command '{}'; expected master-key or user "
                                "add|edit|del|ls",
                                joined));
}

Result<std::string> generate_password(size_t length) {
  std::string out;
  out.reserve(length);
  // Rejection sampling keeps every character equally likely.
  const size_t n = kAlphabet.size();
  const unsigned limit = 256 - (256 % n);
  unsigned char buf[64];
  while (out.size() < length) {
    if (RAND_bytes(buf, sizeof(buf)) != 1) {
      return make_error(ErrorCode::kInternal, "RAND_bytes failed");
    }
    for (unsigned char b : buf) {
      if (b < limit && out.size() < length) {
        out.push_back(kAlphabet[b % n]);
      }
    }
  }
  OPENSSL_cleanse(buf, sizeof(buf));
  return out;
}

Result<std::string> create_master_key(const Context& ctx, const Options& opts) {
  const std::string& dir = ctx.pgmoneta_dir;
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return make_errno_error(fmt::format("stat {}", dir), errno);
    }
    if (mkdir(dir.c_str(), 0700) != 0) {
      return make_errno_error(fmt::format("mkdir {}", dir), errno);
    }
  }
  PGM_TRY(crypto::check_private_directory(dir));
  std::string path = dir + "/master.key";
  if (lstat(path.c_str(), &st) == 0) {
    return make_error(ErrorCode::kInvalidArgument,
                      fmt::format("{} already exists; remove it first to create a new master key "
                                  "(vaults encrypted with it become unreadable)",
                                  path));
  }
  Options o = opts;
  if (o.generate && !o.password && o.length < static_cast<int>(crypto::kMinMasterKeyCharacters)) {
    return make_error(
        ErrorCode::kInvalidArgument,
        fmt::format("-l must be at least {} for a master key", crypto::kMinMasterKeyCharacters));
  }
  PGM_ASSIGN_OR_RETURN(ObtainedPassword password, obtain_password(ctx, o, "Master key"));
  ScopeExit wipe_pw([&] { OPENSSL_cleanse(password.value.data(), password.value.size()); });
  PGM_TRY(validate_master_password(password.value));
  uint8_t salt[crypto::kSaltLength];
  if (RAND_bytes(salt, sizeof(salt)) != 1) {
    return make_error(ErrorCode::kInternal, "RAND_bytes failed");
  }
  std::string content = crypto::base64_encode(password.value) + "\n" +
                        crypto::base64_encode(std::span<const uint8_t>(salt)) + "\n";
  ScopeExit wipe_content([&] { OPENSSL_cleanse(content.data(), content.size()); });
  PGM_TRY(io::write_file_atomic(path, content, 0600));
  return path;
}

Result<UserChange> user_add(const Context& ctx, const Options& opts) {
  return set_user_password(ctx, opts, true);
}

Result<UserChange> user_edit(const Context& ctx, const Options& opts) {
  return set_user_password(ctx, opts, false);
}

Result<UserChange> user_del(const Context& ctx, const Options& opts) {
  PGM_TRY(require_file(opts));
  PGM_ASSIGN_OR_RETURN(VaultText vault, read_vault_text(opts.file, true));
  PGM_ASSIGN_OR_RETURN(std::string user, obtain_user_name(ctx, opts));
  std::optional<size_t> index = vault.find(user);
  if (!index) {
    return make_error(ErrorCode::kNotFound,
                      fmt::format("user '{}' does not exist in {}", user, opts.file));
  }
  vault.lines.erase(vault.lines.begin() + static_cast<std::ptrdiff_t>(*index));
  PGM_TRY(io::write_file_atomic(opts.file, vault.text(), 0600));
  return UserChange{user, std::nullopt};
}

Result<std::vector<std::string>> user_ls(const Options& opts) {
  PGM_TRY(require_file(opts));
  PGM_ASSIGN_OR_RETURN(VaultText vault, read_vault_text(opts.file, true));
  std::vector<std::string> names;
  for (const auto& entry : vault.entries) {
    names.push_back(entry.second);
  }
  return names;
}

int run(const Options& opts, const Context& ctx, std::ostream& out, std::ostream& err) {
  auto start = std::chrono::steady_clock::now();
  auto command = parse_command(opts.command);
  if (!command) {
    err << "pgmoneta-admin: " << command.error().message() << "\n";
    return kExitUsage;
  }
  nlohmann::json response = nlohmann::json::object();
  std::vector<std::string> text;
  Result<void> outcome;
  switch (*command) {
    case Command::kMasterKey: {
      auto path = create_master_key(ctx, opts);
      if (path) {
        response["File"] = *path;
        text.push_back(fmt::format("Master key stored in {}", *path));
      } else {
        outcome = tl::unexpected(path.error());
      }
      break;
    }
    case Command::kUserAdd:
    case Command::kUserEdit:
    case Command::kUserDel: {
      auto change = *command == Command::kUserAdd    ? user_add(ctx, opts)
                    : *command == Command::kUserEdit ? user_edit(ctx, opts)
                                                     : user_del(ctx, opts);
      if (change) {
        response["File"] = opts.file;
        response["User"] = change->user;
        const char* verb = *command == Command::kUserAdd    ? "added to"
                           : *command == Command::kUserEdit ? "updated in"
                                                            : "removed from";
        text.push_back(fmt::format("User '{}' {} {}", change->user, verb, opts.file));
        if (change->generated_password) {
          response["Password"] = *change->generated_password;
          text.push_back(fmt::format("Password: {}", *change->generated_password));
        }
      } else {
        outcome = tl::unexpected(change.error());
      }
      break;
    }
    case Command::kUserLs: {
      auto names = user_ls(opts);
      if (names) {
        response["File"] = opts.file;
        response["Users"] = *names;
        text = *names;
      } else {
        outcome = tl::unexpected(names.error());
      }
      break;
    }
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  if (opts.format == OutputFormat::kJson) {
    nlohmann::json doc;
    doc["Header"] = {{"ClientVersion", kVersion},
                     {"Command", static_cast<int>(*command)},
                     {"Compression", 0},
                     {"Encryption", 0},
                     {"Output", 1},
                     {"Timestamp", timestamp_now()}};
    doc["Request"] = nlohmann::json::object();
    if (outcome) {
      doc["Outcome"] = {{"Status", true}, {"Time", elapsed_string(elapsed)}};
      doc["Response"] = response;
    } else {
      doc["Outcome"] = {{"Status", false}, {"Error", 1}, {"Message", outcome.error().message()}};
    }
    out << doc.dump() << "\n";
  } else if (outcome) {
    for (const std::string& line : text) {
      out << line << "\n";
    }
  }
  if (!outcome) {
    err << "pgmoneta-admin: " << outcome.error().message() << "\n";
    return kExitFailure;
  }
  return 0;
}

ParsedCommandLine parse_command_line(int argc, const char* const* argv, std::ostream& out,
                                     std::ostream& err) {
  Options opts;
  std::string password;
  std::string format = "text";
  bool version = false;
  CLI::App app{"Administration utility for pgmoneta", "pgmoneta-admin"};
  app.set_help_flag("-?,-h,--help", "Display help");
  app.add_option("-f,--file", opts.file, "Set the path to a users or admins file");
  app.add_option("-U,--user", opts.user, "Set the user name");
  CLI::Option* password_opt =
      app.add_option("-P,--password", password, "Set the password (master key or user)");
  app.add_flag("-g,--generate", opts.generate, "Generate a password");
  app.add_option("-l,--length", opts.length, "Generated password length (default 64)")
      ->check(CLI::Range(1, static_cast<int>(crypto::kMaxPasswordLength)));
  app.add_option("-F,--format", format, "Output format: text or json")
      ->check(CLI::IsMember({"text", "json"}, CLI::ignore_case));
  app.add_flag("-V,--version", version, "Display version information");
  app.add_option("command", opts.command, "master-key | user add | user edit | user del | user ls");
  app.footer(
      "Environment: PGMONETA_PASSWORD supplies the master key (master-key) or the user\n"
      "password (user add/edit); -P wins.\n"
      "pgmoneta: https://pgmoneta.github.io/");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      out << app.help();
      return {std::nullopt, 0};
    }
    err << "pgmoneta-admin: " << e.what() << " (see pgmoneta-admin --help)\n";
    return {std::nullopt, kExitUsage};
  }
  if (version) {
    out << "pgmoneta-admin " << kVersion << "\n";
    return {std::nullopt, 0};
  }
  if (password_opt->count() > 0) {
    opts.password = password;
  }
  std::string f = format;
  for (char& c : f) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  opts.format = f == "json" ? OutputFormat::kJson : OutputFormat::kText;
  if (auto cmd = parse_command(opts.command); !cmd) {
    err << "pgmoneta-admin: " << cmd.error().message() << "\n";
    return {std::nullopt, kExitUsage};
  }
  return {opts, 0};
}

}  // namespace pgm::admin
