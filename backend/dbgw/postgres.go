package dbgw

import (
	"fmt"
	"regexp"
	"strings"
)

// psql reads its input line by line into a query buffer, lexed by
// psqlscan.l: a ";" outside quotes, comments and parentheses (and outside a
// BEGIN ATOMIC function body) sends the buffer; a backslash outside quotes
// and comments starts meta-commands, which take the rest of the line (several
// may follow each other; "\\" goes back to SQL). pgState follows that lexer.
//
// Plain '…' strings are read two ways at once: as psql reads them with
// standard_conforming_strings on (the default) and as it reads them with it
// off (backslash escapes). A line on which the two readings part (a \' inside
// a plain string) is refused, so that what the gateway sees is what psql does
// whatever the server's setting.

// pgLex is the lexer state between characters (psqlscan.l's start states).
type pgLex int

const (
	pgInitial pgLex = iota
	pgComment       // /* */, nested
	pgPlain         // '…': standard string, also checked as an escape string
	pgEscape        // E'…'
	pgBits          // B'…', X'…': no escapes, no '' inside
	pgUnicode       // U&'…': no escapes, '' inside
	pgIdent         // "…" and U&"…"
	pgDollar        // $tag$…$tag$
)

// pgState is psql's input state between lines.
type pgState struct {
	st         pgLex
	xcDepth    int    // nesting of /* */ beyond the first
	dolqTag    string // the $tag$ that ends a dollar-quoted string
	paren      int
	begin      int // BEGIN … END depth inside CREATE FUNCTION … BEGIN ATOMIC
	idents     [4]byte
	identCount int
	buf        []byte // the query buffer
}

func (p *pgState) snapshot() pgState {
	s := *p
	s.buf = capped(p.buf)
	return s
}

// resetScan forgets the query buffer and the lexer state, as psql does after
// \r and after a meta-command sent the buffer.
func (p *pgState) resetScan() { *p = pgState{} }

// Regular expressions that find a client encoding being set.
var (
	pgClientEncoding = regexp.MustCompile(`(?i)client_encoding['"]?\s*(?:=|\bto\b|,)?\s*['"]?\s*([a-z0-9_-]*)`)
	pgSetNames       = regexp.MustCompile(`(?i)\bset\s+(?:session\s+|local\s+)?names\s+['"]?([a-z0-9_-]*)`)
)

func (p *pgState) line(line string) ([]string, error) {
	if line == "" && p.st == pgInitial {
		return nil, nil // psql drops a blank line outside quotes
	}
	if len(p.buf) > 0 {
		p.buf = append(p.buf, '\n')
	}
	var out []string
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	emit := func(s string) { p.buf = append(p.buf, s...) }
	bs := false // in a plain string: the previous backslash is active when read as an escape string
	for i := 0; i < n; i++ {
		c := line[i]
		switch p.st {
		case pgComment:
			switch {
			case c == '/' && at(i+1) == '*':
				p.xcDepth++
				emit("/*")
				i++
			case c == '*' && at(i+1) == '/':
				if p.xcDepth <= 0 {
					p.st = pgInitial
				} else {
					p.xcDepth--
				}
				emit("*/")
				i++
			default:
				p.buf = append(p.buf, c)
			}
		case pgPlain:
			switch {
			case c == '\'' && bs:
				return nil, fmt.Errorf("%w: write '' for a quote inside a string, not \\' (psql reads it differently when standard_conforming_strings is off)", ErrAmbiguous)
			case c == '\'' && at(i+1) == '\'':
				emit("''")
				i++
			case c == '\'':
				p.st = pgInitial
				p.buf = append(p.buf, c)
			default:
				bs = c == '\\' && !bs
				p.buf = append(p.buf, c)
			}
		case pgEscape:
			switch {
			case c == '\\':
				p.buf = append(p.buf, c)
				if i+1 < n {
					i++
					p.buf = append(p.buf, line[i])
				}
			case c == '\'' && at(i+1) == '\'':
				emit("''")
				i++
			case c == '\'':
				p.st = pgInitial
				p.buf = append(p.buf, c)
			default:
				p.buf = append(p.buf, c)
			}
		case pgBits:
			if c == '\'' {
				p.st = pgInitial
			}
			p.buf = append(p.buf, c)
		case pgUnicode:
			switch {
			case c == '\'' && at(i+1) == '\'':
				emit("''")
				i++
			case c == '\'':
				p.st = pgInitial
				p.buf = append(p.buf, c)
			default:
				p.buf = append(p.buf, c)
			}
		case pgIdent:
			switch {
			case c == '"' && at(i+1) == '"':
				emit(`""`)
				i++
			case c == '"':
				p.st = pgInitial
				p.buf = append(p.buf, c)
			default:
				p.buf = append(p.buf, c)
			}
		case pgDollar:
			if c == '$' && strings.HasPrefix(line[i:], p.dolqTag) {
				emit(p.dolqTag)
				i += len(p.dolqTag) - 1
				p.st, p.dolqTag = pgInitial, ""
			} else {
				p.buf = append(p.buf, c)
			}
		default:
			next, err := p.initial(line, i, &out, &bs)
			if err != nil {
				return nil, err
			}
			i = next
		}
		if len(p.buf) > MaxStatement {
			return nil, fmt.Errorf("%w: more than %d bytes in one statement", ErrStatementTooLong, MaxStatement)
		}
	}
	return out, nil
}

