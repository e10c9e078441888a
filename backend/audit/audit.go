// Package audit writes Portcullis' audit trail: the login log and the operation
// log. Both are append-only and hash-chained: each row carries the SHA-256 of its
// predecessor's hash and its own content, so Verify finds any row that was edited,
// removed or inserted after the fact.
package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/store"
)

// ErrChainBroken is returned by Verify when a row does not match its hash.
var ErrChainBroken = errors.New("audit: hash chain broken")

// Logger appends audit rows.
type Logger struct {
	db    *gorm.DB
	log   *slog.Logger
	clock func() time.Time

	mu sync.Mutex // serializes appends so each row chains onto the last one
}

// New returns a Logger writing to db.
func New(db *gorm.DB, log *slog.Logger, clock func() time.Time) *Logger {
	if clock == nil {
		clock = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Logger{db: db, log: log.With("component", "audit"), clock: clock}
}

// loginContent is what a login row's hash covers.
func loginContent(r *store.LoginLog) []byte {
	b, _ := json.Marshal([]any{r.UserID, r.OrgID, r.Username, r.SourceIP, r.UserAgent, r.Channel, r.Method, r.Success, r.Reason, r.CreatedAt.UTC().Format(time.RFC3339Nano)})
	return b
}

// operationContent is what an operation row's hash covers.
func operationContent(r *store.OperationLog) []byte {
	b, _ := json.Marshal([]any{r.OrgID, r.UserID, r.Username, r.Action, r.ResourceType, r.ResourceID, r.ResourceName, r.Before, r.After, r.RemoteAddr, r.Success, r.Detail, r.CreatedAt.UTC().Format(time.RFC3339Nano)})
	return b
}

func chain(prev string, content []byte) string {
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{0})
	h.Write(content)
	return hex.EncodeToString(h.Sum(nil))
}

// Login appends one login attempt.
func (l *Logger) Login(ctx context.Context, r store.LoginLog) error {
	r.ID = 0
	if r.CreatedAt.IsZero() {
		r.CreatedAt = l.clock().UTC()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond)
	return l.append(ctx, &r, func(tx *gorm.DB) (string, error) {
		var last store.LoginLog
		err := tx.Select("hash").Order("id DESC").Limit(1).Find(&last).Error
		return last.Hash, err
	}, func(prev string) {
		r.PrevHash = prev
		r.Hash = chain(prev, loginContent(&r))
	})
}

// Operation appends one operation (a change, a reveal, or a denial).
func (l *Logger) Operation(ctx context.Context, r store.OperationLog) error {
	r.ID = 0
	if r.CreatedAt.IsZero() {
		r.CreatedAt = l.clock().UTC()
	}
	r.CreatedAt = r.CreatedAt.UTC().Truncate(time.Microsecond)
	return l.append(ctx, &r, func(tx *gorm.DB) (string, error) {
		var last store.OperationLog
		err := tx.Select("hash").Order("id DESC").Limit(1).Find(&last).Error
		return last.Hash, err
	}, func(prev string) {
		r.PrevHash = prev
		r.Hash = chain(prev, operationContent(&r))
	})
}

func (l *Logger) append(ctx context.Context, row any, last func(*gorm.DB) (string, error), seal func(prev string)) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if tx.Dialector.Name() == "postgres" {
			// Several portcullisd nodes may share the database: chain under a lock.
			if err := tx.Exec("SELECT pg_advisory_xact_lock(727274)").Error; err != nil {
				return err
			}
		}
		prev, err := last(tx)
		if err != nil {
			return err
		}
		seal(prev)
		return tx.Create(row).Error
	})
	if err != nil {
		l.log.ErrorContext(ctx, "audit append failed", "err", err)
		return fmt.Errorf("audit: append: %w", err)
	}
	return nil
}

// VerifyResult is the outcome of Verify.
type VerifyResult struct {
	LoginRows     int  `json:"login_rows"`
	OperationRows int  `json:"operation_rows"`
	BrokenLoginID uint `json:"broken_login_id,omitempty"`
	BrokenOpID    uint `json:"broken_operation_id,omitempty"`
	OK            bool `json:"ok"`
}

// Verify walks both chains and reports the first row that does not match.
func (l *Logger) Verify(ctx context.Context) (VerifyResult, error) {
	var res VerifyResult
	db := l.db.WithContext(ctx)
	prev := ""
	var logins []store.LoginLog
	err := db.Order("id").FindInBatches(&logins, 1000, func(tx *gorm.DB, _ int) error {
		for i := range logins {
			r := &logins[i]
			res.LoginRows++
			if r.PrevHash != prev || r.Hash != chain(prev, loginContent(r)) {
				if res.BrokenLoginID == 0 {
					res.BrokenLoginID = r.ID
				}
			}
			prev = r.Hash
		}
		return nil
	}).Error
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	prev = ""
	var ops []store.OperationLog
	err = db.Order("id").FindInBatches(&ops, 1000, func(tx *gorm.DB, _ int) error {
		for i := range ops {
			r := &ops[i]
			res.OperationRows++
			if r.PrevHash != prev || r.Hash != chain(prev, operationContent(r)) {
				if res.BrokenOpID == 0 {
					res.BrokenOpID = r.ID
				}
			}
			prev = r.Hash
		}
		return nil
	}).Error
	if err != nil {
		return res, fmt.Errorf("audit: verify: %w", err)
	}
	res.OK = res.BrokenLoginID == 0 && res.BrokenOpID == 0
	if !res.OK {
		return res, ErrChainBroken
	}
	return res, nil
}
