package telnet

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// device is a scripted telnet device on a loopback port: it ignores option
// negotiation (an NVT that refuses nothing and asks nothing) and plays its
// script against one client.
type device struct {
	ln    net.Listener
	lines chan string // lines the client typed
}

// deviceIO is what a script talks through.
type deviceIO struct {
	c     net.Conn
	r     *bufio.Reader
	lines chan string
}

func (d *deviceIO) say(s string) { d.c.Write([]byte(s)) }

// line reads one line typed by the client (ended by CR NUL, CR LF or CR),
// skipping telnet commands.
func (d *deviceIO) line() (string, bool) {
	var b []byte
	for {
		c, err := d.r.ReadByte()
		if err != nil {
			return "", false
		}
		switch c {
		case cmdIAC:
			cmd, _ := d.r.ReadByte()
			if cmd == cmdIAC {
				b = append(b, cmdIAC)
			} else if cmd >= cmdWILL {
				d.r.ReadByte()
			}
		case '\r':
			if nx, err := d.r.Peek(1); err == nil && (nx[0] == 0 || nx[0] == '\n') {
				d.r.ReadByte()
			}
			d.lines <- string(b)
			return string(b), true
		default:
			b = append(b, c)
		}
	}
}

func startDevice(t *testing.T, script func(d *deviceIO)) *device {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dev := &device{ln: ln, lines: make(chan string, 16)}
	t.Cleanup(func() { ln.Close() })
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		script(&deviceIO{c: c, r: bufio.NewReader(c), lines: dev.lines})
		// Hang up cleanly (FIN, not RST): drain what the client still sends.
		c.(*net.TCPConn).CloseWrite()
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		io.Copy(io.Discard, c)
	}()
	return dev
}

func (d *device) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", d.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// cisco is an IOS-like login: username, password, prompt.
func cisco(password, prompt string) func(d *deviceIO) {
	return func(d *deviceIO) {
		d.say("\r\n\r\nUser Access Verification\r\n\r\nUsername: ")
		u, ok := d.line()
		if !ok {
			return
		}
		d.say(u + "\r\nPassword: ")
		p, ok := d.line()
		if !ok {
			return
		}
		d.say("\r\n")
		if u != "admin" || p != password {
			d.say("% Login invalid\r\n\r\nUsername: ")
			d.line()
			return
		}
		d.say(prompt)
		d.line()
	}
}