// initial lexes the token at line[i] outside quotes and comments, and returns
// the index of its last byte.
func (p *pgState) initial(line string, i int, out *[]string, bs *bool) (int, error) {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	emit := func(s string) { p.buf = append(p.buf, s...) }
	c := line[i]
	switch {
	case isSpace(c):
		if len(p.buf) > 0 {
			p.buf = append(p.buf, c)
		}
	case c == '-' && at(i+1) == '-':
		return n - 1, nil // a comment, which psql leaves out of the buffer
	case c == '/' && at(i+1) == '*':
		p.st, p.xcDepth = pgComment, 0
		emit("/*")
		return i + 1, nil
	case (c == 'e' || c == 'E') && at(i+1) == '\'':
		p.st = pgEscape
		emit(line[i : i+2])
		return i + 1, nil
	case (c == 'b' || c == 'B' || c == 'x' || c == 'X') && at(i+1) == '\'':
		p.st = pgBits
		emit(line[i : i+2])
		return i + 1, nil
	case (c == 'u' || c == 'U') && at(i+1) == '&' && at(i+2) == '\'':
		p.st = pgUnicode
		emit(line[i : i+3])
		return i + 2, nil
	case (c == 'u' || c == 'U') && at(i+1) == '&' && at(i+2) == '"':
		p.st = pgIdent
		emit(line[i : i+3])
		return i + 2, nil
	case c == '\'':
		p.st, *bs = pgPlain, false
		p.buf = append(p.buf, c)
	case c == '"':
		p.st = pgIdent
		p.buf = append(p.buf, c)
	case c == '$':
		if tag := pgDollarTag(line[i:]); tag != "" {
			p.st, p.dolqTag = pgDollar, tag
			emit(tag)
			return i + len(tag) - 1, nil
		}
		j := i + 1
		for j < n && isDigit(line[j]) {
			j++
		}
		emit(line[i:j]) // $ or a parameter, $1
		return j - 1, nil
	case c == '(':
		p.paren++
		p.buf = append(p.buf, c)
	case c == ')':
		if p.paren > 0 {
			p.paren--
		}
		p.buf = append(p.buf, c)
	case c == ';':
		p.buf = append(p.buf, c)
		if p.paren == 0 && p.begin == 0 {
			stmt := strings.TrimSpace(string(p.buf))
			if err := pgCheckEncoding(stmt); err != nil {
				return 0, err
			}
			*out = append(*out, stmt)
			p.buf = nil
			p.identCount = 0
		}
	case c == '\\' && (at(i+1) == ';' || at(i+1) == ':'):
		// \; and \: put a plain ; or : in the buffer.
		p.buf = append(p.buf, line[i+1])
		if line[i+1] == ';' {
			p.identCount = 0
		}
		return i + 1, nil
	case c == '\\':
		return p.meta(line, i, out)
	case c == ':':
		return p.colon(line, i)
	case pgIdentStart(c):
		j := i + 1
		for j < n && pgIdentCont(line[j]) {
			j++
		}
		p.identifier(line[i:j])
		emit(line[i:j])
		return j - 1, nil
	case isDigit(c):
		// A number, and any letters stuck to it (psql 15 reads "1e'x'" as
		// "1e" and a plain string; older ones as 1 and an E'' string: the
		// plain-string check covers both).
		j := i + 1
		for j < n && isDigit(line[j]) {
			j++
		}
		for j < n && pgIdentCont(line[j]) {
			j++
		}
		emit(line[i:j])
		return j - 1, nil
	default:
		p.buf = append(p.buf, c)
	}
	return i, nil
}

