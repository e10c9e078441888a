package sftpproxy

import (
	"fmt"
	"path"
	"strconv"
	"strings"
)

// maxRecordLine bounds an scp record line (a name is at most NAME_MAX bytes
// on the systems scp runs on; this leaves plenty of room).
const maxRecordLine = 8 << 10

// scpRecord is one control record of the scp protocol.
type scpRecord struct {
	// Kind is 'C' (file), 'D' (directory), 'E' (end of directory), 'T'
	// (times of the next C or D), or 1 (error) and 2 (fatal error).
	Kind byte
	// Mode holds the permission bits (07777) of C and D.
	Mode uint32
	// Size is the length of a C file.
	Size int64
	// Name is the base name of C and D: never empty, ".", ".." and never
	// holding '/' or NUL.
	Name string
	// Mtime and Atime are the seconds of T.
	Mtime, Atime int64
	// Msg is the text of an error record.
	Msg string
}

// parseSCPRecord parses one record line, without its terminating '\n'.
// It is as strict as OpenSSH's scp sink, and stricter about names.
func parseSCPRecord(line string) (scpRecord, error) {
	if line == "" {
		return scpRecord{}, fmt.Errorf("%w: empty record", ErrProtocol)
	}
	if len(line) > maxRecordLine {
		return scpRecord{}, fmt.Errorf("%w: record too long", ErrProtocol)
	}
	if strings.IndexByte(line, '\n') >= 0 {
		return scpRecord{}, fmt.Errorf("%w: newline inside a record", ErrProtocol)
	}
	r := scpRecord{Kind: line[0]}
	rest := line[1:]
	switch r.Kind {
	case 1, 2:
		r.Msg = rest
		return r, nil
	case 'E':
		if rest != "" {
			return scpRecord{}, fmt.Errorf("%w: junk after E", ErrProtocol)
		}
		return r, nil
	case 'T':
		var f [4]int64
		for i := range f {
			var err error
			if f[i], rest, err = scpNumber(rest, i < 3); err != nil {
				return scpRecord{}, fmt.Errorf("%w: T record: %w", ErrProtocol, err)
			}
		}
		if f[1] > 999999 || f[3] > 999999 {
			return scpRecord{}, fmt.Errorf("%w: T record: microseconds out of range", ErrProtocol)
		}
		r.Mtime, r.Atime = f[0], f[2]
		return r, nil
	case 'C', 'D':
		if len(rest) < 5 || rest[4] != ' ' {
			return scpRecord{}, fmt.Errorf("%w: %c record: mode not delimited", ErrProtocol, r.Kind)
		}
		for _, c := range []byte(rest[:4]) {
			if c < '0' || c > '7' {
				return scpRecord{}, fmt.Errorf("%w: %c record: bad mode", ErrProtocol, r.Kind)
			}
			r.Mode = r.Mode<<3 | uint32(c-'0')
		}
		var err error
		if r.Size, rest, err = scpNumber(rest[5:], true); err != nil {
			return scpRecord{}, fmt.Errorf("%w: %c record: size: %w", ErrProtocol, r.Kind, err)
		}
		if rest == "" || rest == "." || rest == ".." || strings.ContainsAny(rest, "/\x00") {
			return scpRecord{}, fmt.Errorf("%w: unexpected filename: %q", ErrProtocol, rest)
		}
		r.Name = rest
		return r, nil
	default:
		return scpRecord{}, fmt.Errorf("%w: expected control record, got %q", ErrProtocol, clip(line, 64))
	}
}

// scpNumber reads a non-negative decimal at the start of s, followed by a
// space when spaced (or by the end of s otherwise), and returns the rest.
func scpNumber(s string, spaced bool) (int64, string, error) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, "", fmt.Errorf("number not present")
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, "", fmt.Errorf("number out of range")
	}
	rest := s[i:]
	if spaced {
		if rest == "" || rest[0] != ' ' {
			return 0, "", fmt.Errorf("number not delimited")
		}
		return n, rest[1:], nil
	}
	if rest != "" {
		return 0, "", fmt.Errorf("junk after number")
	}
	return n, "", nil
}

// format returns the record as sent on the wire, '\n' included.
func (r scpRecord) format() string {
	switch r.Kind {
	case 'C', 'D':
		return fmt.Sprintf("%c%04o %d %s\n", r.Kind, r.Mode&0o7777, r.Size, r.Name)
	case 'T':
		return fmt.Sprintf("T%d 0 %d 0\n", r.Mtime, r.Atime)
	case 'E':
		return "E\n"
	default:
		return string([]byte{r.Kind}) + "scp: " + sanitize(r.Msg) + "\n"
	}
}

// sanitize makes s safe to put in a one-line message: control characters
// (newlines above all, which would end the record) become '?'.
func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// clip shortens s to at most n bytes for a message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// scpCommand is a parsed "scp -t" or "scp -f" command line.
type scpCommand struct {
	Sink      bool // -t: the user uploads, we write to the target
	Source    bool // -f: the user downloads, we read from the target
	Recursive bool // -r
	Preserve  bool // -p: times and modes
	TargetDir bool // -d: the target must be a directory
	Paths     []shellWord
}

// IsSCPCommand reports whether an exec command runs scp, which the gateway
// must hand to ServeSCP and never to the target (whose scp would move files
// unchecked). It is deliberately broad: any command whose first word is scp,
// or a path ending in /scp, is claimed, so a malformed one is refused by
// ServeSCP instead of being run.
func IsSCPCommand(command string) bool {
	return commandBase(command) == "scp"
}

