package dbgw

import (
	"bytes"
	"fmt"
	"strings"
)

// The mysql (mariadb) client reads its input line by line and keeps a
// statement buffer: mysqlState follows it the way client/mysql.cc does, in
// read_and_execute, add_line and find_command, so that the gateway sees the
// statements and client commands the client will run.
//
// Three places run client commands: a line that starts with a command's name
// while the buffer is empty ("system ls", executed at once unless the line
// holds the delimiter or \g); a backslash command anywhere outside quotes and
// comments ("select 1 \! ls", executed at once, even inside /*! */); and a
// statement whose text, at its delimiter, starts with a command's name
// ("/* */ source /etc/x;"). Comments are stripped from the statement the way
// the client strips them.

// mysqlState is the client's input state between lines.
type mysqlState struct {
	delim string // the statement delimiter, ";" until a delimiter command
	inStr byte   // the quote the buffer is inside of ('\'', '"', '`'), or 0
	ml    bool   // inside a /* */ comment
	buf   []byte // the statement buffer: what the client sends, comments stripped
}

func (m *mysqlState) snapshot() mysqlState {
	s := *m
	s.buf = capped(m.buf)
	return s
}

// mysqlAction is what the gateway makes of a client command.
type mysqlAction int

const (
	myAllow     mysqlAction = iota // harmless: runs, and is returned as a command
	myGo                           // \g: sends the buffer
	myEgo                          // \G: sends the buffer, vertical output
	myClear                        // \c: clears the buffer
	myDelimiter                    // changes the delimiter
	myConnect                      // reconnects: allowed to a database, not to another host
	myQuit                         // ends the client
	myShell                        // runs a program: refused
	myFile                         // reads or writes a file: refused
	myRefused                      // refused for another reason
)

// mysqlCommand is one of the client's commands (mysql.cc's commands[]).
type mysqlCommand struct {
	name   string
	char   byte
	params bool
	act    mysqlAction
	why    string // for refused commands: why, shown to the user
}

// mysqlCommands lists the client commands of mariadb 10.11 (and of the mysql
// clients before it); sandbox (\-) is mariadb's own.
var mysqlCommands = [...]mysqlCommand{
	{name: "?", char: '?', params: true},
	{name: "clear", char: 'c', act: myClear},
	{name: "connect", char: 'r', params: true, act: myConnect},
	{name: "delimiter", char: 'd', params: true, act: myDelimiter},
	{name: "edit", char: 'e', act: myShell, why: "it runs an editor"},
	{name: "ego", char: 'G', act: myEgo},
	{name: "exit", char: 'q', act: myQuit},
	{name: "go", char: 'g', act: myGo},
	{name: "help", char: 'h', params: true},
	{name: "nopager", char: 'n'},
	{name: "notee", char: 't'},
	{name: "pager", char: 'P', params: true, act: myShell, why: "a pager is a program"},
	{name: "print", char: 'p'},
	{name: "prompt", char: 'R', params: true, act: myRefused, why: "the gateway reads the prompt"},
	{name: "quit", char: 'q', act: myQuit},
	{name: "rehash", char: '#'},
	{name: "sandbox", char: '-'},
	{name: "source", char: '.', params: true, act: myFile, why: "it reads a file"},
	{name: "status", char: 's'},
	{name: "system", char: '!', params: true, act: myShell, why: "it runs a shell command"},
	{name: "tee", char: 'T', params: true, act: myFile, why: "it writes a file"},
	{name: "use", char: 'u', params: true},
	{name: "charset", char: 'C', params: true, act: myRefused, why: "the session stays in UTF-8"},
	{name: "warnings", char: 'W'},
	{name: "nowarning", char: 'w'},
}

func mysqlCommandByChar(c byte) *mysqlCommand {
	for i := range mysqlCommands {
		if mysqlCommands[i].char == c {
			return &mysqlCommands[i]
		}
	}
	return nil
}

// refusal is the error for a refused command, named as the user typed it.
func (c *mysqlCommand) refusal(as string) error {
	switch c.act {
	case myShell:
		return fmt.Errorf("%w: %s (%s)", ErrShellEscape, as, c.why)
	case myFile:
		return fmt.Errorf("%w: %s (%s)", ErrFileAccess, as, c.why)
	}
	return fmt.Errorf("%w: %s (%s)", ErrClientCommand, as, c.why)
}

func (c *mysqlCommand) refused() bool {
	return c.act == myShell || c.act == myFile || c.act == myRefused
}

