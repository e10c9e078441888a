package term

import (
	"github.com/portcullis/portcullis/backend/cmdfilter"
)

// CheckExec checks a command line, or the command of an exec request (ssh
// host cmd). It is cmdfilter's Check, which already takes the most severe
// verdict of the whole command, its lines and its simple commands; it stays
// here so that every door checks commands through one named function.
func CheckExec(e *cmdfilter.Engine, s cmdfilter.Scope, command string) cmdfilter.Verdict {
	return e.Check(s, command)
}
