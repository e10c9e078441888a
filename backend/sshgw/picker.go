package sshgw

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"

	"github.com/portcullis/portcullis/backend/perm"
	"github.com/portcullis/portcullis/backend/term"
)

// Terminal control sequences of the picker.
const (
	escAltScreenOn  = "\x1b[?1049h"
	escAltScreenOff = "\x1b[?1049l"
	escCursorHide   = "\x1b[?25l"
	escCursorShow   = "\x1b[?25h"
	escHome         = "\x1b[H"
	escClearEOL     = "\x1b[K"
	escClearEOS     = "\x1b[J"
	escReverse      = "\x1b[7m"
	escDim          = "\x1b[2m"
	escBold         = "\x1b[1m"
	escReset        = "\x1b[0m"
)

// maxSearchLen bounds the search box, in bytes.
const maxSearchLen = 128

// pickerMode is what the picker shows.
type pickerMode int

const (
	modeList pickerMode = iota
	modeHelp
	modeAccounts
)

// picker is the interactive asset menu shown to a user who logged in
// without a target: a searchable, paged list of the assets they may reach
// (asked from perm page by page, searched server-side), then, when an asset
// has several accounts, a list of those.
type picker struct {
	sc   *sessionChan
	lang string
	size term.Size

	query     string
	searching bool
	page      int // 0-based
	cursor    int // index in items
	items     []perm.AssetAccess
	total     int64
	loaded    bool
	status    string
	mode      pickerMode

	accAsset  *perm.AssetAccess
	accCursor int
}

// choice is what the user picked.
type choice struct {
	asset   perm.AssetSummary
	account perm.AccountGrant
}

// picker serves a shell session without a target: the menu, a session on
// the picked asset, and back to the menu when it ends, until the user quits.
func (sc *sessionChan) picker(ctx context.Context) int {
	if sc.pty == nil {
		sc.fail(userErr(errors.New("sshgw: picker without a pty"), mNeedTTY))
		return 1
	}
	p := &picker{sc: sc, lang: sc.lang(), size: sc.getSize()}
	for {
		ch, ok := p.run(ctx)
		sc.ch.Write([]byte(escAltScreenOff + escCursorShow))
		if !ok {
			sc.ch.Write([]byte(tr(p.lang, mBye) + "\r\n"))
			return 0
		}
		status, killed := sc.connectPicked(ctx, ch)
		if killed || ctx.Err() != nil {
			return 0
		}
		p.status = status
		p.loaded = false
	}
}

// connectPicked connects to the picked asset and runs the session; it
// returns the line to show in the menu afterwards and whether the session
// was killed (which ends the connection).
func (sc *sessionChan) connectPicked(ctx context.Context, ch choice) (string, bool) {
	c := sc.c
	lang := sc.lang()
	p, err := c.resolve(ctx, ch.asset.Name, ch.account.Name, interactiveProtocols, nil)
	if err != nil {
		return message(lang, err), false
	}
	sc.ch.Write([]byte(tr(lang, mConnecting, cleanText(p.asset.Name), accountLabel(p.grant)) + "\r\n"))
	switch p.protocol {
	case protoSSH:
	case protoTelnet:
		o := sc.telnet(ctx, p)
		return o.line, o.killed
	default:
		o := sc.database(ctx, p)
		return o.line, o.killed
	}
	up, err := c.dialSSH(ctx, p, lang, sc.ask)
	if err != nil {
		sc.fail(err)
		return message(lang, err), false
	}
	defer up.close()
	code, killed := sc.interactive(ctx, up)
	return tr(lang, mDisconnected, cleanText(p.asset.Name), fmt.Sprintf("exit %d", code)), killed
}

// run shows the menu until the user picks an account (ok) or quits.
func (p *picker) run(ctx context.Context) (choice, bool) {
	sc := p.sc
	in := sc.input()
	sc.ch.Write([]byte(escAltScreenOn + escCursorHide))
	idle := time.Duration(sc.c.security(ctx).SessionIdleMinutes) * time.Minute
	if idle <= 0 {
		idle = 30 * time.Minute
	}
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		if !p.loaded {
			p.load(ctx)
		}
		p.draw()
		var chunk []byte
		if pending := in.takePending(); pending != nil {
			chunk = pending
		} else {
			select {
			case b, ok := <-in.chunks:
				if !ok {
					return choice{}, false
				}
				chunk = b
			case s := <-sc.resizes:
				p.resize(s)
				continue
			case <-timer.C:
				return choice{}, false
			case <-ctx.Done():
				return choice{}, false
			}
		}
		timer.Reset(idle)
		for _, k := range parseKeys(chunk) {
			if !p.loaded { // keys typed ahead act on the list they would see
				p.load(ctx)
			}
			if ch, done, quit := p.key(k); quit {
				return choice{}, false
			} else if done {
				return ch, true
			}
		}
	}
}

// pageSize is the number of list rows that fit: the screen less the title,
// search, header, status and footer lines.
func (p *picker) pageSize() int { return max(1, p.size.Rows-5) }

