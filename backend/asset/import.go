package asset

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// ImportOptions tunes an import.
type ImportOptions struct {
	// DryRun runs the whole import, reporting what it would do, then rolls
	// it back: nothing is written.
	DryRun bool
}

// ImportResult says what an import did. Errors are sorted by row; a row may
// have several (one per bad field). Rows are numbered from 1 (the first
// record after the header; the header is row 0).
type ImportResult struct {
	Created   int        `json:"created"`
	Updated   int        `json:"updated"`
	Unchanged int        `json:"unchanged"`
	Errors    []RowError `json:"errors"`
	// ErrorsOmitted counts the errors past the first MaxReportedErrors,
	// which are not listed.
	ErrorsOmitted int `json:"errors_omitted,omitempty"`
}

// MaxReportedErrors bounds ImportResult.Errors.
const MaxReportedErrors = 1000

func (r *ImportResult) addError(e RowError) {
	if len(r.Errors) >= MaxReportedErrors {
		r.ErrorsOmitted++
		return
	}
	r.Errors = append(r.Errors, e)
}

// RowError is a failure of one data row; the row wrote nothing.
type RowError struct {
	Row     int    `json:"row"`     // data row, 1-based; the header is row 0
	Line    int    `json:"line"`    // line of the file where the row starts, 1-based
	Field   string `json:"field"`   // column name, or "" for the row as a whole
	Message string `json:"message"` // without the field name
}

// Error returns "row N: field: message".
func (e RowError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("row %d: %s", e.Row, e.Message)
	}
	return fmt.Sprintf("row %d: %s: %s", e.Row, e.Field, e.Message)
}

type outcome int

const (
	outCreated outcome = iota
	outUpdated
	outUnchanged
)

func (r *ImportResult) count(o outcome) {
	switch o {
	case outCreated:
		r.Created++
	case outUpdated:
		r.Updated++
	default:
		r.Unchanged++
	}
}

// importChunk is how many prepared rows are written together, in one
// savepoint with batched inserts. A chunk that fails is rolled back and
// written again row by row, so that only the failing rows are lost.
const importChunk = 200

// rowImporter is one kind of import (assets, accounts) for runImport.
type rowImporter[P any] interface {
	// prepare validates a row completely without writing; it returns the
	// plan of the row or every bad field.
	prepare(row csvRow) (P, []*FieldError)
	// apply writes the plans in tx. On success, commit records the rows in
	// the importer's state and in res; it runs only once tx keeps the
	// writes. On failure, undo forgets what the importer learned from the
	// writes that were rolled back (undo may be nil).
	apply(tx *gorm.DB, plans []P) (commit func(res *ImportResult), undo func(), err error)
	row(P) csvRow
}

// runImport reads a file and runs imp (made by newImp inside the import's
// transaction, once the organization is locked) on each of its rows.
func runImport[P any](ctx context.Context, db *gorm.DB, orgID uint, r io.Reader, opts ImportOptions,
	known, required []string, fieldMap map[string]string,
	newImp func(tx *gorm.DB, t *csvTable) (rowImporter[P], error)) (*ImportResult, error) {
	t, err := readCSV(r, known, required)
	if err != nil {
		return nil, err
	}
	var res *ImportResult
	err = db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res = &ImportResult{Errors: []RowError{}}
		if err := lockOrg(tx, orgID); err != nil {
			return err
		}
		imp, err := newImp(tx, t)
		if err != nil {
			return err
		}
		w := &chunkWriter[P]{tx: tx, imp: imp, res: res, fieldMap: fieldMap}
		for _, row := range t.rows {
			if err := ctx.Err(); err != nil {
				return err
			}
			if row.blank() {
				continue
			}
			if rerr := t.check(row); rerr != nil {
				res.addError(*rerr)
				continue
			}
			plan, errs := imp.prepare(row)
			if len(errs) > 0 {
				for _, fe := range errs {
					re, _ := rowFailure(row, fe, fieldMap)
					res.addError(*re)
				}
				continue
			}
			if w.pending = append(w.pending, plan); len(w.pending) >= importChunk {
				if err := w.flush(); err != nil {
					return err
				}
			}
		}
		if err := w.flush(); err != nil {
			return err
		}
		slices.SortStableFunc(res.Errors, func(a, b RowError) int { return a.Row - b.Row })
		if opts.DryRun {
			return errDryRun
		}
		return nil
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return nil, err
	}
	return res, nil
}

type chunkWriter[P any] struct {
	tx       *gorm.DB
	imp      rowImporter[P]
	res      *ImportResult
	fieldMap map[string]string
	pending  []P
}

func (w *chunkWriter[P]) flush() error {
	plans := w.pending
	w.pending = nil
	return w.write(plans)
}

// write applies plans in one savepoint; if that fails, it retries them one
// by one, and a single failing row becomes a RowError (or aborts the import
// when the failure is not the row's fault).
func (w *chunkWriter[P]) write(plans []P) error {
	if len(plans) == 0 {
		return nil
	}
	var (
		commit func(*ImportResult)
		undo   func()
	)
	rowErr, fatal := inSavepoint(w.tx, func() (err error) {
		commit, undo, err = w.imp.apply(w.tx, plans)
		return err
	})
	if fatal != nil {
		return fatal
	}
	if rowErr == nil {
		commit(w.res)
		return nil
	}
	if undo != nil {
		undo()
	}
	if len(plans) > 1 {
		for _, p := range plans {
			if err := w.write([]P{p}); err != nil {
				return err
			}
		}
		return nil
	}
	re, fatal := rowFailure(w.imp.row(plans[0]), rowErr, w.fieldMap)
	if fatal != nil {
		return fatal
	}
	w.res.addError(*re)
	return nil
}

// errDryRun rolls back the transaction of a dry run.
var errDryRun = errors.New("asset: dry run")

// rowFailure turns the error of one row into a RowError when it is the row's
// fault (validation, a duplicate or missing reference), or returns it as
// fatal when it is not (the database is gone, the context is cancelled).
func rowFailure(row csvRow, err error, fieldMap map[string]string) (*RowError, error) {
	var fe *FieldError
	if errors.As(err, &fe) {
		f := fe.Field
		if m, ok := fieldMap[f]; ok {
			f = m
		}
		return &RowError{Row: row.num, Line: row.line, Field: f, Message: fe.Message}, nil
	}
	if errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return &RowError{Row: row.num, Line: row.line, Message: err.Error()}, nil
	}
	return nil, err
}

// inSavepoint runs f inside a savepoint of tx, rolling back to it when f
// fails, so that a failed row leaves nothing behind. Savepoints are released
// so that a long import does not pile them up (PostgreSQL slows down past 64
// open subtransactions).
func inSavepoint(tx *gorm.DB, f func() error) (rowErr, fatal error) {
	const sp = "portcullis_row"
	if err := tx.Exec("SAVEPOINT " + sp).Error; err != nil {
		return nil, fmt.Errorf("asset: savepoint: %w", err)
	}
	if err := f(); err != nil {
		if rerr := tx.Exec("ROLLBACK TO SAVEPOINT " + sp).Error; rerr != nil {
			return nil, fmt.Errorf("asset: rollback to savepoint: %w (after %v)", rerr, err)
		}
		if rerr := tx.Exec("RELEASE SAVEPOINT " + sp).Error; rerr != nil {
			return nil, fmt.Errorf("asset: release savepoint: %w", rerr)
		}
		return err, nil
	}
	if err := tx.Exec("RELEASE SAVEPOINT " + sp).Error; err != nil {
		return nil, fmt.Errorf("asset: release savepoint: %w", err)
	}
	return nil, nil
}
