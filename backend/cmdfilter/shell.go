package cmdfilter

import (
	"path"
	"slices"
	"strings"
)

// Limits that keep the work of one Check bounded whatever the command.
const (
	maxDepth    = 8       // nested sh -c / eval / env -S strings followed
	maxLexed    = 1 << 20 // bytes lexed per command line, nested strings included
	maxCommands = 4096    // simple commands looked at per command line
	fullStages  = 16      // wrappers of one simple command kept with all the words after them
)

// simple is one simple command as the lexer found it: its words (quotes
// removed) and its redirections.
type simple struct {
	words  []string
	redirs []redirect
}

// redirect is a redirection: out is true for output (>, >>, >|, &>, N>).
type redirect struct {
	out    bool
	target string
}

// command is a simple command ready for matching: the command name without
// its directory, its option letters and long options (normalised), its other
// arguments (paths cleaned) and its redirections.
type command struct {
	name   string
	flags  flagSet // option letters
	longs  []string
	args   []string
	redirs []redirect
}

// flagSet is a set of option letters (bytes).
type flagSet [4]uint64

func (f *flagSet) add(b byte) { f[b>>6] |= 1 << (b & 63) }

// has reports whether f holds every letter of g.
func (f *flagSet) has(g flagSet) bool {
	for i := range f {
		if f[i]&g[i] != g[i] {
			return false
		}
	}
	return true
}