// identifier follows psqlscan.l's heuristic for SQL-standard function bodies:
// inside CREATE [OR REPLACE] FUNCTION|PROCEDURE, BEGIN … END (and CASE … END
// within) does not end at a ";".
func (p *pgState) identifier(word string) {
	if p.identCount == 0 {
		p.idents = [4]byte{}
	}
	for _, k := range [...]string{"create", "function", "procedure", "or", "replace"} {
		if asciiEqualFold(word, k) {
			if p.identCount < len(p.idents) {
				p.idents[p.identCount] = lower(word[0])
			}
			break
		}
	}
	p.identCount++
	id := p.idents
	if id[0] == 'c' && (id[1] == 'f' || id[1] == 'p' || id[1] == 'o' && id[2] == 'r' && (id[3] == 'f' || id[3] == 'p')) && p.paren == 0 {
		switch {
		case asciiEqualFold(word, "begin"):
			p.begin++
		case asciiEqualFold(word, "case"):
			if p.begin >= 1 {
				p.begin++
			}
		case asciiEqualFold(word, "end"):
			if p.begin > 0 {
				p.begin--
			}
		}
	}
}

// colon lexes a ":" outside quotes: a typecast, :=, or a psql variable.
// psql pastes the value of :name into the query unquoted and lexes it again,
// meta-commands included (a variable holding "\! ls" runs ls), and the
// filters never see the value: :name is refused. :'name' and :"name" are
// quoted by psql and stay allowed, as is :1 (never a variable here, since
// \set refuses names that start with a digit), so that a[1:2] still works.
func (p *pgState) colon(line string, i int) (int, error) {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	varEnd := func(j int) int {
		for j < n && pgVarChar(line[j]) {
			j++
		}
		return j
	}
	switch c1 := at(i + 1); {
	case c1 == ':' || c1 == '=':
		p.buf = append(p.buf, line[i:i+2]...)
		return i + 1, nil
	case c1 == '\'' || c1 == '"':
		if j := varEnd(i + 2); j > i+2 && at(j) == c1 {
			p.buf = append(p.buf, line[i:j+1]...)
			return j, nil
		}
	case c1 == '{' && at(i+2) == '?':
		if j := varEnd(i + 3); j > i+3 && at(j) == '}' {
			p.buf = append(p.buf, line[i:j+1]...)
			return j, nil
		}
	case pgVarChar(c1):
		j := varEnd(i + 1)
		if !isDigit(c1) {
			return 0, fmt.Errorf("%w: :%s (psql variables are not pasted into SQL here; write :'%s' for a literal or :\"%s\" for a name)",
				ErrClientCommand, line[i+1:j], line[i+1:j], line[i+1:j])
		}
		p.buf = append(p.buf, line[i:j]...)
		return j - 1, nil
	}
	p.buf = append(p.buf, ':')
	return i, nil
}

// pgDollarTag returns the $tag$ that s starts with, or "".
func pgDollarTag(s string) string {
	if len(s) < 2 || s[0] != '$' {
		return ""
	}
	j := 1
	if pgIdentStart(s[j]) {
		for j < len(s) && pgIdentStart(s[j]) || j < len(s) && isDigit(s[j]) {
			j++
		}
	}
	if j < len(s) && s[j] == '$' {
		return s[:j+1]
	}
	return ""
}

func pgIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func pgIdentCont(c byte) bool { return pgIdentStart(c) || isDigit(c) || c == '$' }

func pgVarChar(c byte) bool { return pgIdentStart(c) || isDigit(c) }

// pgSlashSpace is white space for psql's meta-command lexer.
func pgSlashSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'
}

// pgArg is one argument of a meta-command.
type pgArg struct {
	raw      string // as typed
	value    string // quotes removed (roughly: enough for the checks)
	quoted   bool
	backtick bool // holds `…`: psql runs it through the shell
	variable bool // holds an unquoted :name, pasted as is
}

// meta lexes the meta-commands that start at line[i] (a backslash) and go on
// to the end of the line or to "\\"; it returns the index of their last byte.
func (p *pgState) meta(line string, i int, out *[]string) (int, error) {
	n := len(line)
	for {
		j := i + 1
		for j < n && !pgSlashSpace(line[j]) && line[j] != '\\' {
			j++
		}
		name := line[i+1 : j]
		if name == "" {
			return 0, fmt.Errorf("%w: an empty meta-command (\\\\)", ErrClientCommand)
		}
		var args []pgArg
		end := n
		if pgWholeLine(name) {
			if rest := strings.TrimSpace(line[j:]); rest != "" {
				args = append(args, pgArg{raw: rest, value: rest, backtick: strings.Contains(rest, "`")})
			}
		} else {
			args, end = pgSlashArgs(line, j)
		}
		text := strings.TrimSpace(line[i:end])
		effect, err := pgMetaPolicy(name, args)
		if err != nil {
			return 0, err
		}
		switch effect {
		case pgSends:
			if s := strings.TrimSpace(string(p.buf)); s != "" {
				if err := pgCheckEncoding(s); err != nil {
					return 0, err
				}
				*out = append(*out, s)
			}
			*out = append(*out, text)
			p.resetScan()
		case pgResets:
			*out = append(*out, text)
			p.resetScan()
		case pgQuits:
			*out = append(*out, text)
			return n - 1, nil
		default:
			*out = append(*out, text)
		}
		if end >= n {
			return n - 1, nil
		}
		// line[end] is an unquoted backslash: "\\" goes back to SQL, any
		// other starts the next meta-command.
		if end+1 < n && line[end+1] == '\\' {
			return end + 1, nil
		}
		i = end
	}
}

// pgSlashArgs lexes the arguments of a meta-command from line[j] as
// psqlscanslash.l does: they end at an unquoted backslash or at the end of the
// line. It returns them and where they end.
func pgSlashArgs(line string, j int) ([]pgArg, int) {
	n := len(line)
	at := func(i int) byte {
		if i < n {
			return line[i]
		}
		return 0
	}
	var args []pgArg
	k := j
	for {
		for k < n && pgSlashSpace(line[k]) {
			k++
		}
		if k >= n || line[k] == '\\' {
			return args, k
		}
		var a pgArg
		var val strings.Builder
		start := k
		for k < n && !pgSlashSpace(line[k]) && line[k] != '\\' {
			switch c := line[k]; c {
			case '\'':
				a.quoted = true
				for k++; k < n; k++ {
					if line[k] == '\\' && k+1 < n {
						k++
						val.WriteByte(line[k])
						continue
					}
					if line[k] == '\'' {
						if at(k+1) == '\'' {
							k++
							val.WriteByte('\'')
							continue
						}
						break
					}
					val.WriteByte(line[k])
				}
				k++
			case '`':
				a.backtick = true
				for k++; k < n && line[k] != '`'; k++ {
				}
				k++
			case '"':
				a.quoted = true
				for k++; k < n && line[k] != '"'; k++ {
					val.WriteByte(line[k])
				}
				k++
			case ':':
				m := k + 1
				switch c1 := at(m); {
				case c1 == '\'' || c1 == '"':
					e := m + 1
					for e < n && pgVarChar(line[e]) {
						e++
					}
					if e > m+1 && at(e) == c1 {
						a.quoted = true
						k = e + 1
						continue
					}
				case c1 == '{' && at(m+1) == '?':
					e := m + 2
					for e < n && pgVarChar(line[e]) {
						e++
					}
					if e > m+2 && at(e) == '}' {
						k = e + 1
						continue
					}
				case pgVarChar(c1):
					for m < n && pgVarChar(line[m]) {
						m++
					}
					a.variable = true
					val.WriteString(line[k:m])
					k = m
					continue
				}
				val.WriteByte(c)
				k++
			default:
				val.WriteByte(c)
				k++
			}
		}
		if k > n {
			k = n
		}
		a.raw, a.value = line[start:k], val.String()
		args = append(args, a)
	}
}

