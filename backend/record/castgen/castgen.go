// Package castgen writes realistic synthetic terminal recordings for tests and
// benchmarks: a bash session with typed commands, prompts, coloured ls output, git
// logs, log floods, a progress bar, cat of text with long lines that wrap, UTF-8 and
// wide CJK characters, vim-like alternate-screen episodes (scroll regions, reverse
// video, hidden cursor, 256 and true colours), resizes (one in the middle of vim), a
// denied command, markers for each command and idle gaps. It drives the real
// record.CastWriter with an injected clock, so the file is exactly what a session of
// that shape would have left. The output volume follows the target size: whenever
// the file is behind its share of the size for the time elapsed, a command floods
// it with logs. The same options give the same recording.
package castgen

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/portcullis/portcullis/backend/record"
)

// Options shape a recording.
type Options struct {
	Duration time.Duration // of the session (the recording ends at the first command past it)
	Size     int64         // stored (compressed) bytes, about
	Seed     uint64        // the same seed gives the same recording; 0 means 1
	Start    time.Time     // the session's start; zero means 2026-11-27 10:00 UTC
	Fsync    bool          // fsync as the server does (slower); off by default
}

// Stats describes what was written.
type Stats struct {
	Output   int64 // terminal output bytes
	Commands int   // command markers
}

// Write writes a recording to path (.cast or .cast.gz, as record.CreateCast reads the
// name).
func Write(path string, o Options) (Stats, error) {
	if o.Duration <= 0 || o.Size <= 0 {
		return Stats{}, errors.New("castgen: duration and size must be positive")
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)
	}
	c := &clock{t: o.Start}
	w, err := record.CreateCast(path, record.Header{
		Width: 100, Height: 30, Title: "alice@web-01",
		Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"},
	}, record.CastOptions{Clock: c.Now, NoFsync: !o.Fsync})
	if err != nil {
		return Stats{}, fmt.Errorf("castgen: %w", err)
	}
	g := &castGen{w: w, clock: c, rng: rand.New(rand.NewPCG(o.Seed, 0x5eed)), cols: 100, rows: 30,
		duration: o.Duration, size: o.Size}
	g.run()
	if err := w.Close(); err != nil {
		return Stats{}, fmt.Errorf("castgen: %w", err)
	}
	return Stats{Output: g.written, Commands: g.n}, nil
}

// compression is ten times the ratio of output to stored bytes of this text.
const compression = 42

// clock is the writer's clock: it moves only when the generator waits.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// castGen plays a user at a shell.
type castGen struct {
	w          *record.CastWriter
	clock      *clock
	rng        *rand.Rand
	cols, rows int
	duration   time.Duration
	size       int64
	elapsed    time.Duration
	out        []byte // output being assembled
	written    int64  // bytes of output
	n          int    // commands run
}

func (g *castGen) wait(d time.Duration) {
	g.clock.Advance(d)
	g.elapsed += d
}

// emit writes the assembled output the way a pty delivers it: in reads of up to
// chunk bytes, a little apart (within the writer's coalescing window, so a burst
// becomes events of up to 64 KiB).
func (g *castGen) emit(chunk int, gap time.Duration) {
	for len(g.out) > 0 {
		n := min(len(g.out), chunk)
		// Never split a UTF-8 character between reads: the writer would carry it, but
		// a pty read can split anything; keep it simple and realistic enough.
		for n < len(g.out) && n > 0 && g.out[n]&0xC0 == 0x80 {
			n--
		}
		g.w.Output(g.out[:n])
		g.written += int64(n)
		g.out = g.out[n:]
		g.wait(gap)
	}
	g.out = g.out[:0]
}

func (g *castGen) printf(format string, args ...any) { g.out = fmt.Appendf(g.out, format, args...) }

func (g *castGen) ms(lo, hi int) time.Duration {
	return time.Duration(lo+g.rng.IntN(hi-lo+1)) * time.Millisecond
}

func (g *castGen) prompt() {
	g.printf("\x1b]0;alice@web-01: ~/app\x07\x1b[01;32malice@web-01\x1b[00m:\x1b[01;34m~/app\x1b[00m$ ")
	g.emit(4096, time.Millisecond)
}

// typeCommand echoes a command key by key, then Enter, and logs it as a marker.
func (g *castGen) typeCommand(cmd string) {
	for _, r := range cmd {
		g.wait(g.ms(40, 220))
		g.out = append(g.out, string(r)...)
		g.emit(4096, 0)
	}
	g.wait(g.ms(100, 600))
	g.printf("\r\n")
	g.emit(4096, time.Millisecond)
	g.w.Marker(cmd)
	g.n++
}

