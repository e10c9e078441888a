package dbgw

import (
	"bytes"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Seeds: tricky input of each client's grammar.
var (
	mysqlSeeds = []string{
		"select 1;", "select 1; select 2;", "select 1\nfrom t;", "select ';' ;", "select 'it''s';",
		`select 'a\\';`, "select `a;b`;", "select 1 -- x;\n;", "select 1 # x\n;", "select /* ; */ 1;",
		"select /*! 1 */;", "select /*M!100000 1 */;", "select /*+ BKA(t) */ 1;", `select 1 \g`, `select 1\G`,
		"delimiter //\nselect 1; select 2//\ndelimiter ;", `\d $$`, "use db", `\u db`, "connect db host",
		`\! ls`, `select 1 \! ls`, "system ls", "/* */ system ls;", "source/**/x;", `select 'a\'';`,
		"select 'a\nb';", "\x00", "\xff\xfe'\"`\\", "/*", "*/", "/*!", "'", "`", `"`, `\`,
	}
	pgSeeds = []string{
		"select 1;", "select 1; select 2;", "select 1\nfrom t;", "select 'it''s';", `select E'a\'b';`,
		"select $$a;b$$;", "select $f$ $$ $f$;", "create function f() returns int as $$\nbegin return 1; end;\n$$ language plpgsql;",
		"create function f() returns int language sql\nbegin atomic\nselect 1;\nend;", "select /* /* */ */ 1;",
		"select (1;\n2);", `select 1 \; select 2;`, "select :'x', :\"y\", :{?z}, 1::int, a[1:2];", "select :x;",
		`\dt+`, `\x \timing on`, `\x \\ select 1;`, `select 1 \g`, `select 1 \g |sh`, "\\echo `id`", `\set PROMPT1 x`,
		`\c db`, `\c "host=x"`, `\h select \! ls`, `\pset pager less`, "select 'a\\'';", "U&'x'", "B'01''1'",
		"\x00", "\xff$\xff$", "$", "$a", "'", `"`, `\`, `\\`,
	}
	redisSeeds = []string{"set a 1", "get a", "3 incr n", "connect h 1", "", "\x00", strings.Repeat(" ", 10)}
)

func FuzzDialectMySQL(f *testing.F)    { fuzzDialect(f, "mariadb", mysqlSeeds) }
func FuzzDialectPostgres(f *testing.F) { fuzzDialect(f, "postgresql", pgSeeds) }
func FuzzDialectRedis(f *testing.F)    { fuzzDialect(f, "redis", redisSeeds) }

// fuzzDialect feeds the input's lines to a Dialect: it must not panic, its
// statements stay bounded, a refused line leaves it as it was, and it gives
// the same answers twice.
func fuzzDialect(f *testing.F, protocol string, seeds []string) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		d, again := NewDialect(protocol), NewDialect(protocol)
		for _, line := range strings.Split(input, "\n") {
			before := copyDialect(d)
			out, err := d.Line(line)
			out2, err2 := again.Line(line)
			if !reflect.DeepEqual(out, out2) || (err == nil) != (err2 == nil) {
				t.Fatalf("line %q: got %q, %v then %q, %v", line, out, err, out2, err2)
			}
			if err != nil {
				if out != nil {
					t.Fatalf("line %q: statements %q with error %v", line, out, err)
				}
				if !sameDialect(before, copyDialect(d)) {
					t.Fatalf("line %q was refused (%v) but changed the Dialect", line, err)
				}
				d.Reset()
				again.Reset()
				continue
			}
			for _, s := range out {
				if len(s) > MaxStatement+16 || s == "" {
					t.Fatalf("line %q: statement of %d bytes", line, len(s))
				}
			}
		}
	})
}

// copyDialect copies a Dialect deeply, for sameDialect.
func copyDialect(d *Dialect) Dialect {
	c := *d
	c.my.buf = bytes.Clone(d.my.buf)
	c.pg.buf = bytes.Clone(d.pg.buf)
	return c
}

// sameDialect reports whether two Dialects are in the same state (the
// delimiter to restore on Reset aside).
func sameDialect(a, b Dialect) bool {
	if !bytes.Equal(a.my.buf, b.my.buf) || !bytes.Equal(a.pg.buf, b.pg.buf) {
		return false
	}
	a.my.buf, b.my.buf, a.pg.buf, b.pg.buf = nil, nil, nil, nil
	a.myBefore, b.myBefore = "", ""
	return reflect.DeepEqual(a, b)
}

// TestDialectLongPaste checks that a statement of many lines costs time in
// proportion to its length: each line is not checked against the whole
// buffer again.
func TestDialectLongPaste(t *testing.T) {
	line := strings.Repeat("x", 90) + ","
	for _, protocol := range []string{"mariadb", "postgresql"} {
		t.Run(protocol, func(t *testing.T) {
			d := NewDialect(protocol)
			start := time.Now()
			mustLine(t, d, "select")
			for i := 0; i < 10000; i++ {
				if out := mustLine(t, d, line); out != nil {
					t.Fatalf("got %q", out)
				}
			}
			out := mustLine(t, d, "1;")
			if len(out) != 1 || len(out[0]) < 10000*len(line) {
				t.Fatalf("got %d statements", len(out))
			}
			if took := time.Since(start); took > 5*time.Second {
				t.Errorf("a 1 MB statement took %v", took)
			}
		})
	}
}
