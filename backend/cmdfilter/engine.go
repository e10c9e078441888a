package cmdfilter

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// Kinds of command group.
const (
	KindCommand = "command" // each line a literal command, matched as whole words at a command boundary
	KindRegex   = "regex"   // each line a Go regular expression, matched anywhere
)

// Risk levels of a verdict.
const (
	RiskLow      = "low"      // no rule matched, or an allow rule
	RiskMedium   = "medium"   // warn
	RiskHigh     = "high"     // confirm
	RiskCritical = "critical" // deny
)

// MaxCommandLen bounds the part of a command line that is checked. A longer
// command is checked on its first MaxCommandLen bytes, cut at a word
// boundary, so that it is still denied when a deny rule matches there.
const MaxCommandLen = 64 << 10

// Errors of this package.
var (
	// ErrUnknownKind: a command group's kind is neither "command" nor "regex".
	ErrUnknownKind = errors.New("cmdfilter: unknown command group kind")
	// ErrInvalidEntry: a line of a command group does not compile.
	ErrInvalidEntry = errors.New("cmdfilter: invalid command group entry")
)

// EntryError says which line of which group did not compile. It wraps
// ErrInvalidEntry or ErrUnknownKind, and the regexp error if any.
type EntryError struct {
	Group string
	Line  int // 1-based; 0 for the group as a whole
	Entry string
	Err   error
}

func (e *EntryError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("cmdfilter: group %q: %v", e.Group, e.Err)
	}
	return fmt.Sprintf("cmdfilter: group %q line %d %q: %v", e.Group, e.Line, e.Entry, e.Err)
}

func (e *EntryError) Unwrap() []error {
	if errors.Is(e.Err, ErrUnknownKind) {
		return []error{e.Err}
	}
	return []error{ErrInvalidEntry, e.Err}
}

// Scope says who runs a command where: the filters bound to other users,
// groups, assets or accounts do not apply.
type Scope struct {
	OrgID        uint // 0 or the engine's organization
	UserID       uint
	UserGroupIDs []uint
	AssetID      uint
	Account      string // the account's name (store.Account.Name) or, for @INPUT, the username typed
}

// Verdict is the outcome of a check: the first matching rule's action, and
// what matched.
type Verdict struct {
	Action     string // store.FilterDeny, FilterConfirm, FilterWarn, FilterAllow, or "" when no rule matched
	FilterID   uint
	FilterName string
	GroupName  string
	Pattern    string // the group entry (line) that matched
	Risk       string // RiskLow, RiskMedium, RiskHigh or RiskCritical
}

// RiskOf returns the risk level of an action.
func RiskOf(action string) string {
	switch action {
	case store.FilterDeny:
		return RiskCritical
	case store.FilterConfirm:
		return RiskHigh
	case store.FilterWarn:
		return RiskMedium
	}
	return RiskLow
}

// Engine holds the compiled command filters of one organization. It is
// immutable and safe for concurrent use; load a new one when filters change.
// A nil *Engine checks nothing: every verdict is low risk.
type Engine struct {
	orgID    uint
	rules    []rule
	problems []error
}

type rule struct {
	id               uint
	name, action     string
	users, userGroup map[uint]bool // nil: not bound
	assets           map[uint]bool
	accounts         []string
	groups           []group
}

type group struct {
	name       string
	ignoreCase bool
	entries    []entry
}

// entry is one compiled line of a group: a regexp, a literal command, or
// an entry with shell syntax in it (a pipeline, a fork bomb), matched as a
// run of commands (seq) or on text without spaces (squeezed, and forkBomb
// when it is a fork bomb).
type entry struct {
	text     string
	re       *regexp.Regexp
	lit      *command
	seq      []command
	squeezed string
	forkBomb bool
}