// pgWholeLine reports whether psql gives a meta-command the rest of the line,
// backslashes included, as its one argument.
func pgWholeLine(name string) bool {
	switch strings.TrimSuffix(name, "+") {
	case "h", "help", "sf", "sv", "!", "copy", "ef", "ev":
		return true
	}
	return false
}

// pgEffect is what an allowed meta-command does to the query buffer.
type pgEffect int

const (
	pgKeeps  pgEffect = iota
	pgSends           // sends the buffer (\g, \watch...) and empties it
	pgResets          // empties the buffer (\r)
	pgQuits           // ends psql
)

// pgMetaPolicy allows a meta-command or says why not.
func pgMetaPolicy(name string, args []pgArg) (pgEffect, error) {
	for _, a := range args {
		if a.backtick {
			return 0, fmt.Errorf("%w: backticks in \\%s (psql runs them through the shell)", ErrShellEscape, name)
		}
	}
	if pgDescribe(name) {
		return pgKeeps, nil
	}
	why := func(err error, reason string) (pgEffect, error) {
		return 0, fmt.Errorf("%w: \\%s (%s)", err, name, reason)
	}
	switch strings.TrimSuffix(name, "+") {
	case "!":
		return why(ErrShellEscape, "it runs a shell command")
	case "e", "edit", "ef", "ev":
		return why(ErrShellEscape, "it runs an editor")
	case "setenv":
		return why(ErrShellEscape, "it sets the environment of the programs psql runs")
	case "cd":
		return why(ErrFileAccess, "it changes psql's directory")
	case "i", "include", "ir", "include_relative":
		return why(ErrFileAccess, "it reads a file")
	case "o", "out", "w", "write":
		return why(ErrFileAccess, "it writes a file or pipes to a command")
	case "copy":
		return why(ErrFileAccess, "it reads or writes a file, or runs a program; COPY … TO STDOUT works")
	case "lo_import", "lo_export":
		return why(ErrFileAccess, "it reads or writes a file")
	case "s":
		if len(args) > 0 {
			return why(ErrFileAccess, "it writes the history to a file")
		}
		return pgKeeps, nil
	case "g", "gx":
		if len(args) > 0 {
			if strings.HasPrefix(args[0].raw, "|") {
				return why(ErrShellEscape, "it pipes the result to a command")
			}
			return why(ErrFileAccess, "it writes the result to a file")
		}
		return pgSends, nil
	case "gdesc", "crosstabview", "watch":
		return pgSends, nil
	case "gexec":
		return why(ErrClientCommand, "it runs query results as statements that no filter sees")
	case "gset":
		return why(ErrClientCommand, "it sets psql variables from query results")
	case "password":
		return why(ErrClientCommand, "the account's password is managed by Portcullis")
	case "prompt":
		return why(ErrClientCommand, "it sets a psql variable from typed input")
	case "c", "connect":
		if len(args) > 1 || len(args) == 1 && (args[0].variable || strings.ContainsAny(args[0].value, "=/@:")) {
			return why(ErrClientCommand, `only \c [database] is allowed: the session stays on its server and account`)
		}
		return pgKeeps, nil
	case "set", "unset", "getenv":
		if len(args) > 0 {
			if err := pgCheckVariable(name, args[0]); err != nil {
				return 0, err
			}
		}
		return pgKeeps, nil
	case "pset":
		if len(args) >= 2 && asciiEqualFold(args[0].value, "pager") {
			switch strings.ToLower(args[1].value) {
			case "on", "off", "always", "true", "false", "yes", "no", "1", "0":
				if !args[1].variable {
					return pgKeeps, nil
				}
			}
			return why(ErrClientCommand, "the pager can only be switched on or off")
		}
		return pgKeeps, nil
	case "encoding":
		if len(args) > 0 && (args[0].variable || pgUnsafeEncoding(args[0].value)) {
			return why(ErrAmbiguous, "the gateway reads the session as UTF-8 or another ASCII-safe encoding")
		}
		return pgKeeps, nil
	case "q", "quit":
		return pgQuits, nil
	case "r", "reset":
		return pgResets, nil
	case "?", "a", "C", "conninfo", "copyright", "echo", "qecho", "warn", "if", "elif", "else", "endif",
		"errverbose", "f", "h", "help", "H", "html", "l", "list", "lo_list", "lo_unlink", "p", "print",
		"sf", "sv", "t", "T", "timing", "x", "z", "bind":
		return pgKeeps, nil
	}
	return why(ErrClientCommand, "not a meta-command the gateway allows")
}

