package dbgw

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// waitTimeout bounds every wait of the tests.
const waitTimeout = 20 * time.Second

// Prompts of the clients, in the screen text (escape sequences removed).
const (
	mariadbPrompt = `MariaDB \[[^\]\n]*\]> `
	psqlPrompt    = `[^\s=]+=[>#] `
	redisPrompt   = `redis \S+> `
)

// promptOf matches a protocol's client waiting for input at the end of the
// screen: its prompt at the start of a line. (redis-cli redraws its prompt
// with the line at every key: only a prompt after a newline is a new one.)
func promptOf(protocol string) *regexp.Regexp {
	p := redisPrompt
	switch kindOf(protocol) {
	case kindMySQL:
		p = mariadbPrompt
	case kindPostgres:
		p = psqlPrompt
	}
	return regexp.MustCompile(`(?:^|\n)` + p + `$`)
}

// nextPrompt matches the prompt that follows a command's output.
func nextPrompt(protocol string) *regexp.Regexp {
	return regexp.MustCompile(`\n` + strings.TrimPrefix(promptOf(protocol).String(), `(?:^|\n)`))
}

// screen collects what a session prints.
type screen struct {
	changed chan struct{} // signaled after each read
	done    chan struct{} // closed when Read failed

	mu  sync.Mutex // guards out
	out bytes.Buffer
}