// line takes one line: a client command line while the buffer is empty
// (read_and_execute), or a line of statements (add_line).
func (m *mysqlState) line(line string) ([]string, error) {
	if len(m.buf) == 0 && !m.ml && m.inStr == 0 {
		if c := mysqlFindNamed(line, m.delim); c != nil {
			return m.named(c, line)
		}
	}
	return m.addLine(line)
}

// named runs a client command given by name on a line of its own.
func (m *mysqlState) named(c *mysqlCommand, line string) ([]string, error) {
	text := strings.TrimSpace(line)
	switch {
	case c.refused():
		return nil, c.refusal(c.name)
	case c.act == myConnect:
		if err := mysqlCheckConnect(line); err != nil {
			return nil, err
		}
	case c.act == myDelimiter:
		m.setDelimiter(line)
	case c.act == myClear, c.act == myGo, c.act == myEgo:
		return nil, nil // the buffer is empty: nothing runs
	}
	return []string{text}, nil
}

// setDelimiter follows com_delimiter: the first argument of the command line
// (truncated as the client does) becomes the delimiter, unless it is empty or
// holds a backslash (the client refuses those).
func (m *mysqlState) setDelimiter(cmdline string) {
	if len(cmdline) > 255 {
		cmdline = cmdline[:255]
	}
	arg, ok := mysqlGetArg(cstring(cmdline), argGet)
	if !ok || arg == "" || strings.Contains(arg, `\`) {
		return
	}
	if len(arg) > 15 {
		arg = arg[:15]
	}
	m.delim = arg
}

// addLine follows add_line: it scans the line, runs the backslash commands,
// ends statements at the delimiter and strips comments.
func (m *mysqlState) addLine(line string) ([]string, error) {
	if line == "" && len(m.buf) == 0 {
		return nil, nil
	}
	var out []string
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	ss := false        // inside /*! */: code for the server
	needSpace := false // a comment ended: the next character gets a space before it
	pending := len(m.buf)
scan:
	for i := 0; i < n; i++ {
		c := line[i]
		if isSpace(c) && len(m.buf) == 0 {
			continue // spaces at the start of a statement
		}
		switch {
		case !m.ml && c == '\\' && m.inStr != '`':
			i++
			if i >= n {
				break scan
			}
			c2 := line[i]
			if m.inStr != 0 {
				if c2 == m.inStr {
					// With NO_BACKSLASH_ESCAPES (or ANSI_QUOTES for "), the
					// client ends the string here; without, it does not.
					return nil, fmt.Errorf("%w: write %c%c for a quote inside a string, not \\%c", ErrAmbiguous, c2, c2, c2)
				}
				m.buf = append(m.buf, '\\', c2)
				continue
			}
			if c2 == 'N' { // \N is NULL
				m.buf = append(m.buf, '\\', c2)
				continue
			}
			cmd := mysqlCommandByChar(c2)
			if cmd == nil {
				return nil, fmt.Errorf("%w: unknown client command \\%s", ErrClientCommand, printable(c2))
			}
			if cmd.refused() {
				return nil, cmd.refusal(`\` + string(c2))
			}
			start := i - 1
			switch cmd.act {
			case myGo, myEgo:
				if s := strings.TrimSpace(string(m.buf)); s != "" {
					out = append(out, s+`\`+string(c2))
				}
				m.buf = nil
			case myClear:
				m.buf = nil
			case myDelimiter:
				m.setDelimiter(line[start:])
			case myConnect:
				if err := mysqlCheckConnect(line[start:]); err != nil {
					return nil, err
				}
				m.buf = nil // com_connect empties the buffer
			case myQuit:
				return append(out, `\q`), nil
			}
			if cmd.params {
				// The client skips the arguments: to the end of the /*! */
				// comment, or past the next delimiter, or to the end of the line.
				var end int
				if ss {
					for i++; i < n && !(line[i] == '*' && at(i+1) == '/'); i++ {
					}
					end = i
					i--
				} else {
					for i++; i < n && !strings.HasPrefix(line[i:], m.delim); i++ {
					}
					end = min(i+len(m.delim), n)
					if i >= n {
						i--
					} else {
						i += len(m.delim) - 1
					}
				}
				if cmd.act != myClear {
					out = append(out, strings.TrimSpace(line[start:end]))
				}
			} else if cmd.act == myAllow {
				out = append(out, line[start:i+1])
			}
			pending = len(m.buf)

		case !m.ml && m.inStr == 0 && strings.HasPrefix(line[i:], m.delim):
			i += len(m.delim) - 1
			s, err := m.endStatement()
			if err != nil {
				return nil, err
			}
			if s != "" {
				out = append(out, s)
			}
			pending = 0

		case !m.ml && m.inStr == 0 && (c == '#' || c == '-' && at(i+1) == '-' && (isSpace(at(i+2)) || i+2 >= n || len(m.buf) == 0)):
			pending = len(m.buf)
			break scan // a comment to the end of the line

		case m.inStr == 0 && c == '/' && at(i+1) == '*' && !(at(i+2) == '!' || at(i+2) == 'M' && at(i+3) == '!'):
			if !m.ml && at(i+2) == '+' {
				if err := mysqlCheckVersionComment(line[i:], m.delim); err != nil {
					return nil, err
				}
			}
			i++
			m.ml = true
			pending = len(m.buf)

		case m.ml && !ss && c == '*' && at(i+1) == '/':
			i++
			m.ml = false
			pending = len(m.buf)
			needSpace = true

		default:
			if m.inStr == 0 && c == '/' && at(i+1) == '*' && at(i+2) == '!' {
				ss = true
			} else if m.inStr == 0 && ss && c == '*' && at(i+1) == '/' {
				ss = false
				if at(i+2) == '*' {
					// Clients differ on whether "*/*" closes the comment and
					// opens another.
					return nil, fmt.Errorf("%w: put a space between */ and *", ErrAmbiguous)
				}
			}
			if !m.ml && m.inStr == 0 && c == '/' && at(i+1) == '*' && at(i+2) == 'M' && at(i+3) == '!' {
				if err := mysqlCheckVersionComment(line[i:], m.delim); err != nil {
					return nil, err
				}
			}
			if c == m.inStr {
				m.inStr = 0
			} else if !m.ml && m.inStr == 0 && (c == '\'' || c == '"' || c == '`') {
				m.inStr = c
			}
			if !m.ml {
				if needSpace && !isSpace(c) {
					m.buf = append(m.buf, ' ')
				}
				needSpace = false
				m.buf = append(m.buf, c)
			}
		}
		if len(m.buf) > MaxStatement {
			return nil, fmt.Errorf("%w: more than %d bytes in one statement", ErrStatementTooLong, MaxStatement)
		}
	}
	if !m.ml && len(m.buf) > 0 {
		// The client ends the line with a newline, except after a delimiter
		// command that is to take the rest of the buffer as its argument.
		if !mysqlIsDelimiterCommand(string(m.buf[pending:])) || m.inStr != 0 {
			m.buf = append(m.buf, '\n')
		}
	}
	if len(bytes.TrimSpace(m.buf)) == 0 {
		m.buf = nil
	}
	if err := mysqlCheckStart(m.buf); err != nil {
		return nil, err
	}
	return out, nil
}

