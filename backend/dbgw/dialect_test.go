package dbgw

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// dialectCase feeds lines to a fresh Dialect: every line but the last must be
// accepted; the last must fail with err (when set). want is every statement
// returned, in order.
type dialectCase struct {
	name  string
	lines []string
	want  []string
	err   error
}

func runDialectCases(t *testing.T, protocol string, cases []dialectCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := NewDialect(protocol)
			var got []string
			for i, l := range tc.lines {
				out, err := d.Line(l)
				if i < len(tc.lines)-1 || tc.err == nil {
					if err != nil {
						t.Fatalf("line %q: got error %v, want none", l, err)
					}
					got = append(got, out...)
					continue
				}
				if !errors.Is(err, tc.err) {
					t.Fatalf("line %q: got %v (statements %q), want %v", l, err, out, tc.err)
				}
				if out != nil {
					t.Errorf("line %q: got statements %q with the error", l, out)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestMySQLDialect(t *testing.T) {
	runDialectCases(t, "mariadb", []dialectCase{
		// Splitting.
		{name: "one statement", lines: []string{"select 1;"}, want: []string{"select 1;"}},
		{name: "two statements", lines: []string{"select 1; select 2;"}, want: []string{"select 1;", "select 2;"}},
		{name: "over two lines", lines: []string{"select 1", "from dual;"}, want: []string{"select 1\nfrom dual;"}},
		{name: "unfinished", lines: []string{"select 1"}, want: nil},
		{name: "blank line", lines: []string{""}, want: nil},
		{name: "a lone delimiter", lines: []string{";"}, want: nil},
		{name: "rest of a line starts the next", lines: []string{"select 1; select", "2;"}, want: []string{"select 1;", "select\n2;"}},
		{name: "single quotes", lines: []string{"select ';' ;"}, want: []string{"select ';';"}},
		{name: "double quotes", lines: []string{`select "a;b";`}, want: []string{`select "a;b";`}},
		{name: "backquotes", lines: []string{"select `a;b` from t;"}, want: []string{"select `a;b` from t;"}},
		{name: "doubled quote", lines: []string{"select 'it''s;';"}, want: []string{"select 'it''s;';"}},
		{name: "escaped backslash", lines: []string{`select 'a\\';`}, want: []string{`select 'a\\';`}},
		{name: "escape in string", lines: []string{`select 'a\n;b';`}, want: []string{`select 'a\n;b';`}},
		{name: "string over lines", lines: []string{"select 'a;", "b';"}, want: []string{"select 'a;\nb';"}},
		{name: "dash comment", lines: []string{"select 1 -- a;", ";"}, want: []string{"select 1;"}},
		{name: "hash comment", lines: []string{"select 1 # a;", "+ 1;"}, want: []string{"select 1 \n+ 1;"}},
		{name: "block comment stripped", lines: []string{"select /* ; */1;"}, want: []string{"select  1;"}},
		{name: "block comment over lines", lines: []string{"select 1 /* a;", "b; */ + 2;"}, want: []string{"select 1  + 2;"}},
		{name: "comment hides no keyword", lines: []string{"drop/**/table t;"}, want: []string{"drop table t;"}},
		{name: "executable comment kept", lines: []string{"select /*!50000 1 */;"}, want: []string{"select /*!50000 1 */;"}},
		{name: "mariadb comment kept", lines: []string{"select /*M!100000 1 */;"}, want: []string{"select /*M!100000 1 */;"}},
		{name: "go", lines: []string{`select 1 \g`}, want: []string{`select 1\g`}},
		{name: "ego", lines: []string{`select 1\G select 2;`}, want: []string{`select 1\G`, "select 2;"}},
		{name: "NULL", lines: []string{`select \N;`}, want: []string{`select \N;`}},
		{name: "clear", lines: []string{"select 1", `oops \c`, "select 2;"}, want: []string{"select 2;"}},
		{name: "clear on its own", lines: []string{"clear", "select 2;"}, want: []string{"select 2;"}},
		{name: "delimiter", lines: []string{"delimiter //", "create procedure p() begin select 1; end //", "call p()//", "DELIMITER ;", "select 2;"},
			want: []string{"delimiter //", "create procedure p() begin select 1; end", "call p()", "DELIMITER ;", "select 2;"}},
		{name: "short delimiter", lines: []string{`\d $$`, "select 1; select 2$$"}, want: []string{`\d $$`, "select 1; select 2"}},
		{name: "quoted delimiter", lines: []string{"delimiter '//'", "select 1//"}, want: []string{"delimiter '//'", "select 1"}},
		{name: "delimiter with a backslash refused by the client", lines: []string{`delimiter \\`, "select 1;"}, want: []string{`delimiter \\`, "select 1;"}},
		{name: "use", lines: []string{"use shop"}, want: []string{"use shop"}},
		{name: "use with delimiter", lines: []string{"use shop;"}, want: []string{"use shop;"}},
		{name: "short use mid-line", lines: []string{`select 1; \u shop`}, want: []string{"select 1;", `\u shop`}},
		{name: "status", lines: []string{"status"}, want: []string{"status"}},
		{name: "warnings", lines: []string{`select 1 \W`, ";"}, want: []string{`\W`, "select 1;"}},
		{name: "reconnect", lines: []string{`\r`}, want: []string{`\r`}},
		{name: "reconnect to a database", lines: []string{"connect shop"}, want: []string{"connect shop"}},
		{name: "quit", lines: []string{`select 1 \q`}, want: []string{`\q`}},
		{name: "escape in a string", lines: []string{`select '\! ls';`}, want: []string{`select '\! ls';`}},
		{name: "escape in backquotes", lines: []string{"select `\\!`;"}, want: []string{"select `\\!`;"}},
		{name: "escape in a dash comment", lines: []string{`select 1 -- \! ls`, ";"}, want: []string{"select 1;"}},
		{name: "escape in a hash comment", lines: []string{`select 1 # \! ls`, ";"}, want: []string{"select 1;"}},
		{name: "escape in a block comment", lines: []string{`select 1 /* \! ls */;`}, want: []string{"select 1;"}},
		{name: "hint", lines: []string{"select /*+ BKA(t1) NO_ICP(t2) */ 1;"}, want: []string{"select  1;"}},
		{name: "system as a column", lines: []string{"select 1,", "system from t;"}, want: []string{"select 1,\nsystem from t;"}},
		{name: "systemx is no command", lines: []string{"systemx;"}, want: []string{"systemx;"}},

		// Shell escapes and client-side files.
		{name: "shell", lines: []string{`\! ls`}, err: ErrShellEscape},
		{name: "shell mid-line", lines: []string{`select 1 \! ls`}, err: ErrShellEscape},
		{name: "shell after a statement", lines: []string{`select 1; \!ls`}, err: ErrShellEscape},
		{name: "shell in an executable comment", lines: []string{`select 1 /*! \! ls */;`}, err: ErrShellEscape},
		{name: "shell in a mariadb comment", lines: []string{`select 1 /*M! \! ls */;`}, err: ErrAmbiguous},
		{name: "shell on a continuation line", lines: []string{"select 1", `\! ls`}, err: ErrShellEscape},
		{name: "shell after a string over lines", lines: []string{"select 'a", `b' \! ls`}, err: ErrShellEscape},
		{name: "shell after go", lines: []string{`select 1 \g \! ls`}, err: ErrShellEscape},
		{name: "system", lines: []string{"system ls"}, err: ErrShellEscape},
		{name: "system upper case", lines: []string{"SYSTEM ls"}, err: ErrShellEscape},
		{name: "system indented", lines: []string{"   system ls"}, err: ErrShellEscape},
		{name: "system alone", lines: []string{"system"}, err: ErrShellEscape},
		{name: "system after a statement", lines: []string{"select 1; system ls;"}, err: ErrShellEscape},
		{name: "system unfinished after a statement", lines: []string{"select 1; system ls"}, err: ErrShellEscape},
		{name: "system after a comment", lines: []string{"/* c */ system ls;"}, err: ErrShellEscape},
		{name: "system after a comment over lines", lines: []string{"/* x", "*/ system ls"}, err: ErrShellEscape},
		{name: "system after a comment line", lines: []string{"-- x", "system ls"}, err: ErrShellEscape},
		{name: "system split by a comment", lines: []string{"system/**/ls;"}, err: ErrShellEscape},
		{name: "pager", lines: []string{`\P less`}, err: ErrShellEscape},
		{name: "pager named", lines: []string{"pager cat > /tmp/x"}, err: ErrShellEscape},
		{name: "pager without a command", lines: []string{"pager"}, err: ErrShellEscape},
		{name: "edit", lines: []string{`select 1 \e`}, err: ErrShellEscape},
		{name: "edit named", lines: []string{"edit"}, err: ErrShellEscape},
		{name: "tee", lines: []string{`\T /tmp/out`}, err: ErrFileAccess},
		{name: "tee named", lines: []string{"tee /tmp/out"}, err: ErrFileAccess},
		{name: "source", lines: []string{`\. /etc/passwd`}, err: ErrFileAccess},
		{name: "source named", lines: []string{"source /etc/passwd"}, err: ErrFileAccess},
		{name: "source split by a comment", lines: []string{"source/**/x;"}, err: ErrFileAccess},
		{name: "source alone", lines: []string{"source"}, err: ErrFileAccess},
		{name: "source after a comment, unfinished", lines: []string{"/* c */ source"}, err: ErrFileAccess},
		{name: "connect to a host", lines: []string{"connect shop evil.example"}, err: ErrClientCommand},
		{name: "short connect to a host", lines: []string{`\r shop evil.example`}, err: ErrClientCommand},
		{name: "connect to a host at the delimiter", lines: []string{"/**/connect shop evil;"}, err: ErrClientCommand},
		{name: "prompt", lines: []string{`\R x> `}, err: ErrClientCommand},
		{name: "prompt named", lines: []string{"prompt x> "}, err: ErrClientCommand},
		{name: "charset", lines: []string{`\C sjis`}, err: ErrClientCommand},
		{name: "unknown command", lines: []string{`select 1 \z`}, err: ErrClientCommand},
		{name: "delimiter mid-line", lines: []string{"select 1; delimiter //"}, err: ErrAmbiguous},
		{name: "escaped quote", lines: []string{`select 'it\'s';`}, err: ErrAmbiguous},
		{name: "escaped double quote", lines: []string{`select "a\"b";`}, err: ErrAmbiguous},
		{name: "odd backslashes before a quote", lines: []string{`select 'a\\\'';`}, err: ErrAmbiguous},
		{name: "hint with a quote", lines: []string{"select 1 /*+ it's */;"}, err: ErrAmbiguous},
		{name: "hint over lines", lines: []string{"select 1 /*+ BKA(t1)"}, err: ErrAmbiguous},
		{name: "comment closed into a comment", lines: []string{"select 1 /*! 2 */* 3;"}, err: ErrAmbiguous},
		{name: "NUL", lines: []string{"select 1\x00;"}, err: ErrAmbiguous},
		{name: "line too long", lines: []string{strings.Repeat("x", MaxStatement+1)}, err: ErrStatementTooLong},
		{name: "statement too long", lines: []string{strings.Repeat("x", MaxStatement/2), strings.Repeat("y", MaxStatement/2)}, err: ErrStatementTooLong},
	})
}

func TestPostgresDialect(t *testing.T) {
	runDialectCases(t, "postgresql", []dialectCase{
		// Splitting.
		{name: "one statement", lines: []string{"select 1;"}, want: []string{"select 1;"}},
		{name: "two statements", lines: []string{"select 1; select 2;"}, want: []string{"select 1;", "select 2;"}},
		{name: "over two lines", lines: []string{"select 1", "from t;"}, want: []string{"select 1\nfrom t;"}},
		{name: "blank lines dropped", lines: []string{"select 1", "", "from t;"}, want: []string{"select 1\nfrom t;"}},
		{name: "unfinished", lines: []string{"select 1"}, want: nil},
		{name: "quotes", lines: []string{"select ';';"}, want: []string{"select ';';"}},
		{name: "doubled quote", lines: []string{"select 'it''s;';"}, want: []string{"select 'it''s;';"}},
		{name: "backslash in a standard string", lines: []string{`select 'a\b';`}, want: []string{`select 'a\b';`}},
		{name: "escape string", lines: []string{`select E'a\';b';`}, want: []string{`select E'a\';b';`}},
		{name: "identifier", lines: []string{`select 1 as "a;""b";`}, want: []string{`select 1 as "a;""b";`}},
		{name: "unicode string", lines: []string{`select U&'a'';';`}, want: []string{`select U&'a'';';`}},
		{name: "bit string", lines: []string{"select B'01', X'ff';"}, want: []string{"select B'01', X'ff';"}},
		{name: "dollar quotes", lines: []string{"select $$a;b$$;"}, want: []string{"select $$a;b$$;"}},
		{name: "tagged dollar quotes", lines: []string{"select $f$ a $$ ; $f$;"}, want: []string{"select $f$ a $$ ; $f$;"}},
		{name: "function body", lines: []string{"create function f() returns int as $$", "begin return 1; end;", "$$ language plpgsql;"},
			want: []string{"create function f() returns int as $$\nbegin return 1; end;\n$$ language plpgsql;"}},
		{name: "parameter is no quote", lines: []string{"select $1;"}, want: []string{"select $1;"}},
		{name: "dollar in an identifier", lines: []string{"select a$b$ from t;"}, want: []string{"select a$b$ from t;"}},
		{name: "begin atomic", lines: []string{"create function f() returns int language sql", "begin atomic", "select 1;", "end;"},
			want: []string{"create function f() returns int language sql\nbegin atomic\nselect 1;\nend;"}},
		{name: "begin is a statement", lines: []string{"begin; select 1; commit;"}, want: []string{"begin;", "select 1;", "commit;"}},
		{name: "nested comments", lines: []string{"select /* a /* b */ ; */ 1;"}, want: []string{"select /* a /* b */ ; */ 1;"}},
		{name: "dash comment dropped", lines: []string{"select 1 -- a;", "+ 1;"}, want: []string{"select 1 \n+ 1;"}},
		{name: "parentheses", lines: []string{"select (1;", "2);"}, want: []string{"select (1;\n2);"}},
		{name: "literal semicolon", lines: []string{`select 1 \; select 2;`}, want: []string{"select 1 ; select 2;"}},
		{name: "typecast", lines: []string{"select 1::int, a[1:2] from t;"}, want: []string{"select 1::int, a[1:2] from t;"}},
		{name: "quoted variables", lines: []string{`select :'x', :"y";`}, want: []string{`select :'x', :"y";`}},
		{name: "meta-command", lines: []string{`\dt+ public.*`}, want: []string{`\dt+ public.*`}},
		{name: "describe with a semicolon", lines: []string{`\dt;`}, want: []string{`\dt;`}},
		{name: "two meta-commands", lines: []string{`\x \timing on`}, want: []string{`\x`, `\timing on`}},
		{name: "back to SQL", lines: []string{`\x \\ select 1;`}, want: []string{`\x`, "select 1;"}},
		{name: "go", lines: []string{`select 1 \g`}, want: []string{"select 1", `\g`}},
		{name: "gx over lines", lines: []string{"select 1", `from t \gx`}, want: []string{"select 1\nfrom t", `\gx`}},
		{name: "go alone", lines: []string{`\g`}, want: []string{`\g`}},
		{name: "watch", lines: []string{`select now() \watch 2`}, want: []string{"select now()", `\watch 2`}},
		{name: "meta-command keeps the buffer", lines: []string{`select 1 \x`, ";"}, want: []string{`\x`, "select 1 \n;"}},
		{name: "reset", lines: []string{"select (1", `\r`, "select 2;"}, want: []string{`\r`, "select 2;"}},
		{name: "connect to a database", lines: []string{`\c shop`}, want: []string{`\c shop`}},
		{name: "pager off", lines: []string{`\pset pager off`}, want: []string{`\pset pager off`}},
		{name: "set", lines: []string{`\set ON_ERROR_STOP on`}, want: []string{`\set ON_ERROR_STOP on`}},
		{name: "echo a variable", lines: []string{`\echo :x`}, want: []string{`\echo :x`}},
		{name: "help takes the line", lines: []string{`\h select \! ls`}, want: []string{`\h select \! ls`}},
		{name: "escape in a string", lines: []string{`select '\! ls';`}, want: []string{`select '\! ls';`}},
		{name: "escape in a comment", lines: []string{`select /* \! ls */ 1;`}, want: []string{`select /* \! ls */ 1;`}},
		{name: "escape in a dash comment", lines: []string{`select 1 -- \! ls`}, want: nil},
		{name: "escape in dollar quotes", lines: []string{`select $$ \! ls $$;`}, want: []string{`select $$ \! ls $$;`}},
		{name: "escape in an identifier", lines: []string{`select 1 as "\!";`}, want: []string{`select 1 as "\!";`}},
		{name: "utf8 encoding", lines: []string{"set client_encoding to 'UTF8';"}, want: []string{"set client_encoding to 'UTF8';"}},

		// Refused.
		{name: "shell", lines: []string{`\! ls`}, err: ErrShellEscape},
		{name: "shell mid-line", lines: []string{`select 1 \! ls`}, err: ErrShellEscape},
		{name: "shell after a meta-command", lines: []string{`\x \! ls`}, err: ErrShellEscape},
		{name: "shell after an escape string", lines: []string{`select E'\\' \! ls`}, err: ErrShellEscape},
		{name: "shell after a string over lines", lines: []string{"select 'a", `b' \! ls`}, err: ErrShellEscape},
		{name: "shell after a comment over lines", lines: []string{"select /* a", `*/ \! ls`}, err: ErrShellEscape},
		{name: "backticks", lines: []string{"\\echo `id`"}, err: ErrShellEscape},
		{name: "backticks in set", lines: []string{"\\set x `id`"}, err: ErrShellEscape},
		{name: "backticks in if", lines: []string{"\\if `true`"}, err: ErrShellEscape},
		{name: "prompt variable", lines: []string{`\set PROMPT1 '%/> '`}, err: ErrShellEscape},
		{name: "history file", lines: []string{`\set HISTFILE /tmp/h`}, err: ErrFileAccess},
		{name: "variable named by a variable", lines: []string{`\set :x y`}, err: ErrClientCommand},
		{name: "variable named with a digit", lines: []string{`\set 1 x`}, err: ErrClientCommand},
		{name: "variable in SQL", lines: []string{"select :x;"}, err: ErrClientCommand},
		{name: "editor", lines: []string{`\e`}, err: ErrShellEscape},
		{name: "function editor", lines: []string{`\ef f`}, err: ErrShellEscape},
		{name: "view editor", lines: []string{`\ev v`}, err: ErrShellEscape},
		{name: "output file", lines: []string{`\o /tmp/x`}, err: ErrFileAccess},
		{name: "output pipe", lines: []string{`\o |sh`}, err: ErrFileAccess},
		{name: "write", lines: []string{`\w /tmp/x`}, err: ErrFileAccess},
		{name: "include", lines: []string{`\i /etc/passwd`}, err: ErrFileAccess},
		{name: "include relative", lines: []string{`\ir x.sql`}, err: ErrFileAccess},
		{name: "copy", lines: []string{`\copy t from '/etc/passwd'`}, err: ErrFileAccess},
		{name: "large object import", lines: []string{`\lo_import /etc/passwd`}, err: ErrFileAccess},
		{name: "large object export", lines: []string{`\lo_export 1 /tmp/x`}, err: ErrFileAccess},
		{name: "history to a file", lines: []string{`\s /tmp/h`}, err: ErrFileAccess},
		{name: "go to a file", lines: []string{`select 1 \g /tmp/x`}, err: ErrFileAccess},
		{name: "go to a pipe", lines: []string{`select 1 \g |sh`}, err: ErrShellEscape},
		{name: "setenv", lines: []string{`\setenv PAGER less`}, err: ErrShellEscape},
		{name: "cd", lines: []string{`\cd /`}, err: ErrFileAccess},
		{name: "gexec", lines: []string{`select 'drop table t' \gexec`}, err: ErrClientCommand},
		{name: "gset", lines: []string{`select 1 as x \gset`}, err: ErrClientCommand},
		{name: "prompt", lines: []string{`\prompt x`}, err: ErrClientCommand},
		{name: "password", lines: []string{`\password`}, err: ErrClientCommand},
		{name: "connect as another user", lines: []string{`\c shop admin`}, err: ErrClientCommand},
		{name: "connect to another host", lines: []string{`\c shop - evil.example 5432`}, err: ErrClientCommand},
		{name: "connect with a connection string", lines: []string{`\c "host=evil dbname=x"`}, err: ErrClientCommand},
		{name: "connect with a URI", lines: []string{`\c postgresql://evil/db`}, err: ErrClientCommand},
		{name: "pager program", lines: []string{`\pset pager less`}, err: ErrClientCommand},
		{name: "unknown meta-command", lines: []string{`\frobnicate`}, err: ErrClientCommand},
		{name: "empty meta-command", lines: []string{`\\ select 1;`}, err: ErrClientCommand},
		{name: "escaped quote", lines: []string{`select 'a\'';`}, err: ErrAmbiguous},
		{name: "client-only encoding", lines: []string{"set client_encoding to 'SJIS';"}, err: ErrAmbiguous},
		{name: "client-only encoding by set_config", lines: []string{"select set_config('client_encoding', 'big5', false);"}, err: ErrAmbiguous},
		{name: "client-only encoding by names", lines: []string{"set names 'gbk';"}, err: ErrAmbiguous},
		{name: "encoding meta-command", lines: []string{`\encoding SJIS`}, err: ErrAmbiguous},
		{name: "statement too long", lines: []string{"select '" + strings.Repeat("x", MaxStatement/2), strings.Repeat("y", MaxStatement/2)}, err: ErrStatementTooLong},
	})
}

func TestRedisDialect(t *testing.T) {
	runDialectCases(t, "redis", []dialectCase{
		{name: "command", lines: []string{"set a 1"}, want: []string{"set a 1"}},
		{name: "trimmed", lines: []string{"  get a  "}, want: []string{"get a"}},
		{name: "one per line", lines: []string{"set a 1", "", "get a"}, want: []string{"set a 1", "get a"}},
		{name: "semicolons are data", lines: []string{"set a ;"}, want: []string{"set a ;"}},
		{name: "connect", lines: []string{"connect 10.0.0.1 6379"}, err: ErrClientCommand},
		{name: "connect repeated", lines: []string{"3 CONNECT x 1"}, err: ErrClientCommand},
		{name: "too long", lines: []string{strings.Repeat("x", MaxStatement+1)}, err: ErrStatementTooLong},
	})
}

func TestUnknownDialect(t *testing.T) {
	if _, err := NewDialect("oracle").Line("select 1 from dual;"); !errors.Is(err, ErrClientCommand) {
		t.Errorf("got %v, want %v", err, ErrClientCommand)
	}
}

func TestDialectLineIsAtomic(t *testing.T) {
	t.Run("a refused line changes nothing", func(t *testing.T) {
		d := NewDialect("mariadb")
		mustLine(t, d, "select 'a")
		if _, err := d.Line(`x'; \! ls`); !errors.Is(err, ErrShellEscape) {
			t.Fatalf("got %v, want %v", err, ErrShellEscape)
		}
		// Still inside the string of the first line.
		if got := mustLine(t, d, "';"); !slices.Equal(got, []string{"select 'a\n';"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("reset forgets the statement", func(t *testing.T) {
		d := NewDialect("postgresql")
		mustLine(t, d, "select 'a")
		d.Reset()
		if got := mustLine(t, d, "select 2;"); !slices.Equal(got, []string{"select 2;"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("reset undoes the last delimiter", func(t *testing.T) {
		d := NewDialect("mysql")
		mustLine(t, d, "delimiter //")
		d.Reset() // the relay denied the line: the client never saw it
		if got := mustLine(t, d, "select 1;"); !slices.Equal(got, []string{"select 1;"}) {
			t.Errorf("got %q", got)
		}
	})
	t.Run("reset keeps an earlier delimiter", func(t *testing.T) {
		d := NewDialect("mysql")
		mustLine(t, d, "delimiter //")
		mustLine(t, d, "select 1")
		d.Reset()
		if got := mustLine(t, d, "select 2//"); !slices.Equal(got, []string{"select 2"}) {
			t.Errorf("got %q", got)
		}
	})
}

func mustLine(t *testing.T, d *Dialect, line string) []string {
	t.Helper()
	out, err := d.Line(line)
	if err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	return out
}

func TestClearLineKeys(t *testing.T) {
	tests := []struct {
		protocol string
		want     []byte
	}{
		{"mariadb", []byte{0x05, 0x15, 0x03}},
		{"mysql", []byte{0x05, 0x15, 0x03}},
		{"postgresql", []byte{0x05, 0x15, 0x03}},
		{"redis", []byte{0x05, 0x15}},
		{"telnet", []byte{0x05, 0x15, 0x03}},
	}
	for _, tt := range tests {
		t.Run(tt.protocol, func(t *testing.T) {
			got := ClearLine(tt.protocol)
			if !bytes.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			got[0] = 'x'
			if again := ClearLine(tt.protocol); !bytes.Equal(again, tt.want) {
				t.Errorf("a caller changed the next result: %q", again)
			}
		})
	}
}

func TestSupported(t *testing.T) {
	for _, p := range []string{"mysql", "mariadb", "postgresql", "redis", "PostgreSQL"} {
		if !Supported(p) {
			t.Errorf("Supported(%q) = false", p)
		}
	}
	for _, p := range []string{"", "postgres", "oracle", "ssh"} {
		if Supported(p) {
			t.Errorf("Supported(%q) = true", p)
		}
	}
}
