package sshgw_test

import (
	"crypto/rand"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

// prompt is the target shell's prompt, set by the tests to something that
// cannot appear by accident.
const prompt = "PCGW-READY$ "

// setPrompt makes the target shell's prompt recognizable.
func setPrompt(c *term) {
	c.expect("$ ") // the shell's own prompt: type nothing ahead of it
	c.send("PS1='PCGW-''READY$ '\r")
	c.expect(prompt)
}

func TestPickerNavigateAndConnect(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	var assets []*store.Asset
	for _, n := range []string{"app01", "db-数据库", "zz-last"} {
		a := g.asset(n)
		g.account(a, "deploy", store.SecretSSHKey, string(sshd.key))
		assets = append(assets, a)
	}
	g.grant("more", []*store.User{alice}, assets, []string{store.AccountAll}, store.ActionConnect)

	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@127.0.0.1")...)
	c.expect("(4 assets)")
	c.expect("zz-last")
	c.send("?")
	c.expect("Direct connection")
	c.send("x")  // back to the list
	c.send("/")  // search
	c.send("数据") // UTF-8 search, server side
	c.expect("db-数据库")
	c.send("\x15")   // Ctrl-U clears
	c.send("\x1b")   // leave the search box
	c.send("j")      // app01 -> db
	c.send("\x1b[B") // -> web01
	c.send("\r")
	c.expect("Connecting to web01 as deploy")
	setPrompt(c)
	c.send("echo $((6*7))\r")
	c.expect("42")
	c.send("exit\r")
	c.expect("Disconnected from web01")
	c.send("q")
	c.expect("Bye.")
	if got := c.wait(); got != 0 {
		t.Errorf("exit status: got %v, want 0", got)
	}
	sessions := rows[store.Session](g)
	if len(sessions) != 1 || sessions[0].AssetName != "web01" || sessions[0].Kind != "shell" || sessions[0].EndedAt == nil {
		t.Fatalf("sessions: got %+v, want one ended shell on web01", sessions)
	}
}

func TestPickerChineseAndResize(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, []string{"LANG=zh_CN.UTF-8"}, "ssh", g.sshArgs("-t", "-o", "SendEnv=LANG", "-i", key, "-o", "IdentitiesOnly=yes", "alice@127.0.0.1")...)
	c.expect("共 1 台资产")
	c.expect("web01")
	if err := setSize(c, 100, 40); err != nil {
		t.Fatal(err)
	}
	c.expect("第 1/1 页") // repainted after the resize
	c.send("\x04")
	c.expect("再见")
	c.wait()
}

func TestDirectTargetWithSeveralAccounts(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	g.account(g.web01, "ops", store.SecretPassword, sshd.password)
	key := g.clientKey(alice)

	t.Run("chosen in a prompt", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
		c.expect("Choose an account on web01")
		c.expect("2) ops")
		c.send("2\r")
		setPrompt(c)
		c.send("exit\r")
		c.wait()
	})
	t.Run("named in the user name", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@ops@web01@127.0.0.1", "echo", "as-ops")...)
		c.expect("as-ops")
		if got := c.wait(); got != 0 {
			t.Errorf("exit status: got %v, want 0", got)
		}
		sessions := rows[store.Session](g, "kind = ?", "exec")
		if len(sessions) != 1 || sessions[0].AccountName != "ops" {
			t.Errorf("exec session: got %+v, want account ops", sessions)
		}
	})
	t.Run("exec without a choice", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "true")...)
		c.expect("Several accounts are available on web01")
		if got := c.wait(); got != 1 {
			t.Errorf("exit status: got %v, want 1", got)
		}
	})
}

func TestInputAccountPrompts(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.user("alice")
	key := g.clientKey(alice)
	a := g.asset("web01")
	g.grant("input", []*store.User{alice}, []*store.Asset{a}, []string{store.AccountInput}, store.ActionConnect)
	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
	c.expect("Username: ")
	c.send(sshd.user + "\r")
	c.expect("Password: ")
	c.send(sshd.password + "\r")
	setPrompt(c)
	if strings.Contains(c.all(), sshd.password) {
		t.Fatal("the password was echoed")
	}
	c.send("whoami\r")
	c.expect(sshd.user)
	c.send("exit\r")
	c.wait()
}

func TestCommandsLoggedAfterEditing(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
	setPrompt(c)
	c.send("echo first\r")
	c.expect(prompt)
	c.send("\x1b[A\r") // history recall
	c.expect(prompt)
	c.send("echo wrong\x15echo fixxed\x7f\x7f\x7fed\r") // Ctrl-U, then backspaces
	c.expect("fixed")
	c.expect(prompt)
	c.send("exit\r")
	c.wait()
	g.waitEnded()
	var got []string
	for _, cmd := range rows[store.Command](g) {
		got = append(got, cmd.Input)
	}
	want := []string{"PS1='PCGW-''READY$ '", "echo first", "echo first", "echo fixed", "exit"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("commands: got %q, want %q", got, want)
	}
}

// canaryFilter adds a deny filter on "touch <canary>" and returns the canary path.
func (g *gw) canaryFilter() string {
	g.t.Helper()
	canary := fmt.Sprintf("/tmp/pcgw-canary-%s", strings.ToLower(rand.Text()[:10]))
	grp := &store.CommandGroup{OrgID: g.org.ID, Name: "canary", Kind: "command", Content: "touch " + canary}
	storetest.MustCreate(g.t, g.st.DB, grp)
	f := &store.CommandFilter{OrgID: g.org.ID, Name: "deny canary", Priority: 5, Action: store.FilterDeny, IsActive: true, Groups: []store.CommandGroup{*grp}}
	storetest.MustCreate(g.t, g.st.DB, f)
	g.t.Cleanup(func() { os.Remove(canary) })
	return canary
}

func TestDeniedCommandsNeverRun(t *testing.T) {
	needTarget(t)
	t.Parallel()
	g := newGW(t)
	alice := g.standard()
	key := g.clientKey(alice)
	canary := g.canaryFilter()

	t.Run("interactive", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-t", "-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1")...)
		setPrompt(c)
		c.send("touch " + canary + "\r")
		c.expect("deny canary")
		c.send("rm -rf /\r")
		c.expect("Deny dangerous commands")
		c.send("echo still-alive\r")
		c.expect("still-alive")
		c.send("exit\r")
		c.wait()
	})
	t.Run("exec", func(t *testing.T) {
		c := run(t, nil, "ssh", g.sshArgs("-i", key, "-o", "IdentitiesOnly=yes", "alice@web01@127.0.0.1", "touch "+canary)...)
		c.expect("deny canary")
		if got := c.wait(); got != 1 {
			t.Errorf("exit status: got %v, want 1", got)
		}
	})
	time.Sleep(200 * time.Millisecond)
	if _, err := os.Stat(canary); !os.IsNotExist(err) {
		t.Fatalf("canary %s exists (%v): a denied command reached the target", canary, err)
	}
	denied := map[string]int{}
	for _, cmd := range rows[store.Command](g, "verdict = ?", "denied") {
		denied[cmd.Input]++
	}
	if denied["touch "+canary] != 2 || denied["rm -rf /"] != 1 {
		t.Errorf("denied commands: got %v, want the canary twice and rm -rf / once", denied)
	}
	if got := len(g.oplogRows("command.denied")); got != 3 {
		t.Errorf("command.denied audit rows: got %v, want 3", got)
	}
}