// watch reads s until it ends.
func watch(s io.Reader) *screen {
	sc := &screen{changed: make(chan struct{}, 1), done: make(chan struct{})}
	go func() {
		defer close(sc.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := s.Read(buf)
			if n > 0 {
				sc.mu.Lock()
				sc.out.Write(buf[:n])
				sc.mu.Unlock()
				select {
				case sc.changed <- struct{}{}:
				default:
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return sc
}

// mark is a position in the output to search from.
func (sc *screen) mark() int {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.out.Len()
}

// since returns the screen text from m on, escape sequences removed.
func (sc *screen) since(m int) string {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return plain(sc.out.Bytes()[m:])
}

var ansi = regexp.MustCompile(`\x1b(\[[0-9;?]*[ -/]*[@-~]|\][^\x07]*\x07|[()][0-9A-Za-z]|[=>])`)

// plain removes escape sequences, carriage returns and bells.
func plain(b []byte) string {
	return strings.NewReplacer("\r", "", "\a", "").Replace(ansi.ReplaceAllString(string(b), ""))
}

// waitFor waits until the output since m matches re, and returns the mark
// after it. It fails the test after waitTimeout, or when the session ended
// without a match.
func (sc *screen) waitFor(t testing.TB, m int, re *regexp.Regexp) int {
	t.Helper()
	timer := time.NewTimer(waitTimeout)
	defer timer.Stop()
	for {
		sc.mu.Lock()
		raw := sc.out.Bytes()[m:]
		text := plain(raw)
		loc := re.FindStringIndex(text)
		end := sc.out.Len()
		sc.mu.Unlock()
		if loc != nil {
			return end
		}
		select {
		case <-sc.changed:
		case <-sc.done:
			sc.mu.Lock()
			text = plain(sc.out.Bytes()[m:])
			sc.mu.Unlock()
			if re.MatchString(text) {
				return sc.mark()
			}
			t.Fatalf("the session ended without printing %q; it printed:\n%s", re, text)
		case <-timer.C:
			t.Fatalf("no %q within %v; the session printed:\n%s", re, waitTimeout, text)
		}
	}
}

// testLog is a logger for Options.Log that keeps what it logged.
type testLog struct {
	logger *slog.Logger

	mu  sync.Mutex // guards buf
	buf bytes.Buffer
}

func newTestLog(t testing.TB) *testLog {
	l := &testLog{}
	l.logger = slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return l
}

func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *testLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// settleQuiet is how long the output must pause for settle.
const settleQuiet = 50 * time.Millisecond

// settle waits until the session's output pauses for settleQuiet, as the
// relay does before it reads a line off the screen and sends ClearLine: a
// client that just printed its prompt may not have set its terminal up for
// line editing yet, and keys sent then are echoed by the terminal itself.
func (sc *screen) settle(t testing.TB) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for last := sc.mark(); ; {
		select {
		case <-sc.changed:
		case <-sc.done:
			return
		case <-time.After(settleQuiet):
			if m := sc.mark(); m == last {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the session's output did not settle")
		}
		last = sc.mark()
	}
}

// typeLine types a line and Enter.
func typeLine(t testing.TB, s io.Writer, line string) {
	t.Helper()
	if _, err := s.Write([]byte(line + "\r")); err != nil {
		t.Fatalf("type %q: %v", line, err)
	}
}

// run types a line and waits for the prompt after its output; it returns
// the screen text since the line was typed.
func run(t testing.TB, s io.Writer, sc *screen, protocol, line string) string {
	t.Helper()
	m := sc.mark()
	typeLine(t, s, line)
	sc.waitFor(t, m, nextPrompt(protocol))
	return sc.since(m)
}

// startSession starts a session that the test closes at its end, and waits
// for the client's prompt.
func startSession(t testing.TB, spec Spec, opts Options) (*Session, *screen) {
	t.Helper()
	s, err := Start(context.Background(), spec, opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	sc := watch(s)
	sc.waitFor(t, 0, promptOf(spec.Protocol))
	return s, sc
}

// needServer skips the test when a server it needs is not reachable, and
// fails it under CI, where scripts/services.sh must have started them all.
func needServer(t testing.TB, name, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not reachable at %s under CI: %v", name, addr, err)
	}
	t.Skipf("%s is not reachable at %s (scripts/services.sh starts it): %v", name, addr, err)
}

// needClient skips the test when a protocol's client is not installed (and
// fails it under CI).
func needClient(t testing.TB, protocol string) {
	t.Helper()
	if _, err := clientPath(protocol, nil); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the %s client is missing under CI: %v", protocol, err)
		}
		t.Skipf("the %s client is not installed: %v", protocol, err)
	}
}

// dialTCP returns a Spec.Dial to addr.
func dialTCP(addr string) func(context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// randomName is a name for a test's database user or database.
func randomName(t testing.TB) string { return "pc_dbgw_" + randomHex(t, 5) }

// randomPassword is a password with the characters that need quoting in an
// option file, a .pgpass line or SQL.
func randomPassword(t testing.TB) string {
	return "Pw#" + randomHex(t, 8) + `:"'\ ;$x` + randomHex(t, 4)
}

// admin runs an administration command with its input on stdin (never in
// its arguments, which ps would show), and fails the test if it fails.
func admin(t testing.TB, stdin string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
	return string(out)
}

// account is a database account a test created.
type account struct {
	user, password, database string
}

// mariadbAccount creates a MariaDB user with a password and a database of its
// own, dropped at the end of the test.
func mariadbAccount(t testing.TB) account {
	t.Helper()
	needServer(t, "MariaDB", "127.0.0.1:3306")
	needClient(t, "mariadb")
	a := account{user: randomName(t), password: randomPassword(t), database: randomName(t)}
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `''`).Replace(a.password)
	admin(t, fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'127.0.0.1';",
		a.database, a.user, quoted, a.database, a.user), "mariadb", "-uroot")
	t.Cleanup(func() {
		admin(t, fmt.Sprintf("DROP USER IF EXISTS '%s'@'127.0.0.1'; DROP DATABASE IF EXISTS %s;", a.user, a.database), "mariadb", "-uroot")
	})
	return a
}

// postgresAccount creates a PostgreSQL role with a password and a database it
// owns, dropped at the end of the test.
func postgresAccount(t testing.TB) account {
	t.Helper()
	needServer(t, "PostgreSQL", "127.0.0.1:5432")
	needClient(t, "postgresql")
	a := account{user: randomName(t), password: randomPassword(t), database: randomName(t)}
	quoted := strings.ReplaceAll(a.password, `'`, `''`)
	psql := []string{"-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"}
	admin(t, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s';\nCREATE DATABASE %s OWNER %s;\n", a.user, quoted, a.database, a.user), "psql", psql...)
	t.Cleanup(func() {
		admin(t, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE);\nDROP ROLE IF EXISTS %s;\n", a.database, a.user), "psql", psql...)
	})
	return a
}

// redisAccount creates a Redis ACL user with a password, deleted at the end
// of the test.
func redisAccount(t testing.TB) account {
	t.Helper()
	needServer(t, "Redis", "127.0.0.1:6379")
	needClient(t, "redis")
	a := account{user: randomName(t), password: "Pw#" + randomHex(t, 12) + ":;$%"}
	if out := admin(t, fmt.Sprintf("ACL SETUSER %s on >%s ~* &* +@all\n", a.user, a.password), "redis-cli", "-h", "127.0.0.1", "-p", "6379"); !strings.Contains(out, "OK") {
		t.Fatalf("ACL SETUSER: %s", out)
	}
	t.Cleanup(func() {
		admin(t, fmt.Sprintf("ACL DELUSER %s\n", a.user), "redis-cli", "-h", "127.0.0.1", "-p", "6379")
	})
	return a
}

// nobody returns the uid the clients run as by default, or -1 when the tests
// do not run as root (the clients then run as the tests' user).
func nobody(t testing.TB) int {
	t.Helper()
	if os.Geteuid() != 0 {
		return -1
	}
	u, err := user.Lookup(defaultRunAs)
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	return uid
}

// procUID returns the real uid of a process.
func procUID(t testing.TB, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatalf("no Uid in /proc/%d/status", pid)
	return 0
}
