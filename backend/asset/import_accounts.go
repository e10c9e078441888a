package asset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/vault"
)

// accountColumns are the columns of an account CSV file; the export leaves
// out "secret".
var accountColumns = []string{"asset", "name", "username", "secret_type", "secret", "privileged", "is_active", "comment"}

var accountRequired = []string{"asset", "name", "username"}

var accountFieldColumn = map[string]string{"asset_id": "asset"}

// AccountColumns returns the columns of an account CSV file. The export
// writes all of them but "secret".
func AccountColumns() []string { return slices.Clone(accountColumns) }

// ImportAccounts reads an account CSV file (see AccountColumns and the package
// comment) and upserts its rows by (asset, name); asset is an asset name of
// organization orgID. Secrets are validated (ValidateAccount), sealed with v
// under AccountSecretAAD and never echoed; an empty secret cell keeps the
// stored secret. Changing secret_type of an account that has a secret needs a
// new secret in the same row. File-level problems are reported as for
// ImportAssets.
func ImportAccounts(ctx context.Context, db *gorm.DB, v *vault.Vault, orgID uint, r io.Reader, opts ImportOptions) (*ImportResult, error) {
	if v == nil {
		return nil, errors.New("asset: ImportAccounts needs a vault")
	}
	return runImport(ctx, db, orgID, r, opts, accountColumns, accountRequired, accountFieldColumn,
		func(tx *gorm.DB, t *csvTable) (rowImporter[*accountPlan], error) {
			return newAccountImporter(tx, v, orgID, t)
		})
}

type accountKey struct {
	asset uint
	name  string
}

type accountImporter struct {
	orgID    uint
	v        *vault.Vault
	t        *csvTable
	assets   map[string]uint               // asset name -> ID, in the org
	accounts map[accountKey]*store.Account // kept in step with tx
	seen     map[accountKey]int            // -> first row naming it
}

func newAccountImporter(tx *gorm.DB, v *vault.Vault, orgID uint, t *csvTable) (*accountImporter, error) {
	im := &accountImporter{orgID: orgID, v: v, t: t, assets: map[string]uint{},
		accounts: map[accountKey]*store.Account{}, seen: map[accountKey]int{}}
	var assets []store.Asset
	if err := tx.Select("id", "name").Where("org_id = ?", orgID).Find(&assets).Error; err != nil {
		return nil, fmt.Errorf("asset: load assets: %w", store.Translate(err))
	}
	for _, a := range assets {
		im.assets[a.Name] = a.ID
	}
	var accounts []*store.Account
	if err := tx.Where("org_id = ?", orgID).Find(&accounts).Error; err != nil {
		return nil, fmt.Errorf("asset: load accounts: %w", store.Translate(err))
	}
	for _, a := range accounts {
		im.accounts[accountKey{a.AssetID, a.Name}] = a
	}
	return im, nil
}

type accountPlan struct {
	row      csvRow
	account  store.Account
	existing *store.Account
	secret   string
}

func (im *accountImporter) prepare(row csvRow) (*accountPlan, []*FieldError) {
	t := im.t
	var errs []*FieldError
	assetName, _ := t.get(row, "asset")
	var assetID uint
	switch assetName = strings.TrimSpace(assetName); {
	case assetName == "":
		errs = append(errs, invalid("asset", "is required"))
	case im.assets[assetName] == 0:
		errs = append(errs, invalid("asset", "no asset named %q in this organization", clip(assetName, 64)))
	default:
		assetID = im.assets[assetName]
	}
	name, _ := t.get(row, "name")
	key := accountKey{assetID, strings.TrimSpace(name)}
	if assetID != 0 && key.name != "" {
		if first, dup := im.seen[key]; dup {
			return nil, []*FieldError{invalid("name", "account %q of %q is also on row %d", clip(key.name, 64), clip(assetName, 64), first)}
		}
		im.seen[key] = row.num
	}
	p := &accountPlan{row: row, existing: im.accounts[key]}
	if p.existing != nil {
		p.account = *p.existing
	} else {
		p.account = store.Account{OrgID: im.orgID, AssetID: assetID, Name: name, IsActive: true}
	}
	a := &p.account
	a.Username, _ = t.get(row, "username")
	if st, ok := t.get(row, "secret_type"); ok && strings.TrimSpace(st) != "" {
		a.SecretType = st
	}
	p.secret, _ = t.raw(row, "secret")
	if s, ok := t.get(row, "privileged"); ok && strings.TrimSpace(s) != "" {
		if v, err := parseBool("privileged", s); err != nil {
			errs = append(errs, err.(*FieldError))
		} else {
			a.Privileged = v
		}
	}
	if s, ok := t.get(row, "is_active"); ok && strings.TrimSpace(s) != "" {
		if v, err := parseBool("is_active", s); err != nil {
			errs = append(errs, err.(*FieldError))
		} else {
			a.IsActive = v
		}
	}
	if c, ok := t.get(row, "comment"); ok {
		a.Comment = c
	}
	for _, fe := range validateAccount(a, p.secret, p.existing == nil) {
		if fe.Field == "asset_id" {
			continue // reported above
		}
		errs = append(errs, fe)
	}
	if p.existing != nil && p.existing.HasSecret && p.secret == "" && a.SecretType != p.existing.SecretType {
		errs = append(errs, invalid("secret", "a new secret is required when secret_type changes"))
	}
	if len(errs) > 0 {
		slices.SortStableFunc(errs, func(x, y *FieldError) int {
			return slices.Index(accountColumns, accountField(x.Field)) - slices.Index(accountColumns, accountField(y.Field))
		})
		return nil, errs
	}
	return p, nil
}

