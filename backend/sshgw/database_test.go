package sshgw_test

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
)

// randomName returns prefix plus 8 random hex digits.
func randomName(prefix string) string {
	b := make([]byte, 4)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// mariadbRoot runs SQL as MariaDB's root over its socket.
func mariadbRoot(t *testing.T, sql string) string {
	t.Helper()
	out, err := exec.Command("mariadb", "--protocol=socket", "-u", "root", "-N", "-B", "-e", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("mariadb as root: %v: %s", err, out)
	}
	return string(out)
}

// needMariaDB skips (or, under CI, fails) when the local MariaDB is not there.
func needMariaDB(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("mariadb"); err != nil {
		skipUnlessCI(t, "the mariadb client is missing (apt-get install mariadb-client): %v", err)
	}
	if out, err := exec.Command("mariadb-admin", "--protocol=socket", "-u", "root", "ping").CombinedOutput(); err != nil {
		skipUnlessCI(t, "MariaDB is not running (scripts/services.sh starts it): %v: %s", err, out)
	}
}

// clientCmdlines returns the argv and environment of every process running
// name, as the kernel shows them to anyone who may read /proc.
func clientCmdlines(t *testing.T, name string) []string {
	t.Helper()
	var out []string
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "cmdline"))
		if err != nil || !strings.Contains(string(b), name) {
			continue
		}
		out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
	}
	return out
}

// TestDatabaseThroughPicker opens a MariaDB asset from the SSH picker: the
// real client runs logged in with the account's password, which appears in
// no process list; statements are logged one by one, a dangerous one is
// denied (the database survives), a statement split over lines too, and a
// shell escape is refused.
func TestDatabaseThroughPicker(t *testing.T) {
	needTarget(t)
	needMariaDB(t)
	t.Parallel()
	user, db := randomName("pc_gw_"), randomName("pc_gwdb_")
	password := randomName("Secret-") + "x9"
	mariadbRoot(t, fmt.Sprintf("CREATE DATABASE %s; CREATE USER '%s'@'%%' IDENTIFIED BY '%s'; CREATE USER '%s'@'localhost' IDENTIFIED BY '%s'; GRANT ALL ON %s.* TO '%s'@'%%'; GRANT ALL ON %s.* TO '%s'@'localhost';",
		db, user, password, user, password, db, user, db, user))
	t.Cleanup(func() {
		exec.Command("mariadb", "--protocol=socket", "-u", "root", "-e",
			fmt.Sprintf("DROP DATABASE IF EXISTS %s; DROP USER IF EXISTS '%s'@'%%'; DROP USER IF EXISTS '%s'@'localhost';", db, user, user)).Run()
	})

	g := newGW(t)
	alice := g.user("alice")
	key := g.clientKey(alice)
	shop := g.asset("shopdb", store.Protocol{Name: "mariadb", Port: 3306})
	g.st.DB.Model(shop).Update("labels", store.JSONList{"database:" + db})
	acc := g.account(shop, "app", store.SecretPassword, password)
	g.st.DB.Model(acc).Update("username", user)
	g.grant("alice-shop", []*store.User{alice}, []*store.Asset{shop}, []string{store.AccountAll}, store.ActionConnect)

	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@127.0.0.1")...)
	c.expect("shopdb")
	c.send("\r")
	c.expect("[" + db + "]> ")

	for _, line := range clientCmdlines(t, "mariadb") {
		if strings.Contains(line, password) {
			t.Fatalf("the password is in a process's argv: %q", line)
		}
	}
	if ps, err := exec.Command("ps", "-eo", "args").Output(); err != nil {
		t.Fatal(err)
	} else if strings.Contains(string(ps), password) {
		t.Fatal("the password appears in ps output")
	}

	c.send("select 6*7 as answer;\r")
	c.expect("42")
	c.send("create table orders (id int);\r")
	c.expect("Query OK")
	c.send("DROP DATABASE " + db + ";\r")
	c.expect(`denied by rule "Deny dangerous SQL"`)
	c.send("DROP\r")
	c.expect("-> ")
	c.send("TABLE orders;\r")
	c.expect(`denied by rule "Deny dangerous SQL"`)
	c.send("select 'after' as marker;\r")
	c.expect("| after  |")
	c.send(`\! id` + "\r")
	c.expect("[Portcullis] Refused: ")
	c.send("exit\r")
	c.expect("Disconnected from shopdb")
	c.send("q")
	c.wait()
	g.waitEnded()

	if got := mariadbRoot(t, fmt.Sprintf("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '%s' AND table_name = 'orders'", db)); strings.TrimSpace(got) != "1" {
		t.Fatalf("table orders after the denied DROP: got count %q, want 1", got)
	}
	s := rows[store.Session](g)
	if len(s) != 1 || s[0].Protocol != "mariadb" || s[0].AccountName != "app" {
		t.Fatalf("sessions: got %+v, want one mariadb session as app", s)
	}
	var got []string
	for _, cmd := range rows[store.Command](g, "session_id = ?", s[0].ID) {
		if cmd.Input != "exit" { // a client command; whether it is logged is the dialect's business
			got = append(got, cmd.Input+" => "+cmd.Verdict)
		}
	}
	want := []string{
		"select 6*7 as answer; => allowed",
		"create table orders (id int); => allowed",
		"DROP DATABASE " + db + "; => denied",
		"DROP\nTABLE orders; => denied",
		"select 'after' as marker; => allowed",
		`\! id => denied`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("commands:\ngot  %q\nwant %q", got, want)
	}
}
