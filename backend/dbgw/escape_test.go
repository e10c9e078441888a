package dbgw

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/ptyfile"
)

// TestDialectAgainstClient holds the Dialect to what the real clients do:
// each case types its lines into a client running without the gateway's
// confinement (no sandbox, no Dialect) and sees whether the client ran a
// shell command, which creates a canary file. Whenever it did, the Dialect
// must have refused one of the lines; the harmless cases must pass it.
func TestDialectAgainstClient(t *testing.T) {
	t.Run("mariadb", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("logs in as MariaDB's root over its socket, which needs root")
		}
		needServer(t, "MariaDB", "127.0.0.1:3306")
		needClient(t, "mariadb")
		path, _ := clientPath("mariadb", nil)
		testEscapes(t, "mariadb", path, []string{"--no-defaults", "-uroot"}, []escapeCase{
			{name: "shell", lines: []string{`\! touch {F}`}},
			{name: "shell mid-line", lines: []string{`select 1 \! touch {F}`}},
			{name: "shell after go", lines: []string{`select 1 \g \! touch {F}`}},
			{name: "shell in an executable comment", lines: []string{`select 9 /*! \! touch {F} */;`}},
			{name: "shell in a mariadb comment", lines: []string{`select 9 /*M! \! touch {F} */;`}},
			{name: "shell after a doubled quote", lines: []string{`select 'a''b' \! touch {F}`}},
			{name: "shell after a string over lines", lines: []string{"select 'a", `b' \! touch {F}`}},
			{name: "shell after an escaped backslash", lines: []string{`select 'a\\' \! touch {F}`}},
			{name: "shell with NO_BACKSLASH_ESCAPES", lines: []string{"set sql_mode = 'NO_BACKSLASH_ESCAPES';", `select 'a\' \! touch {F}`}},
			{name: "shell with ANSI_QUOTES", lines: []string{"set sql_mode = 'ANSI_QUOTES';", `select "a\" \! touch {F}`}},
			{name: "system", lines: []string{"system touch {F}"}},
			{name: "system upper case", lines: []string{"SyStEm touch {F}"}},
			{name: "system indented", lines: []string{"    system touch {F}"}},
			{name: "system after a statement", lines: []string{"select 1; system touch {F};"}},
			{name: "system after a comment", lines: []string{"/* c */ system touch {F};"}},
			{name: "system after a comment over lines", lines: []string{"/* c", "*/ system touch {F}", ";"}},
			{name: "system with a custom delimiter", lines: []string{"delimiter //", "select 1 // system touch {F} //"}},
			{name: "system with a doubled delimiter", lines: []string{"delimiter ;;", "select 1;; system touch {F};;"}},
			{name: "shell after a string opened by use", lines: []string{"use 'x", `' \! touch {F}`}},
			{name: "shell after use's arguments", lines: []string{`\u a'b; \! touch {F}`}},
			{name: "shell after an executable comment's line", lines: []string{"select 1 /*!50000 2", `\u x; \! touch {F} */;`}},
			{name: "source split by a comment", lines: []string{"source/**/{S};"}},
			{name: "source", lines: []string{`\. {S}`}},
			{name: "harmless: string", safe: true, lines: []string{`select '\! touch {F}';`}},
			{name: "harmless: double quotes", safe: true, lines: []string{`select "\! touch {F}";`}},
			{name: "harmless: backquotes", safe: true, lines: []string{"select `\\! touch {F}`;"}},
			{name: "harmless: dash comment", safe: true, lines: []string{`select 1 -- \! touch {F}`, ";"}},
			{name: "harmless: hash comment", safe: true, lines: []string{`select 1 # \! touch {F}`, ";"}},
			{name: "harmless: block comment", safe: true, lines: []string{`select 1 /* \! touch {F} */;`}},
			{name: "harmless: system on a continuation line", safe: true, lines: []string{"select 1", "system touch {F}", ";"}},
			{name: "harmless: system sent as SQL", safe: true, lines: []string{`system touch {F} \g`}},
			{name: "harmless: quote in use's argument", safe: true, lines: []string{"use a'b", `' \! touch {F}';`}},
			{name: "harmless: shell in use's arguments", safe: true, lines: []string{`select 1 /*!50000 \u db; \! touch {F} */;`}},
			{name: "harmless: system inside a statement", safe: true, lines: []string{`\d //`, "select 1; system touch {F} //"}},
		})
	})
	t.Run("psql", func(t *testing.T) {
		needServer(t, "PostgreSQL", "127.0.0.1:5432")
		needClient(t, "postgresql")
		path, _ := clientPath("postgresql", nil)
		testEscapes(t, "postgresql", path, []string{"-X", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres"}, []escapeCase{
			{name: "shell", lines: []string{`\! touch {F}`}},
			{name: "shell mid-line", lines: []string{`select 1 \! touch {F}`}},
			{name: "shell after a meta-command", lines: []string{`\x \! touch {F}`}},
			{name: "shell after back to SQL", lines: []string{`\x \\ select 1; \! touch {F}`}},
			{name: "shell after a standard string", lines: []string{`select 'a\' \! touch {F}`}},
			{name: "shell after an escape string", lines: []string{`select E'a\\' \! touch {F}`}},
			{name: "shell with standard_conforming_strings off", lines: []string{"set standard_conforming_strings = off;", `select 'a\\' \! touch {F}`}},
			{name: "shell after a string over lines", lines: []string{"select 'a", `b' \! touch {F}`}},
			{name: "shell after dollar quotes", lines: []string{`select $x$ a $x$ \! touch {F}`}},
			{name: "shell after a comment over lines", lines: []string{"select /* a", `*/ \! touch {F}`}},
			{name: "shell after set", lines: []string{`\set x 1 \! touch {F}`}},
			{name: "shell after a parameter", lines: []string{`select $1 \! touch {F}`}},
			{name: "shell after a dollar in an identifier", lines: []string{`select a$$ \! touch {F}`}},
			{name: "shell after letters stuck to a number", lines: []string{`select 1e$$ \! touch {F} $$;`}},
			{name: "backticks", lines: []string{"\\echo `touch {F}`"}},
			{name: "backticks in a prompt", lines: []string{"\\set PROMPT1 '%`touch {F}`'", "select 1;"}},
			{name: "hex backticks in a prompt", lines: []string{`\set PROMPT1 '%\x60touch {F}\x60'`, "select 1;"}},
			{name: "variable holding a shell escape", lines: []string{`\set x '\\! touch {F}'`, "select :x;"}},
			{name: "error message holding a shell escape", lines: []string{`do $$ begin raise exception '%', E'\\! touch {F}'; end $$;`, ":LAST_ERROR_MESSAGE"}},
			{name: "go to a pipe", lines: []string{`select 1 \g |touch {F}`}},
			{name: "output to a pipe", lines: []string{`\o |touch {F}`, "select 1;"}},
			{name: "output to a file", lines: []string{`\o {F}`}},
			{name: "write the buffer", lines: []string{`\w {F}`}},
			{name: "history to a file", lines: []string{`\s {F}`}},
			{name: "copy to a program", lines: []string{`\copy (select 1) to program 'touch {F}'`}},
			{name: "pager program", lines: []string{`\setenv PAGER 'touch {F}'`, `\pset pager always`, "select 1;"}},
			{name: "harmless: string", safe: true, lines: []string{`select '\! touch {F}';`}},
			{name: "harmless: dollar quotes", safe: true, lines: []string{`select $$ \! touch {F} $$;`}},
			{name: "harmless: dash comment", safe: true, lines: []string{`select 1 -- \! touch {F}`, ";"}},
			{name: "harmless: block comment", safe: true, lines: []string{`select /* \! touch {F} */ 1;`}},
			{name: "harmless: identifier", safe: true, lines: []string{`select 1 as "\! touch {F}";`}},
			{name: "harmless: nested dollar quotes", safe: true, lines: []string{`select $a$ $b$ \! touch {F} $b$ $a$;`}},
			{name: "harmless: help", safe: true, lines: []string{`\h select \! touch {F}`}},
			{name: "harmless: echo", safe: true, lines: []string{`\echo '\! touch {F}'`}},
			{name: "harmless: quoted variable", safe: true, lines: []string{`\set x '\\! touch {F}'`, "select :'x';"}},
		})
	})
}