func (p *picker) pages() int {
	ps := int64(p.pageSize())
	return max(1, int((p.total+ps-1)/ps))
}

// load fetches the current page.
func (p *picker) load(ctx context.Context) {
	c := p.sc.c
	ps := p.pageSize()
	items, total, err := c.srv.deps.Perm.UserAssets(ctx, c.user.ID, perm.Query{Search: p.query, Offset: p.page * ps, Limit: ps, Sort: "name"})
	p.loaded = true
	if err != nil {
		c.srv.log.ErrorContext(ctx, "picker: list assets", "user", c.user.Username, "err", err)
		p.items, p.total, p.status = nil, 0, tr(p.lang, mLoadFailed)
		return
	}
	p.items, p.total = items, total
	if p.page > 0 && len(items) == 0 && total > 0 { // the list shrank under us
		p.page = p.pages() - 1
		p.load(ctx)
		return
	}
	p.cursor = min(p.cursor, max(0, len(items)-1))
}

func (p *picker) resize(s term.Size) {
	first := p.page*p.pageSize() + p.cursor
	p.size = s
	p.page, p.cursor = first/p.pageSize(), first%p.pageSize()
	p.loaded = false
}

// setPage moves to page n (clamped) with the cursor at index cur (-1: last).
func (p *picker) setPage(n, cur int) {
	n = max(0, min(n, p.pages()-1))
	if n != p.page {
		p.page, p.loaded = n, false
	}
	p.cursor = cur
	if cur < 0 {
		p.cursor = p.pageSize() - 1 // clamped by load
	}
	if p.loaded {
		p.cursor = max(0, min(p.cursor, len(p.items)-1))
	}
}

func (p *picker) setQuery(q string) {
	if len(q) > maxSearchLen {
		return
	}
	p.query, p.page, p.cursor, p.loaded = q, 0, 0, false
}

// key handles one key press; done means the user picked, quit that they left.
func (p *picker) key(k key) (ch choice, done, quit bool) {
	switch p.mode {
	case modeHelp:
		p.mode = modeList
		return choice{}, false, false
	case modeAccounts:
		return p.accountKey(k)
	}
	switch k.code {
	case keyCtrlD:
		return choice{}, false, true
	case keyCtrlC:
		if p.query == "" {
			return choice{}, false, true
		}
		p.setQuery("")
		p.searching = false
	case keyEsc:
		if p.searching {
			p.searching = false
		} else if p.query != "" {
			p.setQuery("")
		}
	case keyCtrlU:
		p.setQuery("")
	case keyBackspace:
		if p.query != "" {
			r := []rune(p.query)
			p.setQuery(string(r[:len(r)-1]))
		}
	case keyUp:
		p.move(-1)
	case keyDown, keyTab:
		p.move(1)
	case keyPgUp, keyLeft:
		p.setPage(p.page-1, 0)
	case keyPgDn, keyRight:
		p.setPage(p.page+1, 0)
	case keyHome:
		p.setPage(0, 0)
	case keyEnd:
		p.setPage(p.pages()-1, -1)
	case keyCtrlL:
		p.loaded = false
	case keyEnter:
		if p.cursor < len(p.items) {
			return p.choose(p.items[p.cursor])
		}
	case keyRune:
		if !p.searching {
			switch k.r {
			case 'j':
				p.move(1)
				return
			case 'k':
				p.move(-1)
				return
			case 'g':
				p.setPage(0, 0)
				return
			case 'G':
				p.setPage(p.pages()-1, -1)
				return
			case 'q':
				return choice{}, false, true
			case '?':
				p.mode = modeHelp
				return
			case '/':
				p.searching = true
				return
			}
		}
		p.searching = true
		p.setQuery(p.query + string(k.r))
	}
	return choice{}, false, false
}

// move moves the cursor by d rows, across pages.
func (p *picker) move(d int) {
	n := p.cursor + d
	switch {
	case n < 0:
		if p.page > 0 {
			p.setPage(p.page-1, -1)
		}
	case n >= len(p.items):
		if p.page < p.pages()-1 {
			p.setPage(p.page+1, 0)
		}
	default:
		p.cursor = n
	}
}

// choose picks an asset: its only account, or the account list.
func (p *picker) choose(a perm.AssetAccess) (choice, bool, bool) {
	switch len(a.Accounts) {
	case 0:
		p.status = tr(p.lang, mDenied, cleanText(a.Asset.Name))
		return choice{}, false, false
	case 1:
		return choice{asset: a.Asset, account: a.Accounts[0]}, true, false
	}
	p.mode, p.accAsset, p.accCursor = modeAccounts, &a, 0
	return choice{}, false, false
}

