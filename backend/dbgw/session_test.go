package dbgw

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fixture is what a protocol's sessions need: an account with a password,
// and the address Dial reaches the server at.
type fixture struct {
	protocol string
	acct     account
	addr     string
	pg       *pgAuthProxy // PostgreSQL: the proxy that checks the password
}

func newFixture(t testing.TB, protocol string) fixture {
	t.Helper()
	needClient(t, protocol)
	switch kindOf(protocol) {
	case kindMySQL:
		return fixture{protocol: protocol, acct: mariadbAccount(t), addr: "127.0.0.1:3306"}
	case kindPostgres:
		a := postgresAccount(t)
		px := startPGAuthProxy(t, "127.0.0.1:5432", a.user, a.password)
		return fixture{protocol: protocol, acct: a, addr: px.addr, pg: px}
	}
	return fixture{protocol: protocol, acct: redisAccount(t), addr: "127.0.0.1:6379"}
}

func (f fixture) spec() Spec {
	return Spec{
		Protocol: f.protocol, Username: f.acct.user, Password: f.acct.password, Database: f.acct.database,
		Cols: 160, Rows: 40, Dial: dialTCP(f.addr),
	}
}

// exchange is a line typed and what its output must match.
type exchange struct {
	line string
	want string // regular expression
}

