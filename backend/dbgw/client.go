package dbgw

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// clientDirs are searched, in order, for a client that Options.Paths does
// not name.
var clientDirs = [...]string{"/usr/bin", "/usr/local/bin", "/bin"}

// pgSocketPort is the port in the name of the socket psql connects to
// (.s.PGSQL.<port>); nothing listens on it, it only names the socket.
const pgSocketPort = "5432"

// launch is how one session's client is run: its arguments, its environment
// on top of the common one, the files it reads its credentials from, and the
// name of the socket it connects to, all in the session's private directory.
type launch struct {
	socket string
	args   []string
	env    []string
	files  []secretFile
}

// secretFile is a file written 0600 for the client only.
type secretFile struct {
	name    string
	content string
	// once means the client reads it once, at start: it is removed as soon as
	// the client has connected. (psql reads its pgpass again at each \c.)
	once bool
}

// clientLaunch returns the launch of the protocol's client for spec in dir.
func clientLaunch(protocol string, spec *Spec, dir string) launch {
	switch kindOf(protocol) {
	case kindMySQL:
		sock := filepath.Join(dir, "mysql.sock")
		var cnf strings.Builder
		cnf.WriteString("[client]\n")
		if spec.Username != "" {
			fmt.Fprintf(&cnf, "user=%s\n", cnfQuote(spec.Username))
		}
		fmt.Fprintf(&cnf, "password=%s\n", cnfQuote(spec.Password))
		fmt.Fprintf(&cnf, "socket=%s\nprotocol=socket\n", cnfQuote(sock))
		cnf.WriteString("[mysql]\n")
		if spec.Database != "" {
			fmt.Fprintf(&cnf, "database=%s\n", cnfQuote(spec.Database))
		}
		// No LOAD DATA LOCAL (it reads the bastion's files), no completion
		// rehash at start (slow on big schemas; \# builds it), and mariadb's
		// sandbox mode, which refuses \!, source, tee and the like by itself
		// (loose-: other clients only warn).
		cnf.WriteString("default-character-set=utf8mb4\nlocal-infile=0\nskip-auto-rehash\nloose-sandbox\n")
		return launch{
			socket: sock,
			args:   []string{"--defaults-file=" + filepath.Join(dir, "my.cnf")},
			env:    []string{"MYSQL_HISTFILE=/dev/null"},
			files:  []secretFile{{name: "my.cnf", content: cnf.String(), once: true}},
		}
	case kindPostgres:
		l := launch{
			socket: filepath.Join(dir, ".s.PGSQL."+pgSocketPort),
			args:   []string{"-X", "-w"}, // no psqlrc (system-wide included); never prompt for a password
			env: []string{
				"PGHOST=" + dir, "PGPORT=" + pgSocketPort,
				"PGPASSFILE=" + filepath.Join(dir, "pgpass"),
				"PGCLIENTENCODING=UTF8", "PGAPPNAME=portcullis", "PGCONNECT_TIMEOUT=30",
				"PSQL_HISTORY=/dev/null", "PSQLRC=/dev/null", "PSQL_PAGER=",
			},
		}
		if spec.Username != "" {
			l.env = append(l.env, "PGUSER="+spec.Username)
		}
		if spec.Database != "" {
			l.env = append(l.env, "PGDATABASE="+spec.Database)
		}
		if spec.Password != "" {
			user := "*"
			if spec.Username != "" {
				user = pgpassEscape(spec.Username)
			}
			l.files = []secretFile{{name: "pgpass", content: "*:*:*:" + user + ":" + pgpassEscape(spec.Password) + "\n"}}
		}
		return l
	default: // redis
		sock := filepath.Join(dir, "redis.sock")
		l := launch{
			socket: sock,
			args:   []string{"-s", sock},
			env:    []string{"REDISCLI_HISTFILE=/dev/null", "REDISCLI_RCFILE=/dev/null"},
		}
		if spec.Username != "" {
			l.args = append(l.args, "--user", spec.Username)
		}
		if spec.Database != "" {
			l.args = append(l.args, "-n", spec.Database)
		}
		if spec.Password != "" {
			// Only the client's user and root can read /proc/<pid>/environ.
			l.env = append(l.env, "REDISCLI_AUTH="+spec.Password)
		}
		return l
	}
}

// clientEnv is the client's whole environment: nothing is inherited.
func clientEnv(term, dir string, extra []string) []string {
	env := []string{
		"TERM=" + term, "LANG=C.UTF-8", "HOME=" + dir, "PATH=/usr/bin:/bin",
		// Nothing to page or edit with, should an escape slip through.
		"PAGER=", "EDITOR=/bin/false", "VISUAL=/bin/false", "PSQL_EDITOR=/bin/false",
	}
	return append(env, extra...)
}

// cnfQuote quotes a value for a mysql option file.
func cnfQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// pgpassEscape escapes a field of a .pgpass line.
func pgpassEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `:`, `\:`)
	return r.Replace(s)
}

// clientPath finds the protocol's client: the path Options.Paths gives, or
// the first of the client's names found in clientDirs (psql: the newest in
// /usr/lib/postgresql first, which skips Debian's wrapper script).
func clientPath(protocol string, paths map[string]string) (string, error) {
	if p, ok := paths[protocol]; ok {
		if isExecutable(p) {
			return p, nil
		}
		return "", fmt.Errorf("%w: %s", ErrClientMissing, p)
	}
	var names []string
	var candidates []string
	switch protocol {
	case "mysql":
		names = []string{"mysql", "mariadb"}
	case "mariadb":
		names = []string{"mariadb", "mysql"}
	case "postgresql":
		names = []string{"psql"}
		candidates = newestPsql()
	case "redis":
		names = []string{"redis-cli"}
	}
	for _, name := range names {
		for _, d := range clientDirs {
			candidates = append(candidates, filepath.Join(d, name))
		}
	}
	for _, p := range candidates {
		if isExecutable(p) {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s not found in %s", ErrClientMissing, strings.Join(names, " or "), strings.Join(clientDirs[:], ", "))
}

// newestPsql lists Debian's /usr/lib/postgresql/<version>/bin/psql, newest first.
func newestPsql() []string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/psql")
	version := func(p string) []int {
		var v []int
		for _, f := range strings.Split(filepath.Base(filepath.Dir(filepath.Dir(p))), ".") {
			n, _ := strconv.Atoi(f)
			v = append(v, n)
		}
		return v
	}
	sort.Slice(matches, func(i, j int) bool {
		a, b := version(matches[i]), version(matches[j])
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] > b[k]
			}
		}
		return len(a) > len(b)
	})
	return matches
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}