var (
	genWords = strings.Fields(`the of and to in is that for it as was with be by on not this are or from at which but
		have an they you were her there been one all we their has would when if so no out up into do time only could
		server request session deploy config build release café naïve überprüfen données résumé Größe façade
		日本語 中文字符 한국어 テスト 数据库 服务器`)
	genFiles = strings.Fields(`main.go go.mod README.md Makefile docs build vendor cmd internal scripts notes.txt
		backup.tar.gz .bashrc config.yaml data.db access.log 报告.txt データ.csv résumé.pdf`)
	genCommands = []string{"ls -la --color=auto", "git log --oneline -n 25", "tail -n 400 /var/log/app/server.log",
		"cat notes.md", "curl -O https://example.com/release.tar.gz", "vim config.yaml", "make test",
		"journalctl -u app --no-pager -n 2000", "sudo rm -rf /", "df -h", "echo 你好，世界 ✓"}
)

func (g *castGen) word() string { return genWords[g.rng.IntN(len(genWords))] }

func (g *castGen) run() {
	g.wait(g.ms(200, 800))
	for g.elapsed < g.duration {
		g.prompt()
		g.wait(g.ms(300, 4000))
		// Behind the size target: flood, then go on with a command.
		// The stored size is estimated from the output (this text compresses about
		// 4.2:1 in the writer's gzip), not read from the writer, whose progress
		// depends on the scheduler: the same seed gives the same recording.
		target := int64(float64(g.size) * float64(g.elapsed) / float64(g.duration))
		if behind := target - g.written*10/compression; behind > 32<<10 {
			g.typeCommand("tail -f /var/log/app/server.log")
			g.logFlood(min(behind*compression/10, 24<<20))
			g.printf("^C\r\n")
			g.emit(4096, time.Millisecond)
			g.prompt()
			g.wait(g.ms(300, 2000))
		}
		switch cmd := genCommands[g.rng.IntN(len(genCommands))]; cmd {
		case "ls -la --color=auto":
			g.typeCommand(cmd)
			g.ls(8 + g.rng.IntN(40))
		case "git log --oneline -n 25":
			g.typeCommand(cmd)
			for range 25 {
				g.printf("\x1b[33m%07x\x1b[m %s: %s %s %s\r\n", g.rng.Uint32()>>4, g.word(), g.word(), g.word(), g.word())
			}
			g.emit(4096, time.Millisecond)
		case "tail -n 400 /var/log/app/server.log":
			g.typeCommand(cmd)
			g.logLines(400)
			g.emit(4096, time.Millisecond)
		case "journalctl -u app --no-pager -n 2000":
			g.typeCommand(cmd)
			g.logLines(2000)
			g.emit(32<<10, 2*time.Millisecond)
		case "cat notes.md":
			g.typeCommand(cmd)
			g.prose(6 + g.rng.IntN(20))
		case "curl -O https://example.com/release.tar.gz":
			g.typeCommand(cmd)
			g.progress()
		case "vim config.yaml":
			g.typeCommand(cmd)
			g.vim()
		case "sudo rm -rf /":
			g.wait(g.ms(200, 900))
			for _, r := range cmd {
				g.out = append(g.out, string(r)...)
				g.emit(64, g.ms(40, 200))
			}
			g.printf("\r\n\x1b[1;31mportcullis: command denied by policy\x1b[0m\r\n")
			g.emit(4096, time.Millisecond)
			g.w.Marker("[denied] " + strings.TrimPrefix(cmd, "sudo "))
		case "make test":
			g.typeCommand(cmd)
			for range 30 + g.rng.IntN(60) {
				if g.rng.IntN(10) == 0 {
					g.printf("--- \x1b[31mFAIL\x1b[0m: Test%s%s (%d.%02ds)\r\n", strings.ToUpper(g.word()[:1]), g.word(), g.rng.IntN(3), g.rng.IntN(100))
				} else {
					g.printf("ok  \tgithub.com/acme/app/%s\t%d.%03ds\r\n", g.word(), g.rng.IntN(5), g.rng.IntN(1000))
				}
				g.emit(4096, g.ms(5, 400))
			}
		default:
			g.typeCommand(cmd)
			g.printf("Filesystem      Size  Used Avail Use%% Mounted on\r\n/dev/nvme0n1p2  468G  %3dG  %3dG  %2d%% /\r\n", g.rng.IntN(400), g.rng.IntN(200), g.rng.IntN(100))
			g.printf("%s\r\n", strings.TrimPrefix(cmd, "echo "))
			g.emit(4096, time.Millisecond)
		}
		switch r := g.rng.IntN(20); {
		case r < 2: // the window changes size
			g.cols, g.rows = 80+g.rng.IntN(80), 24+g.rng.IntN(30)
			g.w.Resize(g.cols, g.rows)
		case r < 5: // a long pause
			g.wait(time.Duration(20+g.rng.IntN(280)) * time.Second)
		default:
			g.wait(g.ms(500, 9000))
		}
	}
	// The user logs out: the last event is at the session's end, not before its
	// last pause.
	g.prompt()
	g.typeCommand("exit")
	g.printf("logout\r\n")
	g.emit(4096, time.Millisecond)
}

