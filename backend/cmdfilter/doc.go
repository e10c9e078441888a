// Package cmdfilter decides what happens to a command line before it
// reaches a target: it compiles an organization's command filters (ordered
// rules binding command groups to an action for some users, user groups,
// assets and accounts) and checks a command against them. The first active
// rule, by priority (lower first) then ID, that applies to the scope and has
// a matching entry gives the verdict: deny, confirm, warn or allow, with a
// risk level (critical, high, medium, low). The SSH relay checks each command
// line it extracts and each exec request with the same Engine.
//
// A group of kind "regex" holds one Go regular expression per line, matched
// anywhere in the command line (RE2: linear time whatever the input). A group
// of kind "command" holds one literal command per line, matched as whole
// words at a command boundary:
//
//   - The command line is split into simple commands at ; & && | || |& ( )
//     $( ` and newlines, even inside quotes (a filter prefers a false alarm
//     on `echo "a; rm -rf /"` to trusting a quote that the shell may read
//     otherwise). Quotes and backslashes are removed, backslash-newline
//     joins lines, white space is not significant.
//   - Words that only prepare a command are peeled off one by one, and each
//     stage can match: assignments (FOO=1), keywords (if, then, do, !, {),
//     sudo, doas, env, nohup, time, exec, command, builtin, nice, ionice,
//     timeout, stdbuf, setsid, xargs, chroot, busybox and others, with their
//     options. The strings run by sh -c, bash -c, su -c, env -S and eval are
//     checked as command lines of their own.
//   - The command name is compared without its directory (/bin/rm is rm) and
//     also matches its dotted variants (mkfs matches mkfs.ext4). Every option
//     letter, long option, argument and redirection target of the entry must
//     be present, in any order and grouping: "rm -rf /" matches rm -fr /,
//     rm -r -f /, rm --recursive --force -- / and rm -rf /tmp /, but not
//     rm -rf /tmp/x. Absolute paths are cleaned (//, /tmp/.. are /).
//   - An entry with shell syntax in it (a pipeline, a fork bomb) matches a
//     run of simple commands in order, or the text with white space
//     removed; a fork bomb entry matches a fork bomb of any name.
//
// IgnoreCase applies to both kinds. A command longer than MaxCommandLen is
// checked on its beginning, cut at a word boundary.
//
// A filter is a guard rail, not a sandbox: variables, aliases, scripts and
// interpreters can always run what no pattern names. Pair it with accounts
// of least privilege.
package cmdfilter