func TestSessions(t *testing.T) {
	tests := []struct {
		protocol string
		steps    func(f fixture) []exchange
	}{
		{"mariadb", mysqlSteps},
		{"mysql", mysqlSteps},
		{"postgresql", func(f fixture) []exchange {
			return []exchange{
				{"select 1+1;", `(?m)^\s+2$`},
				{"create table t (id int primary key, name text);", `CREATE TABLE`},
				{"insert into t values (1, 'portcullis');", `INSERT 0 1`},
				{"select name from t where id = 1;", `(?m)^ portcullis$`},
				{"select current_user;", `(?m)^ ` + f.acct.user + `$`},
				// psql reads its pgpass again to reconnect.
				{`\c ` + f.acct.database, `You are now connected to database "` + f.acct.database + `" as user "` + f.acct.user + `"`},
				{"select count(*) from t;", `(?m)^\s+1$`},
			}
		}},
		{"redis", func(f fixture) []exchange {
			key := f.acct.user + ":k"
			return []exchange{
				{"set " + key + " portcullis", `OK`},
				{"get " + key, `"portcullis"`},
				{"acl whoami", `"` + f.acct.user + `"`},
				{"del " + key, `\(integer\) 1`},
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			f := newFixture(t, tt.protocol)
			log := newTestLog(t)
			s, sc := startSession(t, f.spec(), Options{Log: log.logger})
			if uid := nobody(t); uid >= 0 {
				if got := procUID(t, s.PID()); got != uid {
					t.Errorf("the client runs as uid %d, want %d (nobody)", got, uid)
				}
				self, _ := os.Readlink("/proc/self/ns/net")
				if got, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", s.PID())); got == self {
					t.Errorf("the client shares the gateway's network namespace %s", got)
				}
			}
			for _, ex := range append(tt.steps(f), confinement(t, tt.protocol)...) {
				out := run(t, s, sc, tt.protocol, ex.line)
				if !regexp.MustCompile(ex.want).MatchString(out) {
					t.Errorf("%s: got\n%s\nwant a match of %q", ex.line, out, ex.want)
				}
			}
			checkSecrets(t, s, f.acct.password)
			if f.pg != nil {
				if got := f.pg.results(); len(got) == 0 || got[0] != "ok" {
					t.Errorf("got logins %q, want the injected password accepted", got)
				}
			}
			dir := s.dir
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the private directory is still there after Close: %v", err)
			}
			if logged := log.String(); !strings.Contains(logged, "database client started") || strings.Contains(logged, f.acct.password) {
				t.Errorf("got log\n%s\nwant the start logged, without the password", logged)
			}
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

func mysqlSteps(f fixture) []exchange {
	return []exchange{
		{"select 1+1;", `(?m)^\|\s+2 \|$`},
		{"create table t (id int primary key, name varchar(20));", `Query OK, 0 rows affected`},
		{"insert into t values (1, 'portcullis');", `Query OK, 1 row affected`},
		{"select name from t where id = 1;", `(?m)^\| portcullis \|$`},
		{"select current_user();", regexp.QuoteMeta(f.acct.user + "@127.0.0.1")},
		// connect goes through the gateway again: my.cnf is gone, the client
		// kept the password.
		{`\r`, `Current database: ` + f.acct.database},
		{"select count(*) from t;", `(?m)^\|\s+1 \|$`},
	}
}

// confinement is what shows the client's confinement, should a command get
// past the Dialect (these lines go to the client directly): mariadb's sandbox
// and local-infile=0; psql's shell escape running as nobody, and its
// connections to the network failing in its namespace.
func confinement(t *testing.T, protocol string) []exchange {
	var ex []exchange
	switch kindOf(protocol) {
	case kindMySQL:
		ex = []exchange{
			{`\! id`, `Not allowed in the sandbox mode`},
			{"load data local infile '/etc/hostname' into table t;", `ERROR.*(local infile|LOCAL INFILE|not allowed)`},
		}
	case kindPostgres:
		if uid := nobody(t); uid >= 0 {
			ex = []exchange{
				{`\! id -u`, fmt.Sprintf(`(?m)^%d$`, uid)},
				{`\c postgres postgres 127.0.0.1 5432`, `Network is unreachable`},
			}
		}
	}
	return ex
}

// checkSecrets checks that the password is in no process's arguments, in
// no environment but the redis client's own (which only its user and root
// can read), and in no file of the private directory; and that the
// credential files are gone once the client connected.
func checkSecrets(t *testing.T, s *Session, password string) {
	t.Helper()
	ps, err := exec.Command("ps", "-ww", "-eo", "args").Output()
	if err != nil {
		t.Fatalf("ps: %v", err)
	}
	if strings.Contains(string(ps), password) {
		t.Error("the password shows in ps")
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", s.PID()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(cmdline), password) {
		t.Errorf("the password is in the client's arguments %q", cmdline)
	}
	environ := fmt.Sprintf("/proc/%d/environ", s.PID())
	env, err := os.ReadFile(environ)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(env), password) {
		fi, err := os.Stat(environ)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if s.name != "redis-cli" || fi.Mode().Perm()&0o077 != 0 || int(st.Uid) != procUID(t, s.PID()) {
			t.Errorf("the password is in %s (mode %v, owner %d)", environ, fi.Mode(), st.Uid)
		}
	}
	fi, err := os.Stat(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("the private directory has mode %v, want 0700", fi.Mode().Perm())
	}
	if uid := nobody(t); uid >= 0 && int(fi.Sys().(*syscall.Stat_t).Uid) != uid {
		t.Errorf("the private directory belongs to uid %d, want %d", fi.Sys().(*syscall.Stat_t).Uid, uid)
	}
	filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if d.Name() == "my.cnf" {
			t.Errorf("%s is still there after the client connected", p)
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), password) && (fi.Mode().Perm()&0o077 != 0 || int(fi.Sys().(*syscall.Stat_t).Uid) != procUID(t, s.PID())) {
			t.Errorf("%s holds the password and has mode %v", p, fi.Mode())
		}
		return nil
	})
}

func TestWrongPassword(t *testing.T) {
	tests := []struct {
		protocol string
		want     string
		exits    bool
	}{
		{"mariadb", `ERROR 1045 \(28000\): Access denied for user`, true},
		{"postgresql", `password authentication failed for user`, true},
		{"redis", `AUTH failed: WRONGPASS`, false},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			f := newFixture(t, tt.protocol)
			spec := f.spec()
			spec.Password = "not-" + f.acct.password
			s, err := Start(context.Background(), spec, Options{})
			if err != nil {
				t.Fatalf("Start: %v", err)
			}
			t.Cleanup(func() { s.Close() })
			sc := watch(s)
			sc.waitFor(t, 0, regexp.MustCompile(tt.want))
			if tt.exits {
				if code, err := s.Wait(); code == 0 || err != nil {
					t.Errorf("Wait: got %d, %v; want a non-zero exit code", code, err)
				}
			}
			if f.pg != nil {
				if got := f.pg.results(); len(got) != 1 || got[0] != "refused" {
					t.Errorf("got logins %q, want one refused", got)
				}
			}
		})
	}
}

