package sftpproxy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSCPRecord(t *testing.T) {
	tests := []struct {
		line    string
		want    scpRecord
		wantErr string
	}{
		{line: "C0644 5 hello.txt", want: scpRecord{Kind: 'C', Mode: 0o644, Size: 5, Name: "hello.txt"}},
		{line: "C4755 0 with space and ünïcode", want: scpRecord{Kind: 'C', Mode: 0o4755, Name: "with space and ünïcode"}},
		{line: "C0644 9223372036854775807 huge", want: scpRecord{Kind: 'C', Mode: 0o644, Size: 1<<63 - 1, Name: "huge"}},
		{line: "D0755 0 dir", want: scpRecord{Kind: 'D', Mode: 0o755, Name: "dir"}},
		{line: "E", want: scpRecord{Kind: 'E'}},
		{line: "T1582979696 0 1582979697 999999", want: scpRecord{Kind: 'T', Mtime: 1582979696, Atime: 1582979697}},
		{line: "\x01scp: x: No such file", want: scpRecord{Kind: 1, Msg: "scp: x: No such file"}},
		{line: "\x02fatal", want: scpRecord{Kind: 2, Msg: "fatal"}},
		{line: "", wantErr: "empty record"},
		{line: "C0644 5 ..", wantErr: "unexpected filename"},
		{line: "C0644 5 .", wantErr: "unexpected filename"},
		{line: "C0644 5 a/b", wantErr: "unexpected filename"},
		{line: "C0644 5 /abs", wantErr: "unexpected filename"},
		{line: "C0644 5 ", wantErr: "unexpected filename"},
		{line: "C0644 5 nul\x00byte", wantErr: "unexpected filename"},
		{line: "C0644 5", wantErr: "not delimited"},
		{line: "C0644 -5 x", wantErr: "not present"},
		{line: "C0644 x x", wantErr: "not present"},
		{line: "C0644 99999999999999999999 x", wantErr: "out of range"},
		{line: "C644 5 x", wantErr: "mode not delimited"},
		{line: "C06440 5 x", wantErr: "mode not delimited"},
		{line: "C0648 5 x", wantErr: "bad mode"},
		{line: "C", wantErr: "mode not delimited"},
		{line: "Ejunk", wantErr: "junk after E"},
		{line: "T1 0 2", wantErr: "not delimited"},
		{line: "T1 0 2 0 ", wantErr: "junk after number"},
		{line: "T1 1000000 2 0", wantErr: "microseconds"},
		{line: "T-1 0 2 0", wantErr: "not present"},
		{line: "Xwhat", wantErr: "expected control record"},
		{line: "C0644 5 a\nb", wantErr: "newline"},
		{line: "C0644 1 " + strings.Repeat("n", maxRecordLine), wantErr: "too long"},
	}
	for _, tt := range tests {
		t.Run(clip(tt.line, 30), func(t *testing.T) {
			got, err := parseSCPRecord(tt.line)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrProtocol) {
					t.Fatalf("got %+v, %v, want an ErrProtocol error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, tt.want)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestSCPRecordFormat(t *testing.T) {
	tests := []struct {
		rec  scpRecord
		want string
	}{
		{scpRecord{Kind: 'C', Mode: 0o100644, Size: 12, Name: "f"}, "C0644 12 f\n"},
		{scpRecord{Kind: 'D', Mode: 0o2755, Name: "d"}, "D2755 0 d\n"},
		{scpRecord{Kind: 'T', Mtime: 10, Atime: 20}, "T10 0 20 0\n"},
		{scpRecord{Kind: 'E'}, "E\n"},
		{scpRecord{Kind: 1, Msg: "a\nb: Permission denied"}, "\x01scp: a?b: Permission denied\n"},
	}
	for _, tt := range tests {
		if got := tt.rec.format(); got != tt.want {
			t.Errorf("format(%+v): got %q, want %q", tt.rec, got, tt.want)
		}
	}
}

func TestParseSCPCommand(t *testing.T) {
	tests := []struct {
		command string
		want    scpCommand
		wantErr string
	}{
		{command: "scp -t /tmp/x", want: scpCommand{Sink: true, Paths: []shellWord{{Text: "/tmp/x"}}}},
		{command: "scp -v -r -p -d -t -- /tmp/x", want: scpCommand{Sink: true, Recursive: true, Preserve: true, TargetDir: true, Paths: []shellWord{{Text: "/tmp/x"}}}},
		{command: "/usr/bin/scp -prf a b", want: scpCommand{Source: true, Recursive: true, Preserve: true, Paths: []shellWord{{Text: "a"}, {Text: "b"}}}},
		{command: "scp -f -- -dash", want: scpCommand{Source: true, Paths: []shellWord{{Text: "-dash"}}}},
		{command: `scp -f 'my file' "other \"q\"" back\ slash`, want: scpCommand{Source: true, Paths: []shellWord{{Text: "my file"}, {Text: `other "q"`}, {Text: "back slash"}}}},
		{command: "scp -f ~ ~/x", want: scpCommand{Source: true, Paths: []shellWord{{Text: "~", Tilde: true}, {Text: "~/x", Tilde: true}}}},
		{command: "scp -f '~/x'", want: scpCommand{Source: true, Paths: []shellWord{{Text: "~/x"}}}},
		{command: "scp -f /d/*.txt", want: scpCommand{Source: true, Paths: []shellWord{{Text: "/d/*.txt", Glob: "/d/*.txt"}}}},
		{command: `scp -f /d/'*'?.txt`, want: scpCommand{Source: true, Paths: []shellWord{{Text: "/d/*?.txt", Glob: `/d/\*?.txt`}}}},
		{command: "scp -f a#b", want: scpCommand{Source: true, Paths: []shellWord{{Text: "a#b"}}}},
		{command: "scp  -t\t x ", want: scpCommand{Sink: true, Paths: []shellWord{{Text: "x"}}}},
		{command: "scp -f ''", want: scpCommand{Source: true, Paths: []shellWord{{Text: ""}}}},
		{command: "scp -t", wantErr: "no path"},
		{command: "scp -r x", wantErr: "exactly one of -t and -f"},
		{command: "scp -tf x", wantErr: "exactly one of -t and -f"},
		{command: "scp -t -Z x", wantErr: "unknown flag -Z"},
		{command: "ls -t x", wantErr: "not an scp command"},
		{command: "", wantErr: "not an scp command"},
		{command: "scp -f x; rm -rf /", wantErr: "shell syntax"},
		{command: "scp -f x && id", wantErr: "shell syntax"},
		{command: "scp -f x | nc", wantErr: "shell syntax"},
		{command: "scp -t x > y", wantErr: "shell syntax"},
		{command: "scp -f $(id)", wantErr: "shell syntax"},
		{command: "scp -f `id`", wantErr: "shell syntax"},
		{command: "scp -f \"$HOME\"", wantErr: "expansion in double quotes"},
		{command: "scp -f x\nid", wantErr: "shell syntax"},
		{command: "scp -f ~root/x", wantErr: "~user"},
		{command: "scp -f 'open", wantErr: "unterminated single quote"},
		{command: "scp -f \"open", wantErr: "unterminated double quote"},
		{command: "scp -f x\\", wantErr: "trailing backslash"},
		{command: "scp -f #comment", wantErr: "shell comment"},
	}
	for _, tt := range tests {
		t.Run(clip(tt.command, 30), func(t *testing.T) {
			got, err := parseSCPCommand(tt.command)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrBadCommand) {
					t.Fatalf("got %+v, %v, want an ErrBadCommand error with %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want %+v", err, tt.want)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestIsSCPCommand(t *testing.T) {
	tests := []struct {
		command         string
		wantSCP, wantSF bool
	}{
		{"scp -t /x", true, false},
		{"scp -f x", true, false},
		{"/usr/bin/scp -f x", true, false},
		{"  scp -h", true, false},
		{"'scp' -t x", true, false},
		{`s\cp -t x`, true, false},
		{"scp;id", true, false},
		{"scpx -t x", false, false},
		{"ls", false, false},
		{"", false, false},
		{"/usr/lib/openssh/sftp-server", false, true},
		{"/usr/lib/openssh/sftp-server -l INFO", false, true},
		{"internal-sftp", false, true},
		{"sftp", false, false},
	}
	for _, tt := range tests {
		if got := IsSCPCommand(tt.command); got != tt.wantSCP {
			t.Errorf("IsSCPCommand(%q): got %v, want %v", tt.command, got, tt.wantSCP)
		}
		if got := IsSFTPServerCommand(tt.command); got != tt.wantSF {
			t.Errorf("IsSFTPServerCommand(%q): got %v, want %v", tt.command, got, tt.wantSF)
		}
	}
}

func TestWithin(t *testing.T) {
	tests := []struct {
		root, name string
		want       bool
	}{
		{"/jail", "/jail", true},
		{"/jail", "/jail/a/b", true},
		{"/jail", "/jailbreak", false},
		{"/jail", "/", false},
		{"/jail", "/etc/passwd", false},
		{"/", "/anything", true},
		{"/a/b", "/a", false},
	}
	for _, tt := range tests {
		if got := within(tt.root, tt.name); got != tt.want {
			t.Errorf("within(%q, %q): got %v, want %v", tt.root, tt.name, got, tt.want)
		}
	}
}

func TestStreamSum(t *testing.T) {
	data := randomBytes(100, 9)
	type chunk struct{ off, end int }
	tests := []struct {
		name       string
		chunks     []chunk
		wantSize   int64
		wantDigest bool
	}{
		{"in order", []chunk{{0, 30}, {30, 60}, {60, 100}}, 100, true},
		{"reordered", []chunk{{60, 100}, {0, 30}, {30, 60}}, 100, true},
		{"reversed", []chunk{{90, 100}, {60, 90}, {30, 60}, {0, 30}}, 100, true},
		{"nothing", nil, 0, true},
		{"gap", []chunk{{0, 30}, {60, 100}}, 70, false},
		{"not from zero", []chunk{{30, 100}}, 70, false},
		{"repeated", []chunk{{0, 50}, {0, 50}, {50, 100}}, 150, false},
		{"overlap", []chunk{{0, 50}, {40, 100}}, 110, false},
		{"pending overlap", []chunk{{50, 100}, {40, 60}, {0, 40}}, 110, false},
		{"same offset twice ahead", []chunk{{50, 100}, {50, 100}, {0, 50}}, 150, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s streamSum
			for _, c := range tt.chunks {
				s.add(int64(c.off), data[c.off:c.end])
			}
			size, digest, reason := s.sum()
			if size != tt.wantSize {
				t.Errorf("size: got %d, want %d", size, tt.wantSize)
			}
			if tt.wantDigest {
				want := sum(data[:size])
				if digest != want || reason != "" {
					t.Errorf("digest: got %q (%s), want %q", digest, reason, want)
				}
			} else if digest != "" || reason == "" {
				t.Errorf("digest: got %q (reason %q), want none with a reason", digest, reason)
			}
		})
	}
}

func TestStreamSumPendingBound(t *testing.T) {
	var s streamSum
	chunk := make([]byte, 1<<20)
	for i := 1; i <= maxPending>>20+1; i++ {
		s.add(int64(i)<<20, chunk)
	}
	if s.broken == "" {
		t.Fatalf("got pending %d bytes, want the digest given up past %d", s.pendingBytes, maxPending)
	}
	if s.pendingBytes != 0 || s.pending != nil {
		t.Errorf("got %d bytes still held, want none", s.pendingBytes)
	}
}

func TestOpenPermissions(t *testing.T) {
	tests := []struct {
		attrs    []byte
		want     uint32
		wantHave bool
	}{
		{[]byte{0, 0, 0x81, 0xed}, 0o755, true},
		{[]byte{0, 0, 0x01, 0xa4, 0, 0, 0, 1, 0, 0, 0, 2}, 0o644, true},
		{nil, 0, false},
		{[]byte{1, 2, 3, 4, 5, 6, 7, 8}, 0, false},
	}
	for _, tt := range tests {
		got, have := openPermissions(tt.attrs)
		if got != tt.want || have != tt.wantHave {
			t.Errorf("openPermissions(%x): got %o %v, want %o %v", tt.attrs, got, have, tt.want, tt.wantHave)
		}
	}
}

func TestOptionsCheck(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		ok   bool
	}{
		{"no sink", Options{}, false},
		{"relative root", Options{Sink: &memSink{}, Root: "jail"}, false},
		{"negative size", Options{Sink: &memSink{}, MaxFileSize: -1}, false},
		{"minimal", Options{Sink: &memSink{}}, true},
		{"root cleaned", Options{Sink: &memSink{}, Root: "/a/../jail/"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.o.checkAndSetDefaults()
			if (err == nil) != tt.ok {
				t.Fatalf("got %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrOptions) {
				t.Errorf("got %v, want it to wrap ErrOptions", err)
			}
			if err == nil && (tt.o.Log == nil || tt.o.Clock == nil) {
				t.Errorf("defaults not set: %+v", tt.o)
			}
		})
	}
	o := Options{Sink: &memSink{}, Root: "/a/../jail/"}
	_ = o.checkAndSetDefaults()
	if o.Root != "/jail" {
		t.Errorf("Root: got %q, want /jail", o.Root)
	}
}

func FuzzParseSCPRecord(f *testing.F) {
	for _, s := range []string{"C0644 5 hello.txt", "D0755 0 dir", "E", "T1 0 2 0", "\x01oops",
		"C0644 5 ..", "C0644 -1 x", "C7777 18446744073709551615 x", "T9223372036854775807 999999 0 0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		r, err := parseSCPRecord(line)
		if err != nil {
			if !errors.Is(err, ErrProtocol) {
				t.Fatalf("error %v does not wrap ErrProtocol", err)
			}
			return
		}
		switch r.Kind {
		case 'C', 'D':
			if r.Name == "" || r.Name == "." || r.Name == ".." || strings.ContainsAny(r.Name, "/\x00\n") {
				t.Fatalf("accepted name %q", r.Name)
			}
			if r.Mode > 0o7777 || r.Size < 0 {
				t.Fatalf("accepted mode %o size %d", r.Mode, r.Size)
			}
		case 'T':
			if r.Mtime < 0 || r.Atime < 0 {
				t.Fatalf("accepted negative times %+v", r)
			}
		case 'E', 1, 2:
		default:
			t.Fatalf("accepted kind %q", r.Kind)
		}
		if r.Kind == 1 || r.Kind == 2 {
			return
		}
		// What we send, we parse back the same.
		again, err := parseSCPRecord(strings.TrimSuffix(r.format(), "\n"))
		if err != nil || again != r {
			t.Fatalf("round trip of %+v: got %+v, %v", r, again, err)
		}
	})
}

func FuzzParseSCPCommand(f *testing.F) {
	for _, s := range []string{"scp -t /x", "scp -r -p -d -t -- /tmp/x", "scp -f 'a b' \"c\" d\\ e",
		"scp -f ~/x *.txt", "scp -f x;id", "scp -prf a", "/usr/bin/scp -f '*'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, command string) {
		c, err := parseSCPCommand(command)
		if err != nil {
			if !errors.Is(err, ErrBadCommand) {
				t.Fatalf("error %v does not wrap ErrBadCommand", err)
			}
			return
		}
		// Whatever we would serve as scp, the gateway must route to us.
		if !IsSCPCommand(command) {
			t.Fatalf("parsed %q as scp but IsSCPCommand is false", command)
		}
		if c.Sink == c.Source || len(c.Paths) == 0 {
			t.Fatalf("accepted %+v", c)
		}
		for _, w := range c.Paths {
			if w.Tilde && !strings.HasPrefix(w.Text, "~") {
				t.Fatalf("tilde word %q does not start with ~", w.Text)
			}
		}
	})
}
