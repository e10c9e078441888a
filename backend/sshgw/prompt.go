package sshgw

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/portcullis/portcullis/backend/perm"
)

// errCanceled is returned by a prompt the user left with Ctrl-C or Ctrl-D.
var errCanceled = errors.New("sshgw: canceled by the user")

// maxPromptLen bounds a line typed at a prompt, in bytes.
const maxPromptLen = 1024

// ask writes prompt and reads a line from the user's terminal, echoing what
// is typed unless echo is false (passwords). It needs a pty.
func (sc *sessionChan) ask(prompt string, echo bool) (string, error) {
	if sc.pty == nil {
		return "", userErr(errors.New("sshgw: prompt without a terminal"), mNeedTTY)
	}
	in := sc.input()
	if _, err := sc.ch.Write([]byte(prompt)); err != nil {
		return "", err
	}
	var line []byte
	esc := 0 // 0: normal, 1: after ESC, 2: inside a CSI or SS3 sequence
	for {
		p, ok := in.next(sc.c.ctx.Done())
		if !ok {
			return "", errCanceled
		}
		for i := 0; i < len(p); i++ {
			b := p[i]
			switch {
			case esc == 1:
				esc = 0
				if b == '[' || b == 'O' {
					esc = 2
				}
				continue
			case esc == 2:
				if b >= 0x40 && b <= 0x7e {
					esc = 0
				}
				continue
			}
			switch b {
			case '\r', '\n':
				rest := p[i+1:]
				if b == '\r' && len(rest) > 0 && rest[0] == '\n' {
					rest = rest[1:]
				}
				in.unread(rest)
				sc.ch.Write([]byte("\r\n"))
				return string(line), nil
			case 0x03, 0x04:
				sc.ch.Write([]byte("\r\n"))
				return "", errCanceled
			case 0x1b:
				esc = 1
			case 0x7f, 0x08:
				if len(line) > 0 {
					_, size := utf8.DecodeLastRune(line)
					line = line[:len(line)-size]
					if echo {
						sc.ch.Write([]byte("\b \b"))
					}
				}
			case 0x15: // Ctrl-U
				if echo {
					sc.ch.Write([]byte(strings.Repeat("\b \b", utf8.RuneCount(line))))
				}
				line = line[:0]
			default:
				if b < 0x20 || len(line) >= maxPromptLen {
					continue
				}
				line = append(line, b)
				if echo {
					sc.ch.Write([]byte{b})
				}
			}
		}
	}
}

// chooseAccount asks which of several granted accounts to use (direct
// targets without an account in the user name).
func (sc *sessionChan) chooseAccount(accounts []perm.AccountGrant) (perm.AccountGrant, error) {
	lang := sc.lang()
	if sc.pty == nil {
		return perm.AccountGrant{}, userErr(errors.New("sshgw: several accounts"), mNeedTTY)
	}
	var b strings.Builder
	b.WriteString(tr(lang, mChooseAccount, sc.c.target.Asset) + "\r\n")
	for i, a := range accounts {
		fmt.Fprintf(&b, "  %d) %s\r\n", i+1, accountLabel(a))
	}
	sc.ch.Write([]byte(b.String()))
	for range 3 {
		s, err := sc.ask(tr(lang, mNeedAccount), true)
		if err != nil {
			return perm.AccountGrant{}, err
		}
		s = strings.TrimSpace(s)
		if n, err := strconv.Atoi(s); err == nil && n >= 1 && n <= len(accounts) {
			return accounts[n-1], nil
		}
		for _, a := range accounts {
			if a.Name == s {
				return a, nil
			}
		}
	}
	return perm.AccountGrant{}, errCanceled
}

// accountLabel is how an account grant is shown: its name, and the login
// name when it differs.
func accountLabel(a perm.AccountGrant) string {
	switch {
	case a.Kind == perm.KindInput:
		return a.Name
	case a.Username != "" && a.Username != a.Name:
		return cleanText(a.Name) + " (" + cleanText(a.Username) + ")"
	}
	return cleanText(a.Name)
}