func TestClearLine(t *testing.T) {
	tests := []struct {
		protocol     string
		first        string // a first line that leaves a statement unfinished
		continuation string // the prompt then, a regular expression
		rest         string // typed, not entered: abandoned by ClearLine
		next, want   string // then this runs alone
	}{
		{"mariadb", "select 1 +", `\n\s+-> $`, "2 \\! echo ESCAPED", "select 40+2;", `(?m)^\|\s+42 \|$`},
		{"postgresql", "select 1 +", `\n[^\s=]+-> $`, "2 \\! echo ESCAPED", "select 40+2;", `(?m)^\s+42$`},
		{"redis", "", "", "set cleared-key garbage", "echo cleared", `"cleared"`},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			f := newFixture(t, tt.protocol)
			s, sc := startSession(t, f.spec(), Options{})
			m := sc.mark()
			if tt.first != "" {
				typeLine(t, s, tt.first)
				m = sc.waitFor(t, m, regexp.MustCompile(tt.continuation))
			}
			sc.settle(t)
			if _, err := s.Write([]byte(tt.rest)); err != nil {
				t.Fatal(err)
			}
			sc.waitFor(t, m, regexp.MustCompile(regexp.QuoteMeta(tt.rest))) // redis-cli adds hints after it
			// As the relay: the Enter that ended the line was held back, the
			// echo settled, the line was refused.
			sc.settle(t)
			m = sc.mark()
			if _, err := s.Write(ClearLine(tt.protocol)); err != nil {
				t.Fatal(err)
			}
			// A fresh prompt: after ^C on a new line, or redis-cli's
			// redrawn empty line.
			if kindOf(tt.protocol) == kindRedis {
				sc.waitFor(t, m, regexp.MustCompile(redisPrompt+`$`))
			} else {
				sc.waitFor(t, m, nextPrompt(tt.protocol))
			}
			out := run(t, s, sc, tt.protocol, tt.next)
			if !regexp.MustCompile(tt.want).MatchString(out) {
				t.Errorf("%s: got\n%s\nwant a match of %q", tt.next, out, tt.want)
			}
			if strings.Contains(out, "ERROR") || strings.Contains(out, "(error)") || strings.Contains(out, "ESCAPED") || strings.Contains(out, "OK") {
				t.Errorf("the abandoned text reached the client:\n%s", out)
			}
			select {
			case <-s.exited:
				t.Fatal("the client exited")
			default:
			}
			// Still alive and well.
			alive := map[dialectKind]exchange{
				kindMySQL:    {"select 'alive';", `(?m)^\| alive \|$`},
				kindPostgres: {"select 'alive';", `(?m)^ alive$`},
				kindRedis:    {"ping", `PONG`},
			}[kindOf(tt.protocol)]
			if out := run(t, s, sc, tt.protocol, alive.line); !regexp.MustCompile(alive.want).MatchString(out) {
				t.Errorf("%s: got\n%s", alive.line, out)
			}
		})
	}
}

