package dbgw

import (
	"errors"
	"fmt"
	"strings"
)

// MaxStatement bounds what a Dialect takes in: a line, and the text it
// buffers for one unfinished statement. Beyond it the line is refused.
const MaxStatement = 1 << 20

// Errors a Dialect refuses a line with. Their text is shown to the user, after
// the detail that names what was refused.
var (
	// ErrShellEscape refuses a client command that runs a program on the
	// bastion: \! in mysql and psql, a pager, an editor, psql's backticks.
	ErrShellEscape = errors.New("dbgw: shell escapes are disabled")
	// ErrFileAccess refuses a client command that reads or writes files on
	// the bastion: source, tee, \i, \o, \copy, \lo_import...
	ErrFileAccess = errors.New("dbgw: client-side file access is disabled")
	// ErrClientCommand refuses another client command that the gateway does
	// not allow (it would leave the gateway's control, hide statements from
	// the filters, or is unknown).
	ErrClientCommand = errors.New("dbgw: client command not allowed")
	// ErrAmbiguous refuses input that the client might read differently from
	// the gateway, so that the gateway cannot tell what would run.
	ErrAmbiguous = errors.New("dbgw: ambiguous input")
	// ErrStatementTooLong refuses a line, or a statement, longer than
	// MaxStatement.
	ErrStatementTooLong = errors.New("dbgw: statement too long")
)

// Dialect splits the lines a user types at a database client's prompt into
// the statements and client commands the client will run, and refuses the
// lines that would escape the gateway (shell escapes, client-side files).
// It satisfies github.com/portcullis/portcullis/backend/term.Statements.
//
// A Dialect follows one client session: use one per session. It is not safe
// for concurrent use.
type Dialect struct {
	protocol string
	kind     dialectKind

	my mysqlState
	pg pgState

	// myBefore is the mysql delimiter before the last line: Reset restores it,
	// since the client never saw a line the relay refused.
	myBefore string
}

type dialectKind int

const (
	kindNone dialectKind = iota
	kindMySQL
	kindPostgres
	kindRedis
)

func kindOf(protocol string) dialectKind {
	switch strings.ToLower(protocol) {
	case "mysql", "mariadb":
		return kindMySQL
	case "postgresql":
		return kindPostgres
	case "redis":
		return kindRedis
	}
	return kindNone
}

// NewDialect returns the statement splitter of a protocol's client: "mysql"
// and "mariadb" (the mysql client's grammar), "postgresql" (psql's) and
// "redis" (redis-cli: one command per line). For any other protocol it
// returns a Dialect that refuses every line.
func NewDialect(protocol string) *Dialect {
	d := &Dialect{protocol: protocol, kind: kindOf(protocol)}
	d.my.delim = ";"
	d.myBefore = ";"
	return d
}

// Line takes one line the user entered (the text after the prompt, trimmed)
// and returns the statements and client commands it completes, in order:
// none while a statement goes on over several lines, several for
// "select 1; select 2;". Statements are returned as the client sends them to
// the server: their lines joined with "\n", trimmed, without the comments the
// client strips (so that a comment cannot hide a word from the filters), with
// their terminator when it is ";" (or mysql's \g and \G; a delimiter set with
// the delimiter command is left out). Client commands are returned as typed
// ("use shop", "\x"); a psql command that sends the query buffer (\g,
// \watch...) is returned after the statement it sends.
//
// A non-nil error refuses the whole line; the Dialect is then as it was
// before the line.
func (d *Dialect) Line(line string) ([]string, error) {
	d.myBefore = d.my.delim
	if len(line) > MaxStatement {
		return nil, fmt.Errorf("%w: a line of more than %d bytes", ErrStatementTooLong, MaxStatement)
	}
	if strings.IndexByte(line, 0) >= 0 {
		return nil, fmt.Errorf("%w: the line holds a NUL byte", ErrAmbiguous)
	}
	switch d.kind {
	case kindMySQL:
		saved := d.my.snapshot()
		out, err := d.my.line(line)
		if err != nil {
			d.my = saved
			return nil, err
		}
		return out, nil
	case kindPostgres:
		saved := d.pg.snapshot()
		out, err := d.pg.line(line)
		if err != nil {
			d.pg = saved
			return nil, err
		}
		return out, nil
	case kindRedis:
		return redisLine(line)
	}
	return nil, fmt.Errorf("%w: no statement grammar for protocol %q", ErrClientCommand, d.protocol)
}

// Reset forgets the unfinished statement: the relay refused the last line and
// abandoned it, with the statement it continued, in the client (ClearLine).
// What the last line changed in the client's settings (a mysql delimiter) is
// undone too, since the client never ran it.
func (d *Dialect) Reset() {
	delim := d.myBefore
	d.my = mysqlState{delim: delim}
	d.pg = pgState{}
}

// ClearLine returns the keys that abandon the line being edited and the
// unfinished statement in a protocol's client, as checked with the clients in
// a terminal: Ctrl-E (end of line) and Ctrl-U (erase the line) empty the line
// wherever the cursor is; then Ctrl-C makes mariadb (10.x) and psql drop the
// statement buffered over the previous lines and show a fresh prompt. redis-cli
// has no multi-line statements and exits on Ctrl-C, so it gets Ctrl-E Ctrl-U
// only. Unknown protocols get Ctrl-E Ctrl-U Ctrl-C.
//
// The keys must reach a client that waits at its prompt, as the relay sends
// them once the echo of the line settled: mariadb's line editor, given a
// Ctrl-C right after it printed a prompt (before it set the terminal up),
// keeps the statement.
func ClearLine(protocol string) []byte {
	if kindOf(protocol) == kindRedis {
		return []byte{0x05, 0x15}
	}
	return []byte{0x05, 0x15, 0x03}
}

// redisLine splits redis-cli input: each non-empty line is one command.
// redis-cli has no shell escape; its own "connect host port" command would
// open a connection from the bastion to anywhere, so it is refused.
func redisLine(line string) ([]string, error) {
	s := strings.TrimSpace(line)
	if s == "" {
		return nil, nil
	}
	f := strings.Fields(s)
	// redis-cli repeats a command given a count first: "3 incr n".
	if len(f) > 1 && isDigits(f[0]) {
		f = f[1:]
	}
	if strings.EqualFold(f[0], "connect") {
		return nil, fmt.Errorf("%w: connect (the session stays on its database)", ErrClientCommand)
	}
	return []string{s}, nil
}

// isSpace reports whether c is white space as the clients' C libraries see it.
func isSpace(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r':
		return true
	}
	return false
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// asciiEqualFold compares like the clients do: ASCII letters fold, other
// bytes must be equal. (strings.EqualFold would fold "ſ" to "s".)
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// capped returns b with its capacity cut to its length, so that appending to
// a copy of a state never writes into the array a snapshot still uses.
func capped(b []byte) []byte { return b[:len(b):len(b)] }
