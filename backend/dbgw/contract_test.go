package dbgw_test

import (
	"github.com/portcullis/portcullis/backend/dbgw"
	"github.com/portcullis/portcullis/backend/term"
)

// The relay runs a Session as its target and checks a Dialect's statements.
var (
	_ term.Target     = (*dbgw.Session)(nil)
	_ term.Statements = (*dbgw.Dialect)(nil)
)
