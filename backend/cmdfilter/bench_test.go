package cmdfilter

import (
	"strings"
	"testing"
)

// BenchmarkCheck measures a check against the built-in group, for a typical
// command and for long, deeply wrapped or nested ones.
func BenchmarkCheck(b *testing.B) {
	e := builtin(b)
	for _, c := range []struct{ name, command string }{
		{"typical", "sudo systemctl restart nginx && journalctl -u nginx --since today | tail -n 50"},
		{"64KiB of words", strings.Repeat("ls -la ", MaxCommandLen/7)},
		{"64KiB of separators", strings.Repeat("a;", MaxCommandLen/2)},
		{"nested wrappers", strings.Repeat("sudo ", MaxCommandLen/5)},
		{"nested evals", strings.Repeat("eval ", MaxCommandLen/5)},
		{"fork bomb shapes", strings.Repeat("a(){", MaxCommandLen/4)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.command)))
			for b.Loop() {
				e.Check(Scope{}, c.command)
			}
		})
	}
}