func (g *castGen) ls(n int) {
	g.printf("total %d\r\n", g.rng.IntN(5000))
	for range n {
		name := genFiles[g.rng.IntN(len(genFiles))]
		switch g.rng.IntN(4) {
		case 0:
			g.printf("drwxr-xr-x  %2d alice alice %7d Nov %2d %02d:%02d \x1b[01;34m%s\x1b[0m\r\n",
				g.rng.IntN(20), g.rng.IntN(100000), 1+g.rng.IntN(30), g.rng.IntN(24), g.rng.IntN(60), name)
		case 1:
			g.printf("-rwxr-xr-x   1 alice alice %7d Nov %2d %02d:%02d \x1b[01;32m%s\x1b[0m\r\n",
				g.rng.IntN(100000), 1+g.rng.IntN(30), g.rng.IntN(24), g.rng.IntN(60), name)
		default:
			g.printf("-rw-r--r--   1 alice alice %7d Nov %2d %02d:%02d %s\r\n",
				g.rng.IntN(100000), 1+g.rng.IntN(30), g.rng.IntN(24), g.rng.IntN(60), name)
		}
	}
	g.emit(4096, time.Millisecond)
}

// logLines appends n log lines, coloured by level, some longer than the terminal.
func (g *castGen) logLines(n int) {
	for range n {
		g.out = append(g.out, "2026-11-27T10:"...)
		g.out = appendPad(g.out, g.rng.IntN(60))
		g.out = append(g.out, ':')
		g.out = appendPad(g.out, g.rng.IntN(60))
		g.out = append(g.out, '.')
		g.out = strconv.AppendInt(g.out, int64(100+g.rng.IntN(900)), 10)
		switch g.rng.IntN(12) {
		case 0:
			g.out = append(g.out, "Z \x1b[31mERROR\x1b[0m "...)
		case 1, 2:
			g.out = append(g.out, "Z \x1b[33mWARN\x1b[0m  "...)
		default:
			g.out = append(g.out, "Z \x1b[32mINFO\x1b[0m  "...)
		}
		g.out = append(g.out, "request id="...)
		g.out = strconv.AppendUint(g.out, uint64(g.rng.Uint32()), 16)
		g.out = append(g.out, " path=/api/v1/"...)
		g.out = append(g.out, g.word()...)
		g.out = append(g.out, " status="...)
		g.out = strconv.AppendInt(g.out, int64(200+g.rng.IntN(4)*100), 10)
		g.out = append(g.out, " dur="...)
		g.out = strconv.AppendInt(g.out, int64(g.rng.IntN(900)), 10)
		g.out = append(g.out, "ms"...)
		for range g.rng.IntN(4) * g.rng.IntN(8) {
			g.out = append(g.out, ' ')
			g.out = append(g.out, g.word()...)
		}
		g.out = append(g.out, "\r\n"...)
	}
}

func appendPad(b []byte, n int) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, int64(n), 10)
}

// logFlood writes about n bytes of logs as fast as a pty delivers them.
func (g *castGen) logFlood(n int64) {
	for n > 0 {
		g.logLines(300)
		n -= int64(len(g.out))
		g.emit(32<<10, 2*time.Millisecond)
	}
}

// prose writes paragraphs longer than the terminal is wide: they wrap.
func (g *castGen) prose(paras int) {
	for range paras {
		k := 20 + g.rng.IntN(60)
		for i := range k {
			if i > 0 {
				g.out = append(g.out, ' ')
			}
			if g.rng.IntN(15) == 0 {
				g.out = append(g.out, "\x1b[1m"...)
				g.out = append(g.out, g.word()...)
				g.out = append(g.out, "\x1b[0m"...)
			} else {
				g.out = append(g.out, g.word()...)
			}
		}
		g.out = append(g.out, "\r\n\r\n"...)
	}
	g.emit(4096, time.Millisecond)
}