func TestLogin(t *testing.T) {
	tests := []struct {
		name       string
		script     func(d *deviceIO)
		opts       Options
		wantErr    error
		wantMsg    string // error text prefix
		wantBanner []string
		noBanner   []string
		maxTime    time.Duration
	}{
		{
			name: "cisco style", script: cisco("pw-1", "Router#"),
			opts:       Options{Username: "admin", Password: "pw-1"},
			wantBanner: []string{"User Access Verification", "Username: admin", "Router#"}, noBanner: []string{"pw-1"},
		},
		{
			name: "cisco wrong password", script: cisco("pw-1", "Router#"),
			opts:    Options{Username: "admin", Password: "nope"},
			wantErr: ErrLoginFailed, wantMsg: `telnet: login failed: the device said "Login invalid"`,
		},
		{
			name: "password only (line password)",
			script: func(d *deviceIO) {
				d.say("\r\nUser Access Verification\r\n\r\nPassword: ")
				if p, _ := d.line(); p == "linepw" {
					d.say("\r\nswitch>")
				} else {
					d.say("\r\n% Bad passwords\r\n")
				}
				d.line()
			},
			opts:       Options{Password: "linepw"},
			wantBanner: []string{"switch>"},
		},
		{
			name: "no password asked",
			script: func(d *deviceIO) {
				d.say("login: ")
				d.line()
				d.say("guest\r\nWelcome, guest\r\n[guest@box ~]$ ")
				d.line()
			},
			opts:       Options{Username: "guest", Password: "unused"},
			wantBanner: []string{"[guest@box ~]$ "},
		},
		{
			name: "prompt without a prompt character: quiet period",
			script: func(d *deviceIO) {
				d.say("Username:")
				d.line()
				d.say("\r\nPassword:")
				d.line()
				d.say("\r\nWelcome to the console\r\nconsole ready ")
				d.line()
			},
			opts:       Options{Username: "u", Password: "Pw-0815", Quiet: 200 * time.Millisecond},
			wantBanner: []string{"console ready "},
		},
		{
			name: "slow refusal is not taken for a prompt",
			script: func(d *deviceIO) {
				d.say("login: ")
				d.line()
				d.say("Password: ")
				d.line()
				d.say("\r\n")
				time.Sleep(700 * time.Millisecond) // PAM's delay on a failure, longer than Quiet
				d.say("Login incorrect\r\nlogin: ")
				d.line()
			},
			opts:    Options{Username: "u", Password: "Pw-0815", Quiet: 200 * time.Millisecond},
			wantErr: ErrLoginFailed, wantMsg: `telnet: login failed: the device said "Login incorrect"`,
		},
		{
			name: "login prompt again means refused",
			script: func(d *deviceIO) {
				d.say("login: ")
				d.line()
				d.say("Password: ")
				d.line()
				d.say("\r\n\r\nlogin: ")
				d.line()
			},
			opts:    Options{Username: "u", Password: "Pw-0815"},
			wantErr: ErrLoginFailed, wantMsg: "telnet: login failed: the device asked for the username again",
		},
		{
			name: "device echoing the password has it masked",
			script: func(d *deviceIO) {
				d.say("login: ")
				u, _ := d.line()
				d.say(u + "\r\nPassword: ")
				p, _ := d.line()
				d.say(p + "\r\nWelcome\r\n$ ")
				d.line()
			},
			opts:       Options{Username: "u", Password: "Echoed-Secret"},
			wantBanner: []string{"Password: ********\r\nWelcome"}, noBanner: []string{"Echoed-Secret"},
		},
		{
			name: "colored prompts",
			script: func(d *deviceIO) {
				d.say("\x1b[1;32mlogin:\x1b[0m ")
				d.line()
				d.say("\x1b[1mPassword:\x1b[0m ")
				d.line()
				d.say("\r\n\x1b[01;32mroot@host\x1b[00m:\x1b[01;34m~\x1b[00m# \x1b]0;title\x07")
				d.line()
			},
			opts:       Options{Username: "root", Password: "Pw-0815"},
			wantBanner: []string{"root@host"},
		},
		{
			name:    "no login prompt: timeout",
			script:  func(d *deviceIO) { d.say("garbage without a prompt"); d.line() },
			opts:    Options{Username: "u", Password: "Pw-0815", Timeout: 300 * time.Millisecond},
			wantErr: ErrLoginTimeout, wantMsg: "telnet: login timed out after",
			maxTime: 2 * time.Second,
		},
		{
			name:    "connection closed before the prompt",
			script:  func(d *deviceIO) { d.say("bye\r\n") },
			opts:    Options{Username: "u", Password: "Pw-0815"},
			wantMsg: "telnet: connection lost during login (login prompt): EOF",
		},
		{
			name: "connection closed after the password",
			script: func(d *deviceIO) {
				d.say("login: ")
				d.line()
				d.say("Password: ")
				d.line()
			},
			opts:    Options{Username: "u", Password: "Pw-0815"},
			wantErr: ErrLoginFailed, wantMsg: "telnet: login failed: the device closed the connection after the password",
		},
		{
			name: "custom prompts",
			script: func(d *deviceIO) {
				d.say("Benutzer> ")
				d.line()
				d.say("Kennwort> ")
				d.line()
				d.say("\r\nfw01 # ")
				d.line()
			},
			opts: Options{Username: "u", Password: "Pw-0815", LoginPrompt: regexp.MustCompile(`Benutzer> $`),
				PasswordPrompt: regexp.MustCompile(`Kennwort> $`)},
			wantBanner: []string{"fw01 # "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := startDevice(t, tt.script)
			start := time.Now()
			c, err := Dial(context.Background(), dev.dial(t), tt.opts)
			if tt.maxTime > 0 && time.Since(start) > tt.maxTime {
				t.Errorf("Dial took %v, want under %v", time.Since(start), tt.maxTime)
			}
			if tt.wantMsg != "" || tt.wantErr != nil {
				if err == nil {
					c.Close()
					t.Fatalf("got no error, want %v", tt.wantMsg)
				}
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Errorf("got %v, want errors.Is %v", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), tt.wantMsg) {
					t.Errorf("got %v, want %v", err, tt.wantMsg)
				}
				if strings.Contains(err.Error(), tt.opts.Password) {
					t.Errorf("the error holds the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			banner := string(c.Banner())
			for _, w := range tt.wantBanner {
				if !strings.Contains(banner, w) {
					t.Errorf("banner lacks %q: %q", w, banner)
				}
			}
			for _, w := range tt.noBanner {
				if strings.Contains(banner, w) {
					t.Errorf("banner holds %q: %q", w, banner)
				}
			}
			// After the login, bytes pass through.
			c.Write([]byte("show version\r"))
			select {
			case l := <-drain(dev.lines, "show version"):
				if l != "show version" {
					t.Errorf("got line %q, want show version", l)
				}
			case <-time.After(5 * time.Second):
				t.Errorf("the device did not get the command")
			}
		})
	}
}

// drain skips the login lines and returns a channel with the first line equal to want.
func drain(lines chan string, want string) <-chan string {
	out := make(chan string, 1)
	go func() {
		for l := range lines {
			if l == want {
				out <- l
				return
			}
		}
	}()
	return out
}

func TestLoginStopsWhenContextEnds(t *testing.T) {
	dev := startDevice(t, func(d *deviceIO) { d.say("please wait..."); d.line() })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Dial(ctx, dev.dial(t), Options{Username: "u", Password: "Pw-0815"})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("got %v, want context.Canceled", err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Errorf("Dial took %v after cancel", el)
	}
}