// Load compiles the active command filters of an organization with their
// groups and bindings, in order of priority (lower first) then ID. Entries
// that do not compile are skipped and reported by Problems; the database
// error, if any, is returned.
func Load(ctx context.Context, db *gorm.DB, orgID uint) (*Engine, error) {
	var filters []store.CommandFilter
	ids := func(tx *gorm.DB) *gorm.DB { return tx.Select("id") }
	err := db.WithContext(ctx).
		Where("org_id = ? AND is_active = ?", orgID, true).
		Preload("Groups").Preload("Users", ids).Preload("UserGroups", ids).Preload("Assets", ids).
		Order("priority, id").
		Find(&filters).Error
	if err != nil {
		return nil, fmt.Errorf("cmdfilter: load filters of organization %d: %w", orgID, store.Translate(err))
	}
	return compileCached(orgID, filters), nil
}

// cache keeps the last Engine compiled for each organization with a digest of
// what it was compiled from, so that sessions started while the filters stay
// the same share one Engine instead of holding a compiled copy each.
var cache struct {
	sync.Mutex
	m map[uint]cached
}

type cached struct {
	sum    [sha256.Size]byte
	engine *Engine
}

// compileCached returns the cached Engine of orgID when filters are exactly
// what it was compiled from, else compiles and caches a new one.
func compileCached(orgID uint, filters []store.CommandFilter) *Engine {
	b, err := json.Marshal(filters)
	if err != nil {
		return Compile(orgID, filters)
	}
	sum := sha256.Sum256(b)
	cache.Lock()
	c, ok := cache.m[orgID]
	cache.Unlock()
	if ok && c.sum == sum {
		return c.engine
	}
	e := Compile(orgID, filters)
	cache.Lock()
	if cache.m == nil {
		cache.m = map[uint]cached{}
	}
	cache.m[orgID] = cached{sum: sum, engine: e}
	cache.Unlock()
	return e
}

// Compile builds an Engine from filters with their Groups, Users,
// UserGroups and Assets loaded. Inactive filters are left out; the others
// are ordered by Priority then ID.
func Compile(orgID uint, filters []store.CommandFilter) *Engine {
	e := &Engine{orgID: orgID}
	filters = slices.Clone(filters)
	slices.SortStableFunc(filters, func(a, b store.CommandFilter) int {
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		return int(a.ID) - int(b.ID)
	})
	compiled := map[uint]group{} // groups shared by several filters are compiled once
	for _, f := range filters {
		if !f.IsActive {
			continue
		}
		r := rule{id: f.ID, name: f.Name, action: f.Action, accounts: f.Accounts}
		for _, u := range f.Users {
			r.users = setAdd(r.users, u.ID)
		}
		for _, g := range f.UserGroups {
			r.userGroup = setAdd(r.userGroup, g.ID)
		}
		for _, a := range f.Assets {
			r.assets = setAdd(r.assets, a.ID)
		}
		for _, g := range f.Groups {
			cg, ok := compiled[g.ID]
			if !ok || g.ID == 0 {
				var errs []error
				cg, errs = compileGroup(g)
				e.problems = append(e.problems, errs...)
				compiled[g.ID] = cg
			}
			r.groups = append(r.groups, cg)
		}
		e.rules = append(e.rules, r)
	}
	return e
}

func setAdd(m map[uint]bool, id uint) map[uint]bool {
	if m == nil {
		m = map[uint]bool{}
	}
	m[id] = true
	return m
}

// Problems returns the entries that did not compile (as *EntryError), which
// Check ignores.
func (e *Engine) Problems() []error {
	if e == nil {
		return nil
	}
	return slices.Clone(e.problems)
}

// ValidateGroup checks the content of a command group before it is saved,
// so that an API can refuse a bad regular expression instead of letting
// Load skip it. It returns nil or the *EntryError of each bad line, joined.
func ValidateGroup(kind, content string, ignoreCase bool) error {
	_, errs := compileGroup(store.CommandGroup{Name: "", Kind: kind, Content: content, IgnoreCase: ignoreCase})
	return errors.Join(errs...)
}

