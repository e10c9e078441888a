// Package dbgw runs database sessions as terminal sessions: the real client
// (mariadb or mysql, psql, redis-cli) runs in a pseudo-terminal on the
// bastion, logged in with an account's credentials that the user never sees,
// and its statements are split for the command filters by a Dialect.
//
// # Credentials
//
// Each session gets a private directory (0700) under Options.RuntimeDir,
// owned by the user the client runs as. The credentials go where only that
// user (and root) can read them, never into an argument list, a log or a
// world-readable file:
//
//   - mariadb/mysql: --defaults-file=<dir>/my.cnf (0600) with the user,
//     password, socket and database;
//   - psql: PGPASSFILE=<dir>/pgpass (0600), with PGHOST=<dir> (the socket
//     .s.PGSQL.5432 is there), PGPORT, PGUSER, PGDATABASE;
//   - redis-cli: REDISCLI_AUTH in its environment (/proc/<pid>/environ is
//     readable by its user and root only), -s <socket>, --user, -n.
//
// mariadb's my.cnf is removed as soon as the client has connected (it read it
// at start and keeps the password to reconnect); psql reads its pgpass again
// at each \c, so that one stays until Close, which removes the directory.
//
// # Confinement
//
// The client never connects to the network: it connects to a unix socket in
// its directory, and Session relays each connection there (at most four at a
// time) to one from Spec.Dial, which goes through Portcullis' zones and
// gateways. Start dials once up front, so that an unreachable database fails
// with ErrUnreachable instead of starting a client that prints its own error.
//
// When Portcullis runs as root the client runs as Options.RunAs (nobody by
// default, with no supplementary groups), in its directory, in a session of
// its own (Setsid, with the pty as controlling terminal), and in a network
// namespace of its own with no interface up, so that even a command that
// slipped past the Dialect ("connect" to another host, a shell) could reach
// neither the network nor anything but an empty directory. Its environment is
// built from scratch: TERM, LANG=C.UTF-8, HOME=<dir>, PATH=/usr/bin:/bin,
// history files off (MYSQL_HISTFILE, PSQL_HISTORY, REDISCLI_HISTFILE set to
// /dev/null), no psqlrc (-X) and no redisclirc, no pager, no editor. mariadb
// also runs with local-infile=0 and in its sandbox mode, which refuses \!,
// source, tee and the like by itself.
//
// # What a Dialect refuses
//
// A Dialect follows the client's own reading of the input (mysql.cc's
// add_line and find_command; psql's psqlscan.l and psqlscanslash.l) to tell
// which statements and client commands each line completes, and refuses:
//
//   - mariadb/mysql: the client commands that run programs or touch files
//     (\! system, \P pager, \e edit, \. source, \T tee) wherever the client
//     would run them: a backslash command anywhere outside quotes and
//     comments (inside /*! */ too), a named command at the start of a
//     statement, even after a comment or a ";" on the same line; \R prompt
//     (the gateway reads the prompt), \C charset (the session stays in
//     UTF-8), connect with a host argument, unknown backslash commands, and
//     delimiter anywhere but at the start of a line of its own (delimiter
//     changes are followed). \' inside a string is refused too (double the
//     quote instead), since with NO_BACKSLASH_ESCAPES the client would end
//     the string there, and so are /*+ and /*M! comments that clients read
//     differently.
//   - psql: everything but an allow-list of meta-commands (\d…, \l, \x,
//     \timing, \pset, \set, \echo, \conninfo, \c [database], \g and \gx
//     without arguments, \watch, \sf, \sv, \q…); in particular \!, \e, \ef,
//     \ev, \o, \w, \i, \ir, \copy, \lo_import, \lo_export, \s with a file,
//     \g with a file or pipe, \cd, \setenv, \gexec, \gset, \prompt,
//     \password, \c to another host or user, backticks in any meta-command,
//     \set PROMPT1-3 (prompts run %`…`) and HISTFILE, and :name pasted into
//     SQL (psql lexes a variable's value again, meta-commands included).
//     \' inside a plain string is refused (double the quote instead), since
//     psql reads it differently with standard_conforming_strings off, and so
//     are client encodings whose characters can hide a quote (SJIS, BIG5…).
//   - redis-cli: no shell escape exists; its connect command is refused.
//
// Lines and statements longer than MaxStatement are refused.
//
// # Limits
//
// A Dialect is a guard rail, not a sandbox: it reads what the client will
// send, but cannot see what the server does with it (a stored procedure, a
// server-side COPY … PROGRAM, a prepared statement built from a string), and
// a client version that reads its input differently from the ones followed
// here (mariadb 10.11, psql 15) could part from it. The confinement above is
// what holds then. Sessions that run as the same RunAs user can reach each
// other's processes and credential files (my.cnf until the client connected,
// pgpass until Close): give the clients a user of their own, not shared with
// other services. The
// client speaks its protocol in the clear on the socket; the connection from
// Dial carries it as it is (TLS to the server is not added here).
package dbgw
