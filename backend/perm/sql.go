package perm

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"strings"

	"gorm.io/gorm"
)

// Join order. SQLite plans without statistics unless someone runs ANALYZE,
// and then takes an equality on org_id for selective: it would walk a whole
// organization's rows through the org_id indexes instead of the few rows at
// hand. So the queries of this package say which way to go, in terms that
// PostgreSQL accepts and plans as it likes: CROSS JOIN, which SQLite never
// reorders, and a unary + on org_id, which keeps SQLite from using an index
// on it.

// dialect writes the few SQL fragments that differ between SQLite and
// PostgreSQL.
type dialect struct{ postgres bool }

func dialectOf(db *gorm.DB) dialect {
	return dialect{postgres: db.Dialector.Name() == "postgres"}
}

// agg aggregates an integer expression into one comma-separated text, the
// cheapest way to carry a large ID set out of the database (a row per ID
// costs more than the query itself). The order of the elements is unspecified.
func (d dialect) agg(expr string) string {
	if d.postgres {
		return "string_agg(CAST(" + expr + " AS text), ',')"
	}
	return "group_concat(" + expr + ")"
}

// key is the materialized-path column of a nodes alias, compared bytewise so
// that the range [k||':', k||';') is exactly the strict subtree of k whatever
// the database collation (PostgreSQL: needs the index EnsureIndexes makes).
func (d dialect) key(alias string) string {
	if d.postgres {
		return `(` + alias + `."key" COLLATE "C")`
	}
	return alias + `."key"`
}

// subtreeJoin joins nodes c to the strict descendants of nodes g.
func (d dialect) subtreeJoin() string {
	return d.key("c") + ` >= (g."key" || ':') AND ` + d.key("c") + ` < (g."key" || ';')`
}

// idTable is a FROM item "j" with one column "value" holding ids, passed as a
// single parameter (SQLite binds parameters in quadratic time).
func (d dialect) idTable(ids []uint) (string, any) {
	if d.postgres {
		return "unnest(CAST(? AS bigint[])) AS j(value)", "{" + idList(ids) + "}"
	}
	return "json_each(?) AS j", "[" + idList(ids) + "]"
}

// ilike is a case-insensitive LIKE of col against one parameter escaped by
// likePattern (SQLite's LIKE folds ASCII case; PostgreSQL's ILIKE folds all).
func (d dialect) ilike(col string) string {
	if d.postgres {
		return col + ` ILIKE ? ESCAPE '\'`
	}
	return col + ` LIKE ? ESCAPE '\'`
}

// instr is a case-sensitive substring test of col against one parameter.
func (d dialect) instr(col string) string {
	if d.postgres {
		return "strpos(" + col + ", ?) > 0"
	}
	return "instr(" + col + ", ?) > 0"
}

// likePattern returns the LIKE pattern matching s anywhere, with the
// wildcards and the escape character of s escaped.
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// protocolNeedle is the text that the JSON of store.Protocols contains exactly
// when it holds a protocol of this name: store.Protocols always marshals as
// [{"name":"ssh","port":22}], and the quoted, escaped name cannot occur in a
// port.
func protocolNeedle(name string) string {
	b, _ := json.Marshal(name)
	return `"name":` + string(b)
}

// idList formats ids for an IN (...) list. Integers only, so it is safe to
// inline and spares SQLite's quadratic parameter binding.
func idList(ids []uint) string {
	var sb strings.Builder
	sb.Grow(len(ids) * 7)
	for i, id := range ids {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteString(strconv.FormatUint(uint64(id), 10))
	}
	return sb.String()
}

// scanFunc scans the current row into dest, like sql.Rows.Scan.
type scanFunc func(dest ...any) error

// eachRow runs a query and calls row for each row of its answer. Errors are
// wrapped with what was being done.
func (r *Resolver) eachRow(ctx context.Context, what string, row func(scanFunc) error, query string, args ...any) error {
	rows, err := r.db.WithContext(ctx).Raw(query, args...).Rows()
	if err != nil {
		return fmt.Errorf("perm: %s: %w", what, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := row(rows.Scan); err != nil {
			return fmt.Errorf("perm: %s: %w", what, err)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("perm: %s: %w", what, err)
	}
	return nil
}

// aggIDs runs a query answering one row of one aggregated text (see
// dialect.agg) and parses it. Duplicates are kept.
func (r *Resolver) aggIDs(ctx context.Context, query string, args ...any) ([]uint, error) {
	var s sql.NullString
	if err := r.db.WithContext(ctx).Raw(query, args...).Row().Scan(&s); err != nil {
		return nil, err
	}
	return parseIDs(s.String)
}

// parseIDs parses a comma-separated list of unsigned integers.
func parseIDs(s string) ([]uint, error) {
	if s == "" {
		return nil, nil
	}
	out := make([]uint, 0, strings.Count(s, ",")+1)
	var n uint
	digits := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if digits == 0 {
				return nil, fmt.Errorf("perm: bad id list at byte %d", i)
			}
			out = append(out, n)
			n, digits = 0, 0
			continue
		}
		c := s[i]
		if c < '0' || c > '9' || digits >= 19 {
			return nil, fmt.Errorf("perm: bad id list at byte %d", i)
		}
		n = n*10 + uint(c-'0')
		digits++
	}
	return out, nil
}

// idSet is a set of IDs: a bitmap when they are dense enough, else a map.
type idSet struct {
	words []uint64
	m     map[uint]struct{}
	n     int
}

// maxBitmapID bounds the bitmap (8 MiB); sparser sets use a map.
const maxBitmapID = 1 << 26

func newIDSet(ids []uint) *idSet {
	var top uint
	for _, id := range ids {
		top = max(top, id)
	}
	s := &idSet{}
	if top < maxBitmapID {
		s.words = make([]uint64, top/64+1)
	} else {
		s.m = make(map[uint]struct{}, len(ids))
	}
	for _, id := range ids {
		if !s.has(id) {
			s.add(id)
		}
	}
	return s
}

func (s *idSet) add(id uint) {
	s.n++
	if s.m != nil {
		s.m[id] = struct{}{}
		return
	}
	s.words[id/64] |= 1 << (id % 64)
}

func (s *idSet) has(id uint) bool {
	if s.m != nil {
		_, ok := s.m[id]
		return ok
	}
	return id/64 < uint(len(s.words)) && s.words[id/64]&(1<<(id%64)) != 0
}

// len is the number of distinct IDs.
func (s *idSet) len() int { return s.n }

// ids lists the set in increasing order (bitmap) or any order (map).
func (s *idSet) ids() []uint {
	out := make([]uint, 0, s.n)
	if s.m != nil {
		for id := range s.m {
			out = append(out, id)
		}
		return out
	}
	for w, word := range s.words {
		for word != 0 {
			b := bits.TrailingZeros64(word)
			out = append(out, uint(w)*64+uint(b))
			word &^= 1 << b
		}
	}
	return out
}

// intersect returns the members of s that are in ids.
func (s *idSet) intersect(ids []uint) *idSet {
	var both []uint
	for _, id := range ids {
		if s.has(id) {
			both = append(both, id)
		}
	}
	return newIDSet(both)
}
