package term

import (
	"strings"

	"github.com/portcullis/portcullis/backend/cmdfilter"
)

// CheckExec checks the command of an exec request (ssh host cmd) as the relay
// checks an interactive line: the whole command and, as a shell runs each
// line of a multi-line command on its own, every line and every run of lines
// joined by trailing backslashes. It returns the most severe verdict (deny,
// then confirm, warn, allow, no match): an allow rule matching one line does
// not let another line through. A nil engine allows everything.
func CheckExec(e *cmdfilter.Engine, s cmdfilter.Scope, command string) cmdfilter.Verdict {
	if e == nil {
		return cmdfilter.Verdict{Risk: cmdfilter.RiskLow}
	}
	v := e.Check(s, command)
	if !strings.ContainsAny(command, "\r\n") {
		return v
	}
	worst := func(c string) {
		if c = strings.TrimSpace(c); c == "" {
			return
		}
		if cv := e.Check(s, c); severity(cv.Action) > severity(v.Action) {
			v = cv
		}
	}
	lines := strings.FieldsFunc(command, func(r rune) bool { return r == '\n' || r == '\r' })
	var joined strings.Builder
	for _, l := range lines {
		worst(l)
		if continued(l) {
			joined.WriteString(strings.TrimSuffix(l, `\`))
			continue
		}
		if joined.Len() > 0 {
			joined.WriteString(l)
			worst(joined.String())
			joined.Reset()
		}
	}
	worst(joined.String())
	return v
}