func (p *picker) accountKey(k key) (choice, bool, bool) {
	n := len(p.accAsset.Accounts)
	switch {
	case k.code == keyUp || k.code == keyRune && k.r == 'k':
		p.accCursor = max(0, p.accCursor-1)
	case k.code == keyDown || k.code == keyTab || k.code == keyRune && k.r == 'j':
		p.accCursor = min(n-1, p.accCursor+1)
	case k.code == keyEnter:
		return choice{asset: p.accAsset.Asset, account: p.accAsset.Accounts[p.accCursor]}, true, false
	case k.code == keyEsc || k.code == keyBackspace || k.code == keyRune && k.r == 'q':
		p.mode = modeList
	case k.code == keyCtrlC || k.code == keyCtrlD:
		return choice{}, false, true
	case k.code == keyRune && k.r >= '1' && k.r <= '9' && int(k.r-'1') < n:
		return choice{asset: p.accAsset.Asset, account: p.accAsset.Accounts[k.r-'1']}, true, false
	}
	return choice{}, false, false
}

// draw repaints the whole screen.
func (p *picker) draw() {
	w, h := p.size.Cols, p.size.Rows
	lines := make([]string, 0, h)
	title := tr(p.lang, mTitle, cleanText(p.sc.c.user.Username), p.total)
	lines = append(lines, escReverse+escBold+fit(title, w)+escReset)
	switch p.mode {
	case modeHelp:
		lines = append(lines, "", escBold+fit(tr(p.lang, mHelpTitle), w)+escReset, "")
		for _, l := range strings.Split(tr(p.lang, mHelp), "\r\n") {
			lines = append(lines, fit(l, w))
		}
		lines = append(lines, "", escDim+fit(tr(p.lang, mPressKey), w)+escReset)
	case modeAccounts:
		lines = append(lines, fit(tr(p.lang, mChooseAccount, cleanText(p.accAsset.Asset.Name)), w), "")
		for i, a := range p.accAsset.Accounts {
			if len(lines) >= h-1 {
				break
			}
			line := fit(fmt.Sprintf("  %d) %s", i+1, accountLabel(a)), w)
			if i == p.accCursor {
				line = escReverse + line + escReset
			}
			lines = append(lines, line)
		}
		for len(lines) < h-1 {
			lines = append(lines, "")
		}
		lines = append(lines, escReverse+fit(tr(p.lang, mAccountsFooter), w)+escReset)
	default:
		search := tr(p.lang, mSearch) + p.query
		if p.searching {
			search += "█"
		} else if p.query == "" {
			search += escDim + tr(p.lang, mSearchHint) + escReset
		}
		lines = append(lines, fitANSI(search, w))
		nameW, addrW := p.columns()
		lines = append(lines, escDim+fit("  "+pad("NAME", nameW)+" "+pad("ADDRESS", addrW)+" PROTOCOLS", w)+escReset)
		ps := p.pageSize()
		for i := 0; i < ps; i++ {
			if i >= len(p.items) {
				if i == 0 {
					msg := tr(p.lang, mNoAssets)
					if p.query != "" {
						msg = tr(p.lang, mNoMatch)
					}
					lines = append(lines, fit("  "+msg, w))
					continue
				}
				lines = append(lines, "")
				continue
			}
			a := p.items[i].Asset
			protos := strings.Join(p.items[i].Protocols, ",")
			line := fit("  "+pad(cleanText(a.Name), nameW)+" "+pad(cleanText(a.Address), addrW)+" "+protos, w)
			if i == p.cursor {
				line = escReverse + line + escReset
			}
			lines = append(lines, line)
		}
		status := tr(p.lang, mPage, p.page+1, p.pages())
		if p.status != "" {
			status = p.status + "  " + status
		}
		lines = append(lines, fit(status, w))
		lines = append(lines, escReverse+fit(tr(p.lang, mFooter), w)+escReset)
	}
	if len(lines) > h {
		lines = lines[:h]
	}
	var b strings.Builder
	b.WriteString(escHome)
	for i, l := range lines {
		b.WriteString(l)
		b.WriteString(escClearEOL)
		if i < len(lines)-1 {
			b.WriteString("\r\n")
		}
	}
	b.WriteString(escClearEOS)
	p.sc.ch.Write([]byte(b.String()))
}

// columns returns the widths of the name and address columns.
func (p *picker) columns() (int, int) {
	w := p.size.Cols - 3
	name := max(8, w*2/5)
	addr := max(8, w*3/10)
	return name, addr
}

// fit truncates s to w display cells (wide characters count double).
func fit(s string, w int) string {
	if w <= 0 {
		return ""
	}
	return runewidth.Truncate(s, w, "…")
}

// fitANSI is fit for a string that may hold escape sequences, which take no
// room: it only truncates when the visible text is too wide.
func fitANSI(s string, w int) string {
	if runewidth.StringWidth(stripANSI(s)) <= w {
		return s
	}
	return fit(stripANSI(s), w)
}

func stripANSI(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == 0x1b {
			for i++; i < len(s) && (s[i] < 0x40 || s[i] > 0x7e || s[i] == '['); i++ {
			}
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// pad truncates or pads s to exactly w display cells.
func pad(s string, w int) string {
	return runewidth.FillRight(runewidth.Truncate(s, w, "…"), w)
}