// pgDescribe reports whether name is one of the \d commands (\d, \dt+, \dfS…;
// psql also takes "\dt;").
func pgDescribe(name string) bool {
	if name == "" || name[0] != 'd' {
		return false
	}
	for i := 1; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '+' || c == ';') {
			return false
		}
	}
	return true
}

// pgCheckVariable refuses to set the psql variables that run commands or
// write files (PROMPT1-3 run %`…` through the shell; HISTFILE is written on
// exit), names taken from another variable, and names that start with a
// digit (so that :1 is never a variable).
func pgCheckVariable(cmd string, a pgArg) error {
	switch {
	case a.variable:
		return fmt.Errorf("%w: \\%s with a variable's value as the name", ErrClientCommand, cmd)
	case a.value == "" || isDigit(a.value[0]):
		return fmt.Errorf("%w: \\%s %s (variable names start with a letter here)", ErrClientCommand, cmd, a.raw)
	}
	switch strings.ToUpper(a.value) {
	case "PROMPT1", "PROMPT2", "PROMPT3":
		return fmt.Errorf("%w: \\%s %s (prompts can run shell commands, and the gateway reads them)", ErrShellEscape, cmd, a.value)
	case "HISTFILE":
		return fmt.Errorf("%w: \\%s %s (psql writes the history file)", ErrFileAccess, cmd, a.value)
	}
	return nil
}

// pgCheckEncoding refuses a statement that switches the session to a client
// encoding whose characters can hide quotes and backslashes from a byte-wise
// reader (psql then reads the input in that encoding).
func pgCheckEncoding(stmt string) error {
	for _, re := range []*regexp.Regexp{pgClientEncoding, pgSetNames} {
		for _, m := range re.FindAllStringSubmatch(stmt, -1) {
			if pgUnsafeEncoding(m[1]) {
				return fmt.Errorf("%w: the client encoding %s (the gateway reads the session as UTF-8 or another ASCII-safe encoding)", ErrAmbiguous, m[1])
			}
		}
	}
	return nil
}

// pgUnsafeEncoding reports whether name is one of PostgreSQL's client-only
// encodings, whose multibyte characters may hold ASCII bytes.
func pgUnsafeEncoding(name string) bool {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := lower(name[i])
		if c >= 'a' && c <= 'z' || isDigit(c) {
			b.WriteByte(c)
		}
	}
	switch b.String() {
	case "sjis", "shiftjis", "shiftjis2004", "mskanji", "win932", "windows932", "cp932",
		"big5", "win950", "windows950", "cp950", "gbk", "win936", "windows936", "cp936",
		"uhc", "win949", "windows949", "cp949", "gb18030", "johab":
		return true
	}
	return false
}