func compileGroup(g store.CommandGroup) (group, []error) {
	cg := group{name: g.Name, ignoreCase: g.IgnoreCase}
	if g.Kind != KindCommand && g.Kind != KindRegex {
		return cg, []error{&EntryError{Group: g.Name, Err: fmt.Errorf("%w %q", ErrUnknownKind, g.Kind)}}
	}
	var errs []error
	for i, line := range strings.Split(g.Content, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		en := entry{text: line}
		switch {
		case g.Kind == KindRegex:
			expr := line
			if g.IgnoreCase {
				expr = "(?i)" + expr
			}
			re, err := regexp.Compile(expr)
			if err != nil {
				errs = append(errs, &EntryError{Group: g.Name, Line: i + 1, Entry: line, Err: err})
				continue
			}
			en.re = re
		case strings.ContainsAny(line, ";&|()`{}"):
			// Shell syntax: a run of commands, or text compared without spaces.
			text := fold(line, g.IgnoreCase)
			en.squeezed = squeeze(text)
			en.forkBomb = hasForkBomb(en.squeezed)
			if cmds := commands(text); len(cmds) > 1 && !en.forkBomb {
				for _, stages := range cmds {
					en.seq = append(en.seq, stages[0])
				}
			}
		default:
			cmds := commands(fold(line, g.IgnoreCase))
			if len(cmds) == 0 {
				errs = append(errs, &EntryError{Group: g.Name, Line: i + 1, Entry: line, Err: errors.New("no command in entry")})
				continue
			}
			en.lit = &cmds[0][0]
		}
		cg.entries = append(cg.entries, en)
	}
	return cg, errs
}

func fold(s string, ignoreCase bool) string {
	if ignoreCase {
		return strings.ToLower(s)
	}
	return s
}

// applies reports whether the rule is bound to the scope. An empty binding
// list means everyone, every asset, every account; a rule bound to users or
// user groups applies to those users and the members of those groups.
func (r *rule) applies(s Scope) bool {
	if r.users != nil || r.userGroup != nil {
		ok := r.users[s.UserID]
		for _, g := range s.UserGroupIDs {
			ok = ok || r.userGroup[g]
		}
		if !ok {
			return false
		}
	}
	if r.assets != nil && !r.assets[s.AssetID] {
		return false
	}
	if len(r.accounts) > 0 && !slices.Contains(r.accounts, s.Account) && !slices.Contains(r.accounts, store.AccountAll) {
		return false
	}
	return true
}

// shellSeparators split a command line into simple commands.
const shellSeparators = ";&|()`\n\r"

// Check returns the verdict for command in scope s: the most severe verdict
// (deny, then confirm, warn, allow, no match) of the whole command, of each
// of its lines (lines joined by a trailing backslash taken together, as a
// shell does) and of each simple command in them. Checking piece by piece
// keeps an allow rule for "ls" ahead of the deny rules from letting
// "ls; rm -rf /" through: the deny rule sees "rm -rf /" alone. A nil engine,
// or a scope of another organization, gets a low-risk verdict.
func (e *Engine) Check(s Scope, command string) Verdict {
	if e == nil || (s.OrgID != 0 && s.OrgID != e.orgID) {
		return Verdict{Risk: RiskLow}
	}
	command = bound(command)
	v := e.checkWhole(s, command)
	if v.Action == store.FilterDeny || !strings.ContainsAny(command, shellSeparators) {
		return v
	}
	worst := func(c string) {
		if c = strings.TrimSpace(c); c == "" || c == command {
			return
		}
		if cv := e.checkWhole(s, c); Severity(cv.Action) > Severity(v.Action) {
			v = cv
		}
	}
	each := func(line string) {
		worst(line)
		if strings.ContainsAny(line, shellSeparators) {
			for _, piece := range strings.FieldsFunc(line, func(r rune) bool { return strings.ContainsRune(shellSeparators, r) }) {
				worst(piece)
			}
		}
	}
	var joined strings.Builder
	for _, l := range strings.FieldsFunc(command, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if Continued(l) {
			joined.WriteString(l[:len(l)-1])
			continue
		}
		if joined.Len() > 0 {
			joined.WriteString(l)
			l = joined.String()
			joined.Reset()
		}
		each(l)
	}
	if joined.Len() > 0 {
		each(joined.String())
	}
	return v
}