// endStatement handles a delimiter: the client runs the buffer as a client
// command when it starts with a command's name, else sends it to the server.
func (m *mysqlState) endStatement() (string, error) {
	s := string(m.buf)
	m.buf = nil
	if c := mysqlFindNamed(s, m.delim); c != nil {
		switch {
		case c.refused():
			return "", c.refusal(c.name)
		case c.act == myDelimiter:
			return "", fmt.Errorf("%w: put the delimiter command at the start of a line of its own", ErrAmbiguous)
		case c.act == myConnect:
			if err := mysqlCheckConnect(s); err != nil {
				return "", err
			}
		case c.act == myClear:
			return "", nil
		}
	} else if err := mysqlCheckStart([]byte(s)); err != nil {
		return "", err
	}
	stmt := strings.TrimSpace(s)
	if stmt != "" && m.delim == ";" {
		stmt += ";"
	}
	return stmt, nil
}

// mysqlCheckStart refuses a statement whose first word is a refused client
// command, whether or not the client would run it as one: a guard rail wider
// than find_command, which also catches "source\n/etc/x;". It looks at the
// start of the buffer only, so that a statement of many lines costs no more
// per line.
func mysqlCheckStart(buf []byte) error {
	i := 0
	for i < len(buf) && isSpace(buf[i]) {
		i++
	}
	j := i
	for j < len(buf) && !isSpace(buf[j]) && j-i <= len("nowarning") {
		j++
	}
	word := string(buf[i:j])
	for i := range mysqlCommands {
		c := &mysqlCommands[i]
		if !asciiEqualFold(word, c.name) {
			continue
		}
		switch {
		case c.refused():
			return c.refusal(c.name)
		case c.act == myDelimiter:
			return fmt.Errorf("%w: put the delimiter command at the start of a line of its own", ErrAmbiguous)
		case c.act == myConnect:
			return mysqlCheckConnect(string(buf))
		}
	}
	return nil
}

