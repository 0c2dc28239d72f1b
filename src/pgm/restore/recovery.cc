#include "pgm/restore/recovery.h"

#include <algorithm>
#include <array>

namespace pgm::restore {

namespace {

char lower_char(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower_char);
  return out;
}

bool has_key(const std::vector<std::pair<std::string, std::string>>& settings,
             std::string_view key) {
  return std::any_of(settings.begin(), settings.end(),
                     [&](const auto& kv) { return lower(kv.first) == key; });
}

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.';
}

// The key an active configuration line sets, or "" for blank lines, comments and anything
// that does not start with a key followed by end, space, '=' or a quote.
std::string_view line_key(std::string_view line) {
  size_t pos = 0;
  while (pos < line.size() && (line[pos] == ' ' || line[pos] == '\t')) {
    ++pos;
  }
  const size_t start = pos;
  while (pos < line.size() && is_key_char(line[pos])) {
    ++pos;
  }
  if (pos == start) {
    return {};
  }
  if (pos < line.size() && line[pos] != ' ' && line[pos] != '\t' && line[pos] != '=' &&
      line[pos] != '\'') {
    return {};
  }
  return line.substr(start, pos - start);
}

// libpq conninfo value: bare when it has no space, quote or backslash, else '...' with \' and
// \\ escapes (libpq's conninfo_parse).
std::string conninfo_value(std::string_view value) {
  const bool bare =
      !value.empty() && value.find_first_of(" \t\n\r\f\v'\\") == std::string_view::npos;
  if (bare) {
    return std::string(value);
  }
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '\'';
  return out;
}

void add_target_settings(const Position& p, RecoveryPlan& plan) {
  auto add = [&](std::string key, std::string value) {
    plan.settings.emplace_back(std::move(key), std::move(value));
  };
  bool point = true;  // a target that stops replay somewhere: inclusive/action apply
  switch (p.target) {
    case TargetKind::kImmediate:
      add("recovery_target", "immediate");
      break;
    case TargetKind::kName:
      add("recovery_target_name", p.value);
      break;
    case TargetKind::kXid:
      add("recovery_target_xid", p.value);
      break;
    case TargetKind::kLsn:
      add("recovery_target_lsn", p.value);
      break;
    case TargetKind::kTime:
      // Verbatim: PostgreSQL reads a zone-less time in its own TimeZone setting.
      add("recovery_target_time", p.value);
      break;
    case TargetKind::kCurrent:
    case TargetKind::kNone:
      point = false;
      break;
  }
  if (point && p.inclusive) {
    add("recovery_target_inclusive", *p.inclusive ? "on" : "off");
  }
  add("recovery_target_timeline", p.timeline.empty() ? std::string("latest") : p.timeline);
  if (point && !p.action.empty()) {
    add("recovery_target_action", p.action);
  }
}

}  // namespace

std::string make_conninfo(const ReplicaSource& source) {
  std::string out;
  auto add = [&](std::string_view key, std::string_view value) {
    if (!out.empty()) {
      out += ' ';
    }
    out += key;
    out += '=';
    out += conninfo_value(value);
  };
  if (!source.host.empty()) {
    add("host", source.host);
  }
  if (source.port != 0) {
    add("port", std::to_string(source.port));
  }
  if (!source.user.empty()) {
    add("user", source.user);
  }
  if (!source.application_name.empty()) {
    add("application_name", source.application_name);
  }
  return out;
}

RecoveryPlan plan_recovery(const Position& p, const ReplicaSource& source) {
  RecoveryPlan plan;
  if (p.mode == Mode::kPrimary) {
    if (p.target == TargetKind::kNone) {
      // No position: the cluster does crash recovery from backup_label with the WAL the backup
      // holds and comes up as a primary; nothing to write. Pass-through settings still apply.
      plan.settings = p.extra;
      return plan;
    }
    plan.signal = SignalFile::kRecovery;
    if (!has_key(p.extra, "restore_command")) {
      // PostgreSQL 12+ refuses to start with recovery.signal and no restore_command. The
      // restore has already placed every WAL segment it needs, decompressed, in pg_wal, so the
      // command is `false`: it never finds a file, and PostgreSQL then reads pg_wal itself.
      plan.settings.emplace_back("restore_command", "false");
    }
  } else {
    plan.signal = SignalFile::kStandby;
    if (!has_key(p.extra, "primary_conninfo")) {
      // Never a password: the standby's .pgpass / passfile supplies it.
      plan.settings.emplace_back("primary_conninfo", make_conninfo(source));
    }
  }
  add_target_settings(p, plan);
  plan.settings.insert(plan.settings.end(), p.extra.begin(), p.extra.end());
  return plan;
}

std::string quote_setting(std::string_view value) {
  std::string out = "'";
  for (char c : value) {
    switch (c) {
      case '\'':
        out += "''";
        break;
      case '\\':
        out += "\\\\";  // the configuration lexer reads \ as an escape inside quotes
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        out += c;
    }
  }
  out += '\'';
  return out;
}

std::string comment_out_settings(std::string_view text, std::span<const std::string> keys) {
  std::vector<std::string> wanted;
  wanted.reserve(keys.size());
  for (const std::string& k : keys) {
    wanted.push_back(lower(k));
  }
  std::string out;
  out.reserve(text.size() + 64);
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    const bool has_newline = end != std::string_view::npos;
    if (!has_newline) {
      end = text.size();
    }
    std::string_view line = text.substr(start, end - start);
    const bool has_cr = !line.empty() && line.back() == '\r';
    if (has_cr) {
      line.remove_suffix(1);
    }
    const std::string_view key = line_key(line);
    if (!key.empty() && std::find(wanted.begin(), wanted.end(), lower(key)) != wanted.end()) {
      out += '#';
      out += line;
      out += " # disabled by pgmoneta restore";
    } else {
      out += line;
    }
    if (has_cr) {
      out += '\r';
    }
    if (has_newline) {
      out += '\n';
    }
    start = end + 1;
  }
  return out;
}

std::vector<std::string> keys_to_disable(const RecoveryPlan& plan) {
  static constexpr std::array<std::string_view, 12> kAlways = {
      "primary_conninfo",         "primary_slot_name",      "restore_command",
      "recovery_target",          "recovery_target_name",   "recovery_target_xid",
      "recovery_target_lsn",      "recovery_target_time",   "recovery_target_inclusive",
      "recovery_target_timeline", "recovery_target_action", "standby_mode",
  };
  std::vector<std::string> keys(kAlways.begin(), kAlways.end());
  for (const auto& [key, value] : plan.settings) {
    std::string k = lower(key);
    if (std::find(keys.begin(), keys.end(), k) == keys.end()) {
      keys.push_back(std::move(k));
    }
  }
  return keys;
}

std::string rewrite_auto_conf(std::string_view existing, const RecoveryPlan& plan,
                              std::string_view header) {
  std::string out = comment_out_settings(existing, keys_to_disable(plan));
  if (plan.settings.empty()) {
    return out;
  }
  std::string one_line_header(header);
  std::replace(one_line_header.begin(), one_line_header.end(), '\n', ' ');
  std::replace(one_line_header.begin(), one_line_header.end(), '\r', ' ');
  out += "\n# Generated by pgmoneta restore: ";
  out += one_line_header;
  out += '\n';
  for (const auto& [key, value] : plan.settings) {
    out += key;
    out += " = ";
    out += quote_setting(value);
    out += '\n';
  }
  return out;
}

}  // namespace pgm::restore