func accountField(f string) string {
	if c, ok := accountFieldColumn[f]; ok {
		return c
	}
	return f
}

func (im *accountImporter) row(p *accountPlan) csvRow { return p.row }

// apply writes prepared rows in tx: new accounts are inserted in batches,
// changed ones updated, and given secrets sealed under the account's ID.
func (im *accountImporter) apply(tx *gorm.DB, plans []*accountPlan) (func(*ImportResult), func(), error) {
	type result struct {
		a   store.Account
		out outcome
	}
	results := make([]result, len(plans))
	var (
		fresh    []store.Account
		freshIdx []int
	)
	for i, p := range plans {
		d := &results[i]
		d.a = p.account
		if p.existing == nil {
			d.out = outCreated
			d.a.SecretEnc, d.a.HasSecret = nil, false
			fresh, freshIdx = append(fresh, d.a), append(freshIdx, i)
			continue
		}
		d.out = outUnchanged
		if !sameAccount(p.existing, &d.a) {
			d.out = outUpdated
			err := tx.Model(&store.Account{ID: d.a.ID}).Updates(map[string]any{
				"username": d.a.Username, "secret_type": d.a.SecretType, "privileged": d.a.Privileged,
				"is_active": d.a.IsActive, "comment": d.a.Comment,
			}).Error
			if err != nil {
				return nil, nil, fmt.Errorf("asset: update account %q: %w", d.a.Name, store.Translate(err))
			}
		}
	}
	if len(fresh) > 0 {
		if err := tx.CreateInBatches(&fresh, importChunk).Error; err != nil {
			return nil, nil, fmt.Errorf("asset: create %s: %w", accountNames(fresh), store.Translate(err))
		}
		for j, i := range freshIdx {
			results[i].a.ID = fresh[j].ID
		}
	}
	for i, p := range plans {
		if p.secret == "" {
			continue
		}
		d := &results[i]
		if d.out == outUnchanged {
			d.out = outUpdated
		}
		if err := SealAccountSecret(im.v, &d.a, p.secret); err != nil {
			return nil, nil, err
		}
		err := tx.Model(&store.Account{ID: d.a.ID}).Updates(map[string]any{"secret_enc": d.a.SecretEnc, "has_secret": d.a.HasSecret}).Error
		if err != nil {
			return nil, nil, fmt.Errorf("asset: store the secret of account %q: %w", d.a.Name, store.Translate(err))
		}
	}
	commit := func(res *ImportResult) {
		for i := range results {
			d := &results[i]
			im.accounts[accountKey{d.a.AssetID, d.a.Name}] = &d.a
			res.count(d.out)
		}
	}
	return commit, nil, nil
}

func accountNames(as []store.Account) string {
	if len(as) == 1 {
		return fmt.Sprintf("%q", as[0].Name)
	}
	return fmt.Sprintf("%d accounts", len(as))
}

func sameAccount(x, y *store.Account) bool {
	return x.Username == y.Username && x.SecretType == y.SecretType && x.Privileged == y.Privileged &&
		x.IsActive == y.IsActive && x.Comment == y.Comment
}