// CheckStatement returns the verdict for one statement of a program that is
// not a shell (a database client): the statement is matched as a whole, not
// cut into lines and simple commands, since ";", "|" and newlines mean other
// things there ("DELETE FROM t\nWHERE id = 1" is one statement). A nil
// engine, or a scope of another organization, gets a low-risk verdict.
func (e *Engine) CheckStatement(s Scope, stmt string) Verdict {
	if e == nil || (s.OrgID != 0 && s.OrgID != e.orgID) {
		return Verdict{Risk: RiskLow}
	}
	return e.checkWhole(s, bound(stmt))
}

// Continued reports whether a line ends in an unescaped backslash, so that
// a shell reads the next line as part of the same command.
func Continued(line string) bool {
	n := 0
	for i := len(line) - 1; i >= 0 && line[i] == '\\'; i-- {
		n++
	}
	return n%2 == 1
}

// Severity orders filter actions: no match < allow < warn < confirm < deny.
func Severity(action string) int {
	switch action {
	case store.FilterAllow:
		return 1
	case store.FilterWarn:
		return 2
	case store.FilterConfirm:
		return 3
	case store.FilterDeny:
		return 4
	}
	return 0
}

// checkWhole returns the verdict of the first rule (by priority) matching
// anywhere in command.
func (e *Engine) checkWhole(s Scope, command string) Verdict {
	c := &subject{raw: command}
	for i := range e.rules {
		r := &e.rules[i]
		if !r.applies(s) {
			continue
		}
		for _, g := range r.groups {
			for _, en := range g.entries {
				if c.matches(&en, g.ignoreCase) {
					return Verdict{Action: r.action, FilterID: r.id, FilterName: r.name, GroupName: g.name, Pattern: en.text, Risk: RiskOf(r.action)}
				}
			}
		}
	}
	return Verdict{Risk: RiskLow}
}

// bound cuts a command longer than MaxCommandLen at the last separator or
// space before the limit, so that the cut does not make up a shorter word.
func bound(command string) string {
	if len(command) <= MaxCommandLen {
		return command
	}
	cut := command[:MaxCommandLen]
	if i := strings.LastIndexFunc(cut, func(r rune) bool { return r < 0x80 && (isSpace(byte(r)) || isSep(byte(r))) }); i > 0 {
		cut = cut[:i]
	}
	return cut
}

// subject is a command line being checked, with its parsed and squeezed
// forms computed once, as they are needed.
type subject struct {
	raw   string
	ready [2]bool // per case folding: as given, lower case
	cmds  [2][][]command
	sq    [2]string
	bomb  [2]bool
}

func (c *subject) prepare(fi int) {
	if c.ready[fi] {
		return
	}
	c.ready[fi] = true
	text := fold(c.raw, fi == 1)
	c.cmds[fi] = commands(text)
	c.sq[fi] = squeeze(text)
	c.bomb[fi] = hasForkBomb(c.sq[fi])
}

func (c *subject) matches(en *entry, ignoreCase bool) bool {
	if en.re != nil {
		return en.re.MatchString(c.raw)
	}
	fi := 0
	if ignoreCase {
		fi = 1
	}
	c.prepare(fi)
	cmds := c.cmds[fi]
	if en.lit != nil {
		for i := range cmds {
			if anyStage(en.lit, cmds[i]) {
				return true
			}
		}
		return false
	}
	if (en.forkBomb && c.bomb[fi]) || strings.Contains(c.sq[fi], en.squeezed) {
		return true
	}
	if len(en.seq) == 0 {
		return false
	}
next:
	for i := 0; i+len(en.seq) <= len(cmds); i++ {
		for j := range en.seq {
			if !anyStage(&en.seq[j], cmds[i+j]) {
				continue next
			}
		}
		return true
	}
	return false
}

func anyStage(p *command, stages []command) bool {
	for i := range stages {
		if p.matches(&stages[i]) {
			return true
		}
	}
	return false
}
