package term

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
)

// semicolons is a test dialect over bash: a line is split into statements
// at "; ", and a line holding "ESCAPE" is refused whatever the filters say.
type semicolons struct{ resets atomic.Int32 }

func (s *semicolons) Line(line string) ([]string, error) {
	if strings.Contains(line, "ESCAPE") {
		return nil, errors.New("escapes are disabled")
	}
	var out []string
	for _, p := range strings.Split(line, "; ") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *semicolons) Reset() { s.resets.Add(1) }

func TestStatements(t *testing.T) {
	dialect := &semicolons{}
	e := startEnv(t, withRules(testRule{name: "No canary", action: store.FilterDeny, content: "touch DENIED-CANARY"}),
		func(_ *testEnv, c *Config) { c.Statements = dialect })

	t.Run("each statement logged", func(t *testing.T) {
		e.run("touch ONE; touch TWO")
		if !e.exists("ONE") || !e.exists("TWO") {
			t.Fatal("the allowed statements did not run")
		}
		got := e.inputs()
		want := []string{"touch ONE => allowed", "touch TWO => allowed"}
		if !equalStrings(got, want) {
			t.Errorf("got commands %q, want %q", got, want)
		}
	})
	t.Run("one denied statement refuses the line", func(t *testing.T) {
		before := len(e.commands())
		m := e.user.mark()
		e.user.typeKeys(t, "touch THREE; touch DENIED-CANARY\r")
		m = e.user.waitFor(t, m, "[Portcullis] ")
		e.run("echo marker")
		if e.exists("THREE") || e.exists("DENIED-CANARY") {
			t.Fatal("a statement of the refused line ran")
		}
		if !strings.Contains(e.user.since(m), `denied by rule "No canary": touch DENIED-CANARY`) {
			t.Errorf("got %q, want the denial of the second statement", e.user.since(m))
		}
		got := e.inputs()[before:]
		want := []string{"touch THREE => denied", "touch DENIED-CANARY => denied", "echo marker => allowed"}
		if !equalStrings(got, want) {
			t.Errorf("got commands %q, want %q", got, want)
		}
		if dialect.resets.Load() != 1 {
			t.Errorf("got %d resets, want 1", dialect.resets.Load())
		}
	})
	t.Run("refused by the dialect", func(t *testing.T) {
		before := len(e.commands())
		m := e.user.mark()
		e.user.typeKeys(t, "touch ESCAPE\r")
		e.user.waitFor(t, m, "[Portcullis] Refused: escapes are disabled")
		e.run("echo after")
		if e.exists("ESCAPE") {
			t.Fatal("the refused line ran")
		}
		got := e.inputs()[before:]
		want := []string{"touch ESCAPE => denied", "echo after => allowed"}
		if !equalStrings(got, want) {
			t.Errorf("got commands %q, want %q", got, want)
		}
		if dialect.resets.Load() != 2 {
			t.Errorf("got %d resets, want 2", dialect.resets.Load())
		}
	})
	if _, err := os.Stat(filepath.Join(e.dir, "RM-RAN")); err == nil {
		t.Error("rm ran")
	}
}