// escapeCase is lines that may make a client run `touch {F}`; {S} names a
// script that does.
type escapeCase struct {
	name  string
	lines []string
	safe  bool // the client runs nothing: the Dialect must let the lines pass
}

func testEscapes(t *testing.T, protocol, path string, args []string, cases []escapeCase) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			canary := filepath.Join(dir, fmt.Sprintf("canary-%d", i))
			script := filepath.Join(dir, fmt.Sprintf("script-%d.sql", i))
			if err := os.WriteFile(script, []byte(`\! touch `+canary+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			r := strings.NewReplacer("{F}", canary, "{S}", script)
			lines := make([]string, len(tc.lines))
			for j, l := range tc.lines {
				lines[j] = r.Replace(l)
			}

			d := NewDialect(protocol)
			refused := ""
			for _, l := range lines {
				if _, err := d.Line(l); err != nil {
					refused = err.Error()
					break
				}
			}

			c := spawnRaw(t, path, args, dir)
			sc := watch(c)
			sc.waitFor(t, 0, promptOf(protocol))
			sc.settle(t)
			for _, l := range lines {
				typeLine(t, c, l)
				sc.settle(t)
			}
			if _, err := c.Write(ClearLine(protocol)); err != nil {
				t.Fatal(err)
			}
			sc.settle(t)
			// The marker shows the client is done with the lines, whatever
			// the delimiter, the prompt or the output became.
			marker := "MARK" + randomHex(t, 4)
			m := sc.mark()
			if kindOf(protocol) == kindPostgres {
				typeLine(t, c, `\echo `+marker)
				sc.waitFor(t, m, regexp.MustCompile(`(?m)^`+marker+`$`))
			} else {
				typeLine(t, c, "select '"+marker+"' \\g")
				sc.waitFor(t, m, regexp.MustCompile(`(?m)^\| `+marker))
			}
			_, err := os.Stat(canary)
			ran := err == nil

			switch {
			case ran && refused == "":
				t.Errorf("the client ran the shell command and the Dialect let %q through", lines)
			case tc.safe && refused != "":
				t.Errorf("the Dialect refused harmless lines %q: %s", lines, refused)
			case tc.safe && ran:
				t.Errorf("the harmless case ran the shell command")
			case !tc.safe && !ran:
				t.Logf("the client did not run this one (the Dialect refused it: %s)", refused)
			}
		})
	}
}

// rawClient is a client in a pty without Start's confinement.
type rawClient struct {
	cmd    *exec.Cmd
	master *os.File
	exited chan struct{}
}

func spawnRaw(t *testing.T, path string, args []string, dir string) *rawClient {
	t.Helper()
	master, tty, err := ptyfile.Open(160, 40)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	cmd := exec.Command(path, args...)
	cmd.Env = clientEnv("xterm-256color", dir, []string{"MYSQL_HISTFILE=/dev/null", "PSQL_HISTORY=/dev/null"})
	cmd.Dir = dir
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true}
	if err := cmd.Start(); err != nil {
		master.Close()
		t.Fatal(err)
	}
	c := &rawClient{cmd: cmd, master: master, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		close(c.exited)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		select {
		case <-c.exited:
		case <-time.After(waitTimeout):
			t.Error("the client did not exit")
		}
		master.Close()
	})
	return c
}

func (c *rawClient) Read(p []byte) (int, error) { return ptyfile.Read(c.master, p) }

func (c *rawClient) Write(p []byte) (int, error) { return c.master.Write(p) }
