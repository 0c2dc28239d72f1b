// The grammar that shell completion (contrib/bash-completion/pgmoneta-cli) reads from
// `pgmoneta-cli --completion-grammar`, built from the same CLI11 parser and command table
// that parse the real command line, so completion cannot drift from the program. Pure.
//
// One line per option or verb, fields separated by tabs:
//   option <TAB> -F,--format <TAB> value|flag <TAB> <description>
//   verb   <TAB> backup      <TAB> <server> [parent]
//   command <TAB> status details       (every command named by more than its verb)
//   key    <TAB> main|server <TAB> compression   (a configuration key, as conf get/set take it)
// A value option's choices are the description's last word when it holds '|'
// ("Output format: text|json|raw"). A verb's usage (management/command_table.h) names its
// arguments: <server>, <id> and [parent] (a backup), <directory>, <file>, words such as
// online|offline, and alternatives "reload | ls | get [key]" whose first word is literal.
// An optional [word] is literal when "<verb> <word>" is a command ([details]).
#pragma once

#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace pgm::cli {

// The hidden argument that prints the grammar (alone on the command line).
inline constexpr std::string_view kCompletionGrammarFlag = "--completion-grammar";

// The grammar of `app` (pgmoneta-cli's parser, fully set up): its options, then its verbs in
// the order of `pgmoneta-cli --help`, then the commands of more than one word, then the
// configuration keys of [pgmoneta] and of a server section.
std::string completion_grammar(const CLI::App& app);

}  // namespace pgm::cli
