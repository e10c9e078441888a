package storage

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RetentionCandidate is a recording that retention may delete.
type RetentionCandidate struct {
	Key       string    // the recording's key ("2026/11/28/<session>.cast.gz")
	SessionID string    // for the audit trail
	EndedAt   time.Time // when the session ended; zero (still running) is never deleted
	LegalHold bool      // never deleted while set
}

// IndexSuffix names the seek index kept beside a recording ("<key>.idx");
// Sweep deletes it with the recording.
const IndexSuffix = ".idx"

// sweepGiveUp is after how many failed deletions in a row Sweep stops asking
// a backend, e.g. an object store that is down, for the rest of the sweep.
const sweepGiveUp = 3

// Sweep deletes, from every backend, the recordings (and their IndexSuffix
// files) of the candidates whose EndedAt is more than days*24h before now
// and that are not on legal hold. audit is called once per deleted
// candidate, before Sweep returns, with nil or with what failed: a backend
// that fails does not stop the others (after sweepGiveUp failures in a row
// it is skipped, and the remaining candidates are audited with its last
// error). Sweep returns the keys deleted from every backend, and an error
// joining the failures (or ctx's error if it stopped early). days <= 0 keeps
// everything.
func Sweep(ctx context.Context, now time.Time, days int, candidates []RetentionCandidate, backends []Backend, audit func(c RetentionCandidate, err error)) ([]string, error) {
	if days <= 0 {
		return nil, nil
	}
	if audit == nil {
		audit = func(RetentionCandidate, error) {}
	}
	cutoff := now.Add(-time.Duration(days) * 24 * time.Hour)
	var deleted []string
	var errs []error
	fails := make([]int, len(backends))
	lastErr := make([]error, len(backends))
	for _, c := range candidates {
		if c.LegalHold || c.EndedAt.IsZero() || !c.EndedAt.Before(cutoff) {
			continue
		}
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := ValidateKey(c.Key); err != nil {
			err = fmt.Errorf("storage: retention of session %s: %w", c.SessionID, err)
			audit(c, err)
			errs = append(errs, err)
			continue
		}
		var failed []error
		for i, b := range backends {
			if fails[i] >= sweepGiveUp {
				failed = append(failed, fmt.Errorf("storage: retention: delete %s from %s: skipped after %d failures: %w", c.Key, b.Name(), fails[i], lastErr[i]))
				continue
			}
			for _, key := range []string{c.Key, c.Key + IndexSuffix} {
				if err := b.Delete(ctx, key); err != nil {
					fails[i]++
					lastErr[i] = err
					failed = append(failed, fmt.Errorf("storage: retention: delete %s from %s: %w", key, b.Name(), err))
					break
				}
				fails[i] = 0
			}
		}
		err := errors.Join(failed...)
		audit(c, err)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		deleted = append(deleted, c.Key)
	}
	return deleted, errors.Join(errs...)
}