// isSep reports whether c separates simple commands. The lexer splits at
// these even inside quotes: a filter errs on the side of seeing a command
// (`echo "a; rm -rf /"` is checked as if `rm -rf /` ran) rather than
// trusting a quote that a shell might read differently.
func isSep(c byte) bool {
	switch c {
	case ';', '&', '|', '\n', '\r', '(', ')', '`':
		return true
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\v' || c == '\f' }

// lineJoiner removes backslash-newline (the shell joins the lines) and
// turns $IFS into a space (the shell splits words there), also in lower
// case as the text of IgnoreCase groups is folded first. Read-only, like the
// other tables of this file.
var lineJoiner = strings.NewReplacer(
	"\\\r\n", "", "\\\n", "",
	"${IFS}", " ", "$IFS", " ", "${ifs}", " ", "$ifs", " ",
)

// lex splits a command line into simple commands, leniently: separators
// split everywhere, quotes group words and are removed, a quote left open
// runs to the next separator, backslashes escape the next character and
// backslash-newline joins lines, `$'...'` and `$"..."` lose their `$`.
func lex(line string) []simple {
	line = lineJoiner.Replace(line)
	var (
		out     []simple
		cur     simple
		word    strings.Builder
		inWord  bool
		quote   byte
		pending = -1 // the next word is the target of a redirection: 1 output, 0 input
	)
	endWord := func() {
		if !inWord {
			return
		}
		w := word.String()
		word.Reset()
		inWord = false
		if pending >= 0 {
			cur.redirs = append(cur.redirs, redirect{out: pending == 1, target: w})
			pending = -1
			return
		}
		cur.words = append(cur.words, w)
	}
	endCommand := func() {
		endWord()
		pending = -1
		quote = 0
		if (len(cur.words) > 0 || len(cur.redirs) > 0) && len(out) < maxCommands {
			out = append(out, cur)
		}
		cur = simple{}
	}
	for i := 0; i < len(line); i++ {
		c := line[i]
		if isSep(c) {
			// "&>" and ">&" are redirections, not separators.
			if c == '&' && quote == 0 && i+1 < len(line) && line[i+1] == '>' {
				endWord()
				i++
				for i+1 < len(line) && line[i+1] == '>' {
					i++
				}
				pending = 1
				continue
			}
			endCommand()
			continue
		}
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\\':
			inWord = true
			if i+1 < len(line) && !isSep(line[i+1]) {
				i++
				word.WriteByte(line[i])
			}
		case quote == '"':
			if c == '"' {
				quote = 0
			} else {
				word.WriteByte(c)
			}
		case c == '\'' || c == '"':
			quote, inWord = c, true
		case c == '$' && i+1 < len(line) && (line[i+1] == '\'' || line[i+1] == '"'):
			inWord = true // $'...' and $"...": the quote follows
		case isSpace(c):
			endWord()
		case c == '>' || c == '<':
			// A word of digits just before is the file descriptor: N> or N<.
			if inWord && allDigits(word.String()) {
				word.Reset()
				inWord = false
			}
			endWord()
			output := c == '>'
			j := i + 1
			switch {
			case j < len(line) && output && (line[j] == '>' || line[j] == '|'): // >> >|
				j++
			case j < len(line) && !output && line[j] == '<': // << <<<
				j++
				if j < len(line) && line[j] == '<' {
					j++
				}
			case j < len(line) && !output && line[j] == '>': // <>
				j++
			}
			pending = 0
			if output {
				pending = 1
			}
			if j < len(line) && line[j] == '&' {
				j++
				if j < len(line) && (isDigit(line[j]) || line[j] == '-') {
					// N>&M and N>&- duplicate or close a descriptor: no file.
					for j < len(line) && (isDigit(line[j]) || line[j] == '-') {
						j++
					}
					pending = -1
				}
			}
			i = j - 1
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	endCommand()
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
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

// wrapper describes a command that runs another one given after its own
// options: which short options and long options take an argument, and how
// many positional arguments come before the command.
type wrapper struct {
	argShort   string
	argLong    []string
	positional int
	script     string // an option whose argument is a command line to check (sh -c, su -c, env -S)
}

var wrappers = map[string]wrapper{
	"sudo":     {argShort: "CDghpRrTtUu", argLong: []string{"--close-from", "--chdir", "--group", "--host", "--prompt", "--chroot", "--role", "--command-timeout", "--type", "--other-user", "--user"}},
	"doas":     {argShort: "Cu"},
	"env":      {argShort: "CSu", argLong: []string{"--chdir", "--split-string", "--unset"}, script: "S"},
	"nohup":    {},
	"builtin":  {},
	"command":  {},
	"exec":     {argShort: "a"},
	"time":     {argShort: "fo", argLong: []string{"--format", "--output"}},
	"nice":     {argShort: "n", argLong: []string{"--adjustment"}},
	"ionice":   {argShort: "cnp", argLong: []string{"--class", "--classdata"}},
	"setsid":   {},
	"stdbuf":   {argShort: "eio", argLong: []string{"--input", "--output", "--error"}},
	"timeout":  {argShort: "ks", argLong: []string{"--kill-after", "--signal"}, positional: 1},
	"xargs":    {argShort: "adEeIiLlnPs", argLong: []string{"--arg-file", "--delimiter", "--eof", "--replace", "--max-lines", "--max-args", "--max-procs", "--max-chars"}},
	"chroot":   {argLong: []string{"--userspec", "--groups"}, positional: 1},
	"busybox":  {},
	"unbuffer": {},
	"watch":    {argShort: "dnq", argLong: []string{"--interval", "--differences"}},
	"strace":   {argShort: "abeEIoOpPsSuX"},
	"ltrace":   {argShort: "aAeEDlLnopsSuwx"},
	"flock":    {argShort: "Ewc", argLong: []string{"--conflict-exit-code", "--timeout", "--command"}, positional: 1, script: "c"},
	"sh":       {argShort: "o", script: "c"},
	"bash":     {argShort: "oO", argLong: []string{"--rcfile", "--init-file"}, script: "c"},
	"dash":     {argShort: "o", script: "c"},
	"zsh":      {argShort: "o", script: "c"},
	"ksh":      {argShort: "o", script: "c"},
	"mksh":     {argShort: "o", script: "c"},
	"ash":      {argShort: "o", script: "c"},
	"fish":     {script: "c"},
	"su":       {argShort: "gGsw", argLong: []string{"--group", "--supp-group", "--shell", "--whitelist-environment", "--command"}, script: "c"},
	"runuser":  {argShort: "gGuw", argLong: []string{"--group", "--supp-group", "--user", "--whitelist-environment", "--command"}, script: "c"},
	"sg":       {positional: 1},
}

// Shells and su run a command only with -c: otherwise the next word is a
// script or a user name, not a command.
var needScript = map[string]bool{"sh": true, "bash": true, "dash": true, "zsh": true, "ksh": true, "mksh": true, "ash": true, "fish": true, "su": true, "runuser": true}

// keywords are shell words that may come before a command.
var keywords = map[string]bool{"!": true, "{": true, "}": true, "if": true, "then": true, "else": true, "elif": true, "while": true, "until": true, "do": true, "coproc": true}

// commands returns the simple commands of a command line to match, each
// with every stage of its unwrapping: `sudo -u x nice rm -rf /` gives the
// sudo command, the nice command and the rm command, so that an entry can
// name any of them. Command strings given to sh -c, su -c, eval and env -S
// are followed too, their commands listed after the one that runs them.
func commands(line string) [][]command {
	var out [][]command
	total, lexed := 0, 0
	var walk func(line string, depth int)
	walk = func(line string, depth int) {
		if lexed += len(line); lexed > maxLexed {
			return
		}
		for _, s := range lex(line) {
			if total >= maxCommands {
				return
			}
			words := s.words
			if len(words) == 0 {
				out = append(out, []command{newCommand(nil, s.redirs)})
				total++
				continue
			}
			words = expandBraces(words)
			var stages []command
			var scripts []string
			for len(words) > 0 && total < maxCommands {
				w := words[0]
				if keywords[w] || isAssignment(w) {
					words = words[1:]
					continue
				}
				name := baseName(w)
				_, wraps := wrappers[name]
				if wraps && len(stages) >= fullStages {
					// Past a few levels of wrapping, keep a wrapper with its own
					// words only, so that `sudo sudo sudo ...` costs linear time.
					stages = append(stages, newCommand(words[:len(words)-len(wrappers[name].skip(words[1:]))], s.redirs))
				} else {
					stages = append(stages, newCommand(words, s.redirs))
				}
				total++
				if name == "eval" {
					rest := words[1:]
					for len(rest) > 0 && rest[0] == "eval" {
						rest = rest[1:]
					}
					scripts = append(scripts, strings.Join(rest, " "))
					break
				}
				wr, ok := wrappers[name]
				if !ok {
					break
				}
				if script := wr.findScript(words[1:]); script != "" {
					scripts = append(scripts, script)
				}
				if needScript[name] {
					break
				}
				words = wr.skip(words[1:])
			}
			if len(stages) > 0 {
				out = append(out, stages)
			}
			if depth < maxDepth {
				for _, sc := range scripts {
					walk(sc, depth+1)
				}
			}
		}
	}
	walk(line, 0)
	return out
}

// skip returns the words after a wrapper's options and positional
// arguments: the command it runs.
func (wr wrapper) skip(words []string) []string {
	i := 0
	for i < len(words) {
		w := words[i]
		if w == "--" {
			i++
			break
		}
		if len(w) < 2 || w[0] != '-' {
			break
		}
		i++
		if strings.HasPrefix(w, "--") {
			name, _, hasValue := strings.Cut(w, "=")
			if !hasValue && slices.Contains(wr.argLong, name) && i < len(words) {
				i++
			}
			continue
		}
		for j := 1; j < len(w); j++ {
			c := w[j]
			if strings.IndexByte(wr.argShort, c) < 0 && strings.IndexByte(wr.script, c) < 0 {
				continue
			}
			if j == len(w)-1 && i < len(words) {
				i++ // the option's argument is the next word
			}
			break
		}
	}
	for n := wr.positional; n > 0 && i < len(words); n-- {
		i++
	}
	return words[i:]
}

// findScript returns the argument of the wrapper's script option (sh -c
// STRING, su -c STRING, env -S STRING), looked for among all the words, as
// su and flock accept it after other arguments.
func (wr wrapper) findScript(words []string) string {
	if wr.script == "" {
		return ""
	}
	for i, w := range words {
		if len(w) < 2 || w[0] != '-' {
			continue
		}
		if strings.HasPrefix(w, "--") {
			name, value, hasValue := strings.Cut(w, "=")
			if name != "--command" && name != "--split-string" {
				continue
			}
			if hasValue {
				return value
			}
			if i+1 < len(words) {
				return words[i+1]
			}
			continue
		}
		for j := 1; j < len(w); j++ {
			if strings.IndexByte(wr.script, w[j]) < 0 {
				if strings.IndexByte(wr.argShort, w[j]) >= 0 {
					break // the rest of the word is that option's argument
				}
				continue
			}
			if arg := w[j+1:]; arg != "" {
				return arg
			}
			if i+1 < len(words) {
				return words[i+1]
			}
			break
		}
	}
	return ""
}

// expandBraces expands a brace list in command position, which the shell
// turns into words: {rm,-rf,/} runs rm -rf /.
func expandBraces(words []string) []string {
	w := words[0]
	if len(w) < 3 || w[0] != '{' || w[len(w)-1] != '}' || !strings.Contains(w, ",") || strings.ContainsAny(w[1:len(w)-1], "{}") {
		return words
	}
	return append(strings.Split(w[1:len(w)-1], ","), words[1:]...)
}

func isAssignment(w string) bool {
	eq := strings.IndexByte(w, '=')
	if eq <= 0 {
		return false
	}
	name := strings.TrimSuffix(w[:eq], "+")
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return name != ""
}

func baseName(w string) string {
	if i := strings.LastIndexByte(w, '/'); i >= 0 && i < len(w)-1 {
		return w[i+1:]
	}
	return w
}

// flagSynonyms maps long options and option letters to the letter they
// mean, per command, so that `rm --recursive --force /` and `rm -R -f /`
// match `rm -rf /`.
var flagSynonyms = map[string]map[string]byte{
	"rm":       {"--recursive": 'r', "-R": 'r', "--force": 'f', "--dir": 'd'},
	"chmod":    {"--recursive": 'R'},
	"chown":    {"--recursive": 'R'},
	"chgrp":    {"--recursive": 'R'},
	"shutdown": {"--halt": 'H', "--poweroff": 'P', "--reboot": 'r'},
}

func newCommand(words []string, redirs []redirect) command {
	c := command{redirs: redirs}
	if len(words) == 0 {
		return c
	}
	c.name = baseName(words[0])
	syn := flagSynonyms[c.name]
	if len(words) > 1 {
		c.args = make([]string, 0, len(words)-1)
	}
	options := true
	for _, w := range words[1:] {
		switch {
		case options && w == "--":
			options = false
		case options && strings.HasPrefix(w, "--"):
			name, _, _ := strings.Cut(w, "=")
			if l, ok := syn[name]; ok {
				c.flags.add(l)
			} else {
				c.longs = append(c.longs, name)
			}
		case options && len(w) > 1 && w[0] == '-':
			for j := 1; j < len(w); j++ {
				l := w[j]
				if s, ok := syn["-"+string(l)]; ok {
					l = s
				}
				c.flags.add(l)
			}
		default:
			c.args = append(c.args, cleanArg(w))
		}
	}
	for i := range c.redirs {
		c.redirs[i].target = cleanArg(c.redirs[i].target)
	}
	return c
}

// cleanArg normalises an absolute path ("//", "/tmp/..", "/." all mean "/"),
// also as the value of key=value.
func cleanArg(w string) string {
	if strings.HasPrefix(w, "/") {
		return path.Clean(w)
	}
	if k, v, ok := strings.Cut(w, "="); ok && strings.HasPrefix(v, "/") {
		return k + "=" + path.Clean(v)
	}
	return w
}

// matches reports whether command c is an instance of pattern p: same
// command name (or a dotted variant of it: mkfs matches mkfs.ext4), and
// every option letter, long option, argument and redirection of p present in
// c, in any order.
func (p *command) matches(c *command) bool {
	if p.name != "" && c.name != p.name && !(strings.HasPrefix(c.name, p.name) && c.name[len(p.name)] == '.') {
		return false
	}
	if !c.flags.has(p.flags) {
		return false
	}
	for _, l := range p.longs {
		if !slices.Contains(c.longs, l) {
			return false
		}
	}
	for _, a := range p.args {
		if !slices.Contains(c.args, a) {
			return false
		}
	}
	for _, r := range p.redirs {
		if !slices.Contains(c.redirs, r) {
			return false
		}
	}
	return true
}

// squeeze removes all white space, for entries matched as shell syntax (fork
// bombs and other entries with separators in them).
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r', '\v', '\f':
			return -1
		}
		return r
	}, s)
}

// hasForkBomb reports whether squeezed text defines a function that pipes
// itself into itself in the background, `NAME(){NAME|NAME&}`, whatever the
// name: the shape of every fork bomb.
func hasForkBomb(s string) bool {
	for i := 0; ; {
		j := strings.Index(s[i:], "(){")
		if j < 0 {
			return false
		}
		j += i
		k := j
		for k > 0 && !isSep(s[k-1]) && s[k-1] != '{' && s[k-1] != '}' {
			k--
		}
		name := s[k:j]
		for _, n := range []string{name, strings.TrimPrefix(name, "function")} {
			// `function bomb() {` loses its space when squeezed.
			if n != "" && strings.HasPrefix(s[j+3:], n+"|"+n+"&") {
				return true
			}
		}
		i = j + 3
	}
}