// IsSFTPServerCommand reports whether an exec command runs an SFTP server
// ("sftp -s /usr/lib/openssh/sftp-server host" asks for that instead of the
// subsystem). The gateway must serve such a channel with ServeSFTP, never
// pass it to the target.
func IsSFTPServerCommand(command string) bool {
	b := commandBase(command)
	return b == "sftp-server" || b == "internal-sftp"
}

// commandBase returns the base name of the first word of a command line,
// with shell quoting removed loosely (a malformed command still yields its
// first word).
func commandBase(command string) string {
	s := strings.TrimLeft(command, " \t\n")
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' {
			break
		}
		if c == '\'' || c == '"' || c == '\\' {
			continue
		}
		b.WriteByte(c)
	}
	return path.Base(b.String())
}

// parseSCPCommand parses the command line of a remote scp: "scp [-v] [-r]
// [-p] [-d] -t|-f [--] PATH...". Flags may be grouped ("-prt").
func parseSCPCommand(command string) (scpCommand, error) {
	var c scpCommand
	words, err := splitShell(command)
	if err != nil {
		return c, err
	}
	if len(words) == 0 || words[0].Glob != "" || path.Base(words[0].Text) != "scp" {
		return c, fmt.Errorf("%w: not an scp command", ErrBadCommand)
	}
	i := 1
	for ; i < len(words); i++ {
		w := words[i].Text
		if w == "--" {
			i++
			break
		}
		if len(w) < 2 || w[0] != '-' || words[i].Glob != "" {
			break
		}
		for _, f := range w[1:] {
			switch f {
			case 't':
				c.Sink = true
			case 'f':
				c.Source = true
			case 'r':
				c.Recursive = true
			case 'p':
				c.Preserve = true
			case 'd':
				c.TargetDir = true
			case 'v', 'q':
			default:
				return c, fmt.Errorf("%w: unknown flag -%c", ErrBadCommand, f)
			}
		}
	}
	if c.Sink == c.Source {
		return c, fmt.Errorf("%w: exactly one of -t and -f is needed", ErrBadCommand)
	}
	c.Paths = words[i:]
	if len(c.Paths) == 0 {
		return c, fmt.Errorf("%w: no path", ErrBadCommand)
	}
	return c, nil
}

// shellWord is one word of a command line as a POSIX shell would pass it on.
type shellWord struct {
	// Text is the word with quoting removed.
	Text string
	// Glob is set when the word holds unquoted *, ? or [: it is then a
	// path.Match pattern, quoted characters escaped with '\'.
	Glob string
	// Tilde is set when Text starts with an unquoted "~" that is alone or
	// followed by '/': it stands for the home directory.
	Tilde bool
}

// splitShell splits a command line into words as a POSIX shell does for
// simple commands: blanks separate words, single quotes, double quotes and
// backslashes quote. Anything that would make a shell run code, read
// variables or redirect (unquoted ;&|<>()`$, newline, a word starting with
// #, "~user", and $ or ` inside double quotes) is refused.
func splitShell(s string) ([]shellWord, error) {
	var (
		words   []shellWord
		text    strings.Builder
		pattern strings.Builder
		inWord  bool
		glob    bool
		tilde   bool
	)
	bad := func(what string) ([]shellWord, error) {
		return nil, fmt.Errorf("%w: %s", ErrBadCommand, what)
	}
	quoted := func(c byte) {
		text.WriteByte(c)
		if strings.IndexByte(`*?[\`, c) >= 0 {
			pattern.WriteByte('\\')
		}
		pattern.WriteByte(c)
	}
	end := func() {
		if !inWord {
			return
		}
		w := shellWord{Text: text.String(), Tilde: tilde}
		if glob {
			w.Glob = pattern.String()
		}
		words = append(words, w)
		text.Reset()
		pattern.Reset()
		inWord, glob, tilde = false, false, false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case ' ', '\t':
			end()
		case '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return bad("unterminated single quote")
			}
			for _, q := range []byte(s[i+1 : i+1+j]) {
				quoted(q)
			}
			i += j + 1
		case '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				d := s[i]
				if d == '"' {
					closed = true
					break
				}
				switch d {
				case '$', '`':
					return bad("shell expansion in double quotes")
				case '\\':
					if i+1 < len(s) && strings.IndexByte("$`\"\\\n", s[i+1]) >= 0 {
						i++
						if s[i] == '\n' {
							continue // line continuation
						}
						d = s[i]
					}
				}
				quoted(d)
			}
			if !closed {
				return bad("unterminated double quote")
			}
		case '\\':
			if i+1 >= len(s) {
				return bad("trailing backslash")
			}
			i++
			if s[i] == '\n' {
				continue // line continuation
			}
			inWord = true
			quoted(s[i])
		case ';', '&', '|', '<', '>', '(', ')', '`', '$', '\n':
			return bad(fmt.Sprintf("shell syntax %q", c))
		case '#':
			if !inWord {
				return bad("shell comment")
			}
			text.WriteByte(c)
			pattern.WriteByte(c)
		case '~':
			if !inWord {
				rest := s[i+1:]
				if rest != "" && rest[0] != '/' && rest[0] != ' ' && rest[0] != '\t' {
					return bad("~user paths")
				}
				tilde = true
			}
			inWord = true
			text.WriteByte(c)
			pattern.WriteByte(c)
		case '*', '?', '[':
			inWord = true
			glob = true
			text.WriteByte(c)
			pattern.WriteByte(c)
		default:
			inWord = true
			text.WriteByte(c)
			pattern.WriteByte(c)
		}
	}
	end()
	return words, nil
}
