package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// opt is a field of a create/PATCH body: Set tells whether the client sent it,
// Null whether it sent null. Absent fields are left unchanged by PATCH.
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

// UnmarshalJSON implements json.Unmarshaler.
func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if string(b) == "null" {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}

// optElem gives the OpenAPI generator the element type.
func (o opt[T]) optElem() any { var v T; return v }

// Get returns the value, or def when the field was absent or null.
func (o opt[T]) Get(def T) T {
	if !o.Set || o.Null {
		return def
	}
	return o.V
}

// page is the envelope of every list.
type page[T any] struct {
	Items    []T   `json:"items"`
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"page_size"`
}

// listSpec says how a list searches and sorts.
type listSpec struct {
	search []string          // columns searched by ?search=
	sort   map[string]string // API field -> column
	def    string            // default sort, e.g. "name" or "-id"
}

type pageParams struct{ page, size int }

// pageOf parses ?page and ?page_size.
func pageOf(r *http.Request) (pageParams, error) {
	vals := r.URL.Query()
	pp := pageParams{page: 1, size: 20}
	if v := vals.Get("page"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1_000_000 {
			return pp, errValidation("page", "must be a positive integer")
		}
		pp.page = n
	}
	if v := vals.Get("page_size"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 500 {
			return pp, errValidation("page_size", "must be between 1 and 500")
		}
		pp.size = n
	}
	return pp, nil
}

// paginate applies search, sort and pagination to q, counting the total first.
func paginate(r *http.Request, q *gorm.DB, spec listSpec) (*gorm.DB, int64, pageParams, error) {
	vals := r.URL.Query()
	pp, err := pageOf(r)
	if err != nil {
		return nil, 0, pp, err
	}
	if s := strings.TrimSpace(vals.Get("search")); s != "" {
		if len(s) > 256 {
			return nil, 0, pp, errValidation("search", "must be at most 256 characters")
		}
		like := "%" + escapeLike(strings.ToLower(s)) + "%"
		var conds []string
		var args []any
		for _, c := range spec.search {
			conds = append(conds, "LOWER("+c+") LIKE ? ESCAPE '\\'")
			args = append(args, like)
		}
		if len(conds) > 0 {
			q = q.Where("("+strings.Join(conds, " OR ")+")", args...)
		}
	}
	var total int64
	if err := q.Session(&gorm.Session{}).Count(&total).Error; err != nil {
		return nil, 0, pp, err
	}
	sortKey := vals.Get("sort")
	if sortKey == "" {
		sortKey = spec.def
	}
	desc := strings.HasPrefix(sortKey, "-")
	col, ok := spec.sort[strings.TrimPrefix(sortKey, "-")]
	if !ok {
		return nil, 0, pp, errValidation("sort", "cannot sort by %q", sortKey)
	}
	dir := " ASC"
	if desc {
		dir = " DESC"
	}
	q = q.Order(col + dir)
	if col != "id" {
		q = q.Order("id" + dir)
	}
	q = q.Offset((pp.page - 1) * pp.size).Limit(pp.size)
	return q, total, pp, nil
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// sortCols builds a sort map where API names equal column names.
func sortCols(names ...string) map[string]string {
	m := map[string]string{"id": "id", "created_at": "created_at", "updated_at": "updated_at"}
	for _, n := range names {
		m[n] = n
	}
	return m
}

// resource describes a CRUD resource scoped to the request's organization.
type resource[M any, In any] struct {
	name    string // singular noun for logs and errors: "asset"
	path    string // "/assets"
	tag     string // OpenAPI tag
	read    access
	write   access
	spec    listSpec
	global  bool // not scoped by org (e.g. organizations, login ACLs)
	noGet   bool // no GET /{id} route (ids that are not integers)
	filter  func(r *http.Request, q *gorm.DB, rc *reqCtx) (*gorm.DB, error)
	preload []string
	view    func(ctx context.Context, db *gorm.DB, items []M) (any, error) // optional list view
	create  func(ctx context.Context, tx *gorm.DB, rc *reqCtx, in *In) (*M, error)
	update  func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *M, in *In) error
	remove  func(ctx context.Context, tx *gorm.DB, rc *reqCtx, m *M) error
	idOf    func(*M) uint
	nameOf  func(*M) string
}

func (res *resource[M, In]) scoped(ctx context.Context, db *gorm.DB, rc *reqCtx) *gorm.DB {
	q := db.WithContext(ctx).Model(new(M))
	if !res.global {
		q = q.Where("org_id = ?", rc.orgID)
	}
	return q
}

func (res *resource[M, In]) load(ctx context.Context, db *gorm.DB, rc *reqCtx, id uint) (*M, error) {
	m := new(M)
	q := res.scoped(ctx, db, rc)
	for _, p := range res.preload {
		q = q.Preload(p)
	}
	if err := q.Where("id = ?", id).Take(m).Error; err != nil {
		if err == gorm.ErrRecordNotFound {
			return nil, errNotFound(res.name)
		}
		return nil, store.Translate(err)
	}
	return m, nil
}

// registerResource adds list, get, create, update and delete routes.
func registerResource[M any, In any](a *API, res resource[M, In]) {
	var example M
	var in In
	a.add(&route{method: "GET", path: res.path, tag: res.tag, summary: "List " + res.name + "s", access: res.read, resp: example, list: true,
		h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
			q := res.scoped(r.Context(), a.db, rc)
			if res.filter != nil {
				var err error
				if q, err = res.filter(r, q, rc); err != nil {
					return err
				}
			}
			q, total, pp, err := paginate(r, q, res.spec)
			if err != nil {
				return err
			}
			for _, p := range res.preload {
				q = q.Preload(p)
			}
			items := []M{}
			if err := q.Find(&items).Error; err != nil {
				return err
			}
			if res.view != nil {
				v, err := res.view(r.Context(), a.db, items)
				if err != nil {
					return err
				}
				writeJSON(w, 200, map[string]any{"items": v, "total": total, "page": pp.page, "page_size": pp.size})
				return nil
			}
			writeJSON(w, 200, page[M]{Items: items, Total: total, Page: pp.page, PageSize: pp.size})
			return nil
		}})
	if !res.noGet {
		a.add(&route{method: "GET", path: res.path + "/{id}", tag: res.tag, summary: "Get one " + res.name, access: res.read, resp: example,
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				id, err := pathID(r)
				if err != nil {
					return err
				}
				m, err := res.load(r.Context(), a.db, rc, id)
				if err != nil {
					return err
				}
				writeJSON(w, 200, m)
				return nil
			}})
	}
	if res.create != nil {
		a.add(&route{method: "POST", path: res.path, tag: res.tag, summary: "Create a " + res.name, access: res.write, req: in, resp: example,
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				body := new(In)
				if err := decodeJSON(r, body); err != nil {
					return err
				}
				var m *M
				err := a.db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
					var err error
					m, err = res.create(r.Context(), tx, rc, body)
					return err
				})
				if err != nil {
					a.oplog(r.Context(), rc, res.name+".create", res.name, "", "", nil, body, false, errDetail(err))
					return store.Translate(err)
				}
				m, err = res.load(r.Context(), a.db, rc, res.idOf(m))
				if err != nil {
					return err
				}
				a.oplog(r.Context(), rc, res.name+".create", res.name, idString(res.idOf(m)), res.nameOf(m), nil, m, true, "")
				writeJSON(w, http.StatusCreated, m)
				return nil
			}})
	}
	if res.update != nil {
		a.add(&route{method: "PATCH", path: res.path + "/{id}", tag: res.tag, summary: "Update a " + res.name, access: res.write, req: in, resp: example,
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				id, err := pathID(r)
				if err != nil {
					return err
				}
				body := new(In)
				if err := decodeJSON(r, body); err != nil {
					return err
				}
				before, err := res.load(r.Context(), a.db, rc, id)
				if err != nil {
					return err
				}
				beforeJSON := toJSON(before)
				err = a.db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
					m, err := res.load(r.Context(), tx, rc, id)
					if err != nil {
						return err
					}
					return res.update(r.Context(), tx, rc, m, body)
				})
				if err != nil {
					a.oplog(r.Context(), rc, res.name+".update", res.name, idString(id), res.nameOf(before), json.RawMessage(beforeJSON), body, false, errDetail(err))
					return store.Translate(err)
				}
				after, err := res.load(r.Context(), a.db, rc, id)
				if err != nil {
					return err
				}
				a.oplog(r.Context(), rc, res.name+".update", res.name, idString(id), res.nameOf(after), json.RawMessage(beforeJSON), after, true, "")
				writeJSON(w, 200, after)
				return nil
			}})
	}
	if res.remove != nil {
		a.add(&route{method: "DELETE", path: res.path + "/{id}", tag: res.tag, summary: "Delete a " + res.name, access: res.write,
			h: func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
				id, err := pathID(r)
				if err != nil {
					return err
				}
				m, err := res.load(r.Context(), a.db, rc, id)
				if err != nil {
					return err
				}
				err = a.db.WithContext(r.Context()).Transaction(func(tx *gorm.DB) error {
					return res.remove(r.Context(), tx, rc, m)
				})
				if err != nil {
					a.oplog(r.Context(), rc, res.name+".delete", res.name, idString(id), res.nameOf(m), m, nil, false, errDetail(err))
					return store.Translate(err)
				}
				a.oplog(r.Context(), rc, res.name+".delete", res.name, idString(id), res.nameOf(m), m, nil, true, "")
				w.WriteHeader(http.StatusNoContent)
				return nil
			}})
	}
}

func errDetail(err error) string {
	if ae, internal := toAPIError(err); !internal {
		return ae.Message
	}
	return "internal error"
}

// requireSet reports a missing required field of a create body.
func requireSet(field string, set bool) error {
	if !set {
		return errValidation(field, "is required")
	}
	return nil
}

// idsIn checks that every id names a row of model in the org and returns them.
func idsIn[M any](ctx context.Context, tx *gorm.DB, orgID uint, field string, ids []uint) ([]M, error) {
	if len(ids) > 10000 {
		return nil, errValidation(field, "at most 10000 ids")
	}
	seen := map[uint]bool{}
	uniq := make([]uint, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	rows := []M{}
	if len(uniq) == 0 {
		return rows, nil
	}
	if err := tx.WithContext(ctx).Where("org_id = ? AND id IN ?", orgID, uniq).Find(&rows).Error; err != nil {
		return nil, err
	}
	if len(rows) != len(uniq) {
		return nil, errValidation(field, "names an id that does not exist in this organization")
	}
	return rows, nil
}