// progress draws a progress bar that rewrites its line with CR.
func (g *castGen) progress() {
	width := 30
	for p := 0; p <= 100; p += 1 + g.rng.IntN(7) {
		done := p * width / 100
		g.printf("\r%3d%% [%s>%s] %5.1f MB/s", p, strings.Repeat("=", done), strings.Repeat(" ", width-done), 5+g.rng.Float64()*20)
		g.emit(4096, g.ms(50, 300))
	}
	g.printf("\r\n")
	g.emit(4096, time.Millisecond)
}

// vim plays a full-screen editor: alternate screen, drawing by cursor addressing,
// scrolling within a region, a status line in reverse video, typing with the cursor
// hidden during redraws, maybe a resize, then back to the shell.
func (g *castGen) vim() {
	g.printf("\x1b[?1049h\x1b[22;0;0t\x1b[>4;2m\x1b[?1h\x1b=\x1b[?2004h\x1b[H\x1b[2J")
	lines := 60 + g.rng.IntN(200)
	top := 0
	draw := func() {
		g.printf("\x1b[?25l\x1b[H")
		for y := 0; y < g.rows-1; y++ {
			g.printf("\x1b[%d;1H\x1b[K", y+1)
			g.vimLine(top+y, lines)
		}
		g.status(top)
		g.printf("\x1b[1;5H\x1b[?25h")
	}
	draw()
	g.emit(4096, time.Millisecond)
	for range 5 + g.rng.IntN(25) {
		g.wait(g.ms(80, 1500))
		switch g.rng.IntN(6) {
		case 0: // scroll down a line within the region above the status line
			top++
			g.printf("\x1b[?25l\x1b[1;%dr\x1b[%d;1H\n\x1b[r\x1b[%d;1H\x1b[K", g.rows-1, g.rows-1, g.rows-1)
			g.vimLine(top+g.rows-2, lines)
			g.status(top)
			g.printf("\x1b[%d;1H\x1b[?25h", g.rows-1)
		case 1: // type a word in insert mode
			g.printf("\x1b[%d;%dH\x1b[1m-- INSERT --\x1b[0m\x1b[%d;%dH", g.rows, 1, 1+g.rng.IntN(g.rows-1), 1+g.rng.IntN(20))
			for _, r := range g.word() {
				g.printf("\x1b[?25l%c\x1b[?25h", r)
			}
		case 2: // the terminal grows: vim redraws everything
			// (Only grows: x/vt, the tests' reference, does not keep the main screen's
			// cursor within a smaller screen, as terminals do, and would show the shell
			// prompt off the screen after vim.)
			if g.rng.IntN(3) == 0 {
				g.emit(4096, time.Millisecond)
				g.cols, g.rows = g.cols+g.rng.IntN(30), g.rows+g.rng.IntN(10)
				g.w.Resize(g.cols, g.rows)
				draw()
			}
		case 3: // a message in the command line, underlined and italic
			g.printf("\x1b[%d;1H\x1b[K\x1b[3;4m\"config.yaml\" %dL, %dB\x1b[0m\x1b[5;5H", g.rows, lines, lines*27)
		default: // move the cursor
			g.printf("\x1b[%d;%dH", 1+g.rng.IntN(g.rows-1), 1+g.rng.IntN(g.cols))
		}
		g.emit(4096, time.Millisecond)
	}
	g.printf("\x1b[%d;1H\x1b[K:wq\r\x1b[?25l\"config.yaml\" %dL, %dB written\x1b[?2004l\x1b[?1l\x1b>\x1b[?25h\x1b[>4;m\x1b[?1049l\x1b[23;0;0t",
		g.rows, lines, lines*27)
	g.emit(4096, time.Millisecond)
}

// vimLine draws line i of the file (or a tilde past its end), syntax-coloured.
func (g *castGen) vimLine(i, lines int) {
	if i >= lines {
		g.printf("\x1b[94m~\x1b[0m")
		return
	}
	switch i % 5 {
	case 0:
		g.printf("\x1b[38;5;130m%s\x1b[0m:", g.word())
	case 1:
		g.printf("  \x1b[38;5;130m%s\x1b[0m: \x1b[38;2;0;135;0m\"%s %s\"\x1b[0m", g.word(), g.word(), g.word())
	case 2:
		g.printf("  \x1b[38;5;130mport\x1b[0m: \x1b[31m%d\x1b[0m", 1024+g.rng.IntN(60000))
	case 3:
		g.printf("  \x1b[34m# %s %s %s\x1b[0m", g.word(), g.word(), g.word())
	default:
		g.printf("  - \x1b[4m%s\x1b[24m", g.word())
	}
}

func (g *castGen) status(top int) {
	g.printf("\x1b[%d;1H\x1b[7m config.yaml [+]%s%d,1  %d%% \x1b[27m", g.rows, strings.Repeat(" ", max(g.cols-34, 1)), top+1, top%100)
}
