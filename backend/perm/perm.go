package perm

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// Errors of this package.
var (
	// ErrDenied means that no applicable permission grants what was asked.
	ErrDenied = errors.New("perm: access denied")
	// ErrInvalidQuery wraps the errors of a malformed Query.
	ErrInvalidQuery = errors.New("perm: invalid query")
)

// Kinds of AccountGrant.
const (
	KindAccount = "account"          // a real account of the asset
	KindInput   = store.AccountInput // the user types username and secret at connect time
	KindUser    = store.AccountUser  // the user's own username, secret typed at connect time
)

// DefaultLimit is the page size of a Query without a limit.
const DefaultLimit = 20

// Query selects and orders a page of UserAssets.
type Query struct {
	Search   string // case-insensitive substring of the name or the address
	NodeID   uint   // only assets in the subtree of this node; 0 = everywhere
	Protocol string // only assets the user may reach by this protocol
	Offset   int
	Limit    int    // DefaultLimit when 0
	Sort     string // "name" (default), "-name", "address", "-address"
}

// AssetSummary is what a user sees of a granted asset.
type AssetSummary struct {
	ID        uint            `json:"id"`
	Name      string          `json:"name"`
	Address   string          `json:"address"`
	Platform  string          `json:"platform"`
	Category  string          `json:"category"`
	Protocols store.Protocols `json:"protocols"`
	ZoneID    *uint           `json:"zone_id"`
	Labels    []string        `json:"labels"`
	Comment   string          `json:"comment"`
}

// AccountGrant is an account the user may use on an asset. Kind is
// KindAccount for a real account (ID set), KindInput for credentials typed at
// connect time, KindUser for the user's own username when the asset has no
// account of that username.
type AccountGrant struct {
	ID       uint   `json:"id,omitempty"`
	Name     string `json:"name"`
	Username string `json:"username"`
	Kind     string `json:"kind"`
}

// AssetAccess is a granted asset with the union of what every applicable
// permission grants on it.
type AssetAccess struct {
	Asset     AssetSummary   `json:"asset"`
	Accounts  []AccountGrant `json:"accounts"`
	Protocols []string       `json:"protocols"`
	Actions   []string       `json:"actions"`
}

// NodeCount is a node of the user's asset tree with the number of distinct
// granted assets in its subtree.
type NodeCount struct {
	ID         uint   `json:"id"`
	OrgID      uint   `json:"org_id"`
	ParentID   *uint  `json:"parent_id"`
	Name       string `json:"name"`
	Key        string `json:"key"`
	AssetCount int64  `json:"asset_count"`
}

// Resolver answers permission questions from the database. It is safe for
// concurrent use and holds no cached grants.
type Resolver struct {
	db      *gorm.DB
	clock   func() time.Time
	dialect dialect
	windows windowCache
	// probeMax, when not 0, replaces the automatic probe limit; negative
	// means never probe. Tests set it to cover both ways of listing.
	probeMax int
}

// New returns a resolver reading db. clock tells the time at which permissions
// are evaluated; nil means time.Now.
func New(db *gorm.DB, clock func() time.Time) *Resolver {
	if clock == nil {
		clock = time.Now
	}
	return &Resolver{db: db, clock: clock, dialect: dialectOf(db)}
}

// UserAssets lists a page of the assets the user may reach, with what each
// grants, and the total number of assets matching q.
func (r *Resolver) UserAssets(ctx context.Context, userID uint, q Query) ([]AssetAccess, int64, error) {
	order, err := orderBy(q.Sort)
	if err != nil {
		return nil, 0, err
	}
	offset, limit := max(q.Offset, 0), q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	g, err := r.loadGrants(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	g = g.forProtocol(q.Protocol)
	if len(g.perms) == 0 {
		return []AssetAccess{}, 0, nil
	}
	f := filter{org: g.user.orgID, search: q.Search, protocol: q.Protocol}
	page, total, err := r.page(ctx, g, f, q.NodeID, order, offset, limit)
	if err != nil {
		return nil, 0, err
	}
	if len(page) == 0 {
		return []AssetAccess{}, total, nil
	}
	details, err := r.details(ctx, g, page)
	if err != nil {
		return nil, 0, err
	}
	items := make([]AssetAccess, 0, len(page))
	for _, id := range page {
		// An asset deleted or deactivated between the queries drops out of the page.
		if d := details[id]; d != nil && len(d.perms) > 0 {
			items = append(items, d.merged(g.user))
		}
	}
	return items, total, nil
}

// Access tells what the user may do on one asset, merged over every applicable
// permission. It returns ErrDenied when nothing grants the asset.
func (r *Resolver) Access(ctx context.Context, userID, assetID uint) (*AssetAccess, error) {
	d, g, err := r.assetDetail(ctx, userID, assetID)
	if err != nil {
		return nil, err
	}
	a := d.merged(g.user)
	return &a, nil
}

// Check reports whether one permission grants the user, on the asset, the
// account (an account name, "@INPUT" or "@USER"), the protocol and the action
// together, and returns the account to use. It returns ErrDenied otherwise.
func (r *Resolver) Check(ctx context.Context, userID, assetID uint, account, protocol, action string) (*AccountGrant, error) {
	if account == "" || protocol == "" || action == "" {
		return nil, ErrDenied
	}
	d, g, err := r.assetDetail(ctx, userID, assetID)
	if err != nil {
		return nil, err
	}
	for _, p := range d.perms {
		if !contains(p.actions, action) || !contains(p.protocolsOn(d.asset), protocol) {
			continue
		}
		for _, ag := range p.accountsOn(d, g.user) {
			if ag.matches(account) {
				grant := ag.AccountGrant
				return &grant, nil
			}
		}
	}
	return nil, ErrDenied
}

// assetDetail resolves the permissions granting one asset, or ErrDenied.
func (r *Resolver) assetDetail(ctx context.Context, userID, assetID uint) (*assetDetail, *grants, error) {
	g, err := r.loadGrants(ctx, userID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil, ErrDenied
		}
		return nil, nil, err
	}
	if len(g.perms) == 0 {
		return nil, nil, ErrDenied
	}
	details, err := r.details(ctx, g, []uint{assetID})
	if err != nil {
		return nil, nil, err
	}
	d := details[assetID]
	if d == nil || len(d.perms) == 0 {
		return nil, nil, ErrDenied
	}
	return d, g, nil
}

// orderBy maps a Query.Sort to an ORDER BY clause. Names are unique within an
// organization, so name is a total order and breaks address ties.
func orderBy(sort string) (string, error) {
	switch sort {
	case "", "name":
		return "a.name", nil
	case "-name":
		return "a.name DESC", nil
	case "address":
		return "a.address, a.name", nil
	case "-address":
		return "a.address DESC, a.name DESC", nil
	}
	return "", fmt.Errorf("%w: sort %q: want name, -name, address or -address", ErrInvalidQuery, sort)
}