// mysqlCheckConnect refuses a connect command with a host argument: the
// client would connect from the bastion to that host. "connect" and
// "connect <database>" reconnect through the gateway.
func mysqlCheckConnect(cmdline string) error {
	b := cstring(cmdline)
	if db, ok := mysqlGetArg(b, argGet); ok && db != "" {
		if _, ok := mysqlGetArg(b, argGetNext); ok {
			return fmt.Errorf("%w: connect to a host (use connect [database])", ErrClientCommand)
		}
	}
	return nil
}

// mysqlCheckVersionComment refuses a /*+ or /*M! comment that the gateway
// cannot read the same way as every client: mariadb 10.11 takes /*+ for a
// comment and /*M! for code, mysql 8 the other way round. Both readings agree
// when the comment ends on the line and holds nothing that quotes, comments
// or ends a statement.
func mysqlCheckVersionComment(s, delim string) error {
	end := strings.Index(s[2:], "*/")
	if end >= 0 {
		body := s[2 : 2+end]
		if !strings.ContainsAny(body, "'\"`\\#") && !strings.Contains(body, "--") &&
			!strings.Contains(body, "/*") && !strings.Contains(body, delim) {
			return nil
		}
	}
	return fmt.Errorf("%w: a /*+ or /*M! comment must end on its line and hold no quotes, backslashes, comments or delimiters", ErrAmbiguous)
}

// mysqlFindNamed follows find_command(char *name): the client command whose
// name starts the line, if the client would run the line as that command.
func mysqlFindNamed(line, delim string) *mysqlCommand {
	name := strings.TrimLeft(line, " \t\n\v\f\r")
	if strings.Contains(name, `\g`) || strings.Contains(name, delim) && !mysqlIsDelimiterCommand(name) {
		return nil
	}
	word, hasArgs := name, false
	if i := strings.IndexAny(name, " \t"); i >= 0 {
		word = name[:i]
		hasArgs = strings.TrimLeft(name[i:], " \t\n\v\f\r") != ""
	}
	for i := range mysqlCommands {
		c := &mysqlCommands[i]
		if !asciiEqualFold(word, c.name) {
			continue
		}
		if !hasArgs {
			return c
		}
		if c.params {
			if _, ok := mysqlGetArg(cstring(name), argCheck); ok {
				return c
			}
		}
		return nil
	}
	return nil
}

// mysqlIsDelimiterCommand follows is_delimiter_command.
func mysqlIsDelimiterCommand(s string) bool {
	return len(s) >= 9 && asciiEqualFold(s[:9], "delimiter")
}

// Modes of mysqlGetArg, as get_arg's.
const (
	argCheck = iota
	argGet
	argGetNext
)

// cstring returns s as the client's C string: the bytes and NULs after them.
func cstring(s string) []byte {
	b := make([]byte, len(s)+3)
	copy(b, s)
	return b
}

// mysqlGetArg follows get_arg: the argument of a client command line b (a
// cstring, which argGet modifies as the C code does, so that argGetNext finds
// the second argument after it).
func mysqlGetArg(b []byte, mode int) (string, bool) {
	p := 0
	short := false
	if mode == argGetNext {
		for b[p] != 0 {
			p++
		}
		if b[p+1] != 0 {
			p++
		}
	} else {
		for isSpace(b[p]) {
			p++
		}
		if b[p] == '\\' {
			short = true
			p += 2
		} else {
			for b[p] != 0 && !isSpace(b[p]) {
				p++
			}
		}
	}
	if p >= len(b)-2 || b[p] == 0 {
		return "", false
	}
	for isSpace(b[p]) {
		p++
	}
	var q byte
	if b[p] == '\'' || b[p] == '"' || b[p] == '`' {
		q = b[p]
		p++
	}
	start := p
	for ; b[p] != 0; p++ {
		if b[p] == '\\' && b[p+1] != 0 || !short && q != 0 && b[p] == q && b[p+1] == q {
			if mode != argCheck {
				copy(b[p:], b[p+1:])
			} else {
				p++
			}
		} else if q != 0 && b[p] == q || q == 0 && b[p] == ' ' {
			q = 0
			if mode != argCheck {
				b[p] = 0
			}
			break
		}
	}
	if p == start || q != 0 {
		return "", false
	}
	return string(b[start:p]), true
}

// printable shows a byte of a refused command readably.
func printable(c byte) string {
	if c >= 0x21 && c < 0x7f {
		return string(c)
	}
	return fmt.Sprintf("\\x%02x", c)
}