func TestCloseKillsRunningQuery(t *testing.T) {
	tests := []struct {
		protocol string
		query    string
		running  func(t *testing.T, f fixture) bool
	}{
		{"mariadb", "select sleep(30);", func(t *testing.T, f fixture) bool {
			out := admin(t, fmt.Sprintf("select count(*) from information_schema.processlist where user = '%s' and info like 'select sleep(30)%%';", f.acct.user), "mariadb", "-uroot", "-N", "-B")
			return strings.TrimSpace(out) == "1"
		}},
		{"postgresql", "select pg_sleep(30);", func(t *testing.T, f fixture) bool {
			out := admin(t, fmt.Sprintf("select count(*) from pg_stat_activity where usename = '%s' and state = 'active' and query like 'select pg_sleep(30)%%';", f.acct.user),
				"psql", "-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres")
			return strings.TrimSpace(out) == "1"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			f := newFixture(t, tt.protocol)
			s, sc := startSession(t, f.spec(), Options{})
			typeLine(t, s, tt.query)
			deadline := time.Now().Add(waitTimeout)
			for !tt.running(t, f) {
				if time.Now().After(deadline) {
					t.Fatalf("the query did not start; the client printed:\n%s", sc.since(0))
				}
				time.Sleep(50 * time.Millisecond) // polling the server, not waiting for it
			}
			dir := s.dir
			start := time.Now()
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if took := time.Since(start); took > 3*time.Second {
				t.Errorf("Close took %v", took)
			}
			if code, err := s.Wait(); err == nil || code != -1 {
				t.Errorf("Wait: got %d, %v; want the client killed", code, err)
			}
			if err := syscall.Kill(s.PID(), 0); !errors.Is(err, syscall.ESRCH) {
				t.Errorf("the client's process is still there: %v", err)
			}
			if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the private directory is still there: %v", err)
			}
			select {
			case <-sc.done:
			case <-time.After(waitTimeout):
				t.Error("Read did not end after Close")
			}
		})
	}
}

func TestStartErrors(t *testing.T) {
	needClient(t, "redis")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now
	ok := dialTCP(closed)
	tests := []struct {
		name string
		spec Spec
		opts Options
		want []error
	}{
		{"unsupported protocol", Spec{Protocol: "oracle", Dial: ok}, Options{}, []error{ErrUnsupported}},
		{"client missing", Spec{Protocol: "redis", Dial: ok}, Options{Paths: map[string]string{"redis": "/nonexistent/redis-cli"}}, []error{ErrClientMissing}},
		{"database unreachable", Spec{Protocol: "redis", Dial: ok}, Options{}, []error{ErrUnreachable, syscall.ECONNREFUSED}},
		{"no dial", Spec{Protocol: "redis"}, Options{}, []error{ErrInvalidSpec}},
		{"line break in password", Spec{Protocol: "postgresql", Password: "a\nb", Dial: ok}, Options{}, []error{ErrInvalidSpec}},
		{"control character in username", Spec{Protocol: "mariadb", Username: "a\x1bb", Dial: ok}, Options{}, []error{ErrInvalidSpec}},
		{"redis database not a number", Spec{Protocol: "redis", Database: "0 --eval x", Dial: ok}, Options{}, []error{ErrInvalidSpec}},
		{"unknown RunAs user", Spec{Protocol: "redis", Dial: ok}, Options{RunAs: "no-such-user-" + randomHex(t, 4)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "unknown RunAs user" && os.Geteuid() != 0 {
				t.Skip("RunAs applies to root only")
			}
			tt.opts.RuntimeDir = t.TempDir()
			s, err := Start(context.Background(), tt.spec, tt.opts)
			if err == nil {
				s.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("got %v, want %v", err, w)
				}
			}
			if entries, _ := os.ReadDir(tt.opts.RuntimeDir); len(entries) != 0 {
				t.Errorf("Start left %d entries in the runtime directory", len(entries))
			}
		})
	}
}

func TestKeepRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("RunAs applies to root only")
	}
	f := newFixture(t, "redis")
	s, sc := startSession(t, f.spec(), Options{RunAs: "-"})
	if got := procUID(t, s.PID()); got != 0 {
		t.Errorf("the client runs as uid %d, want 0", got)
	}
	if out := run(t, s, sc, "redis", "ping"); !strings.Contains(out, "PONG") {
		t.Errorf("ping: got %q", out)
	}
}

func TestResize(t *testing.T) {
	f := newFixture(t, "redis")
	s, _ := startSession(t, f.spec(), Options{})
	if err := s.Resize(132, 43); err != nil {
		t.Fatalf("Resize: %v", err)
	}
	sc, err := s.master.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var ws *unix.Winsize
	var ioErr error
	sc.Control(func(fd uintptr) { ws, ioErr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) })
	if ioErr != nil {
		t.Fatal(ioErr)
	}
	if ws.Col != 132 || ws.Row != 43 {
		t.Errorf("got %dx%d, want 132x43", ws.Col, ws.Row)
	}
	if err := s.Resize(0, 10); err == nil {
		t.Error("Resize(0, 10) succeeded")
	}
}
