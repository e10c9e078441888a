package storage

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// The upload queue is a directory with one small JSON file per pending key,
// named after the key's SHA-256 so that enqueueing a key twice finds the same
// file:
//
//	<queue dir>/3f2a….job   {"v":1,"key":"2026/11/28/s1.cast.gz","enqueued":"2026-11-28T10:00:00Z"}
//
// A file is written to a temporary name, fsynced, renamed into place and the
// directory fsynced, so after a crash a key is either fully queued or not at
// all. A file that cannot be read back is renamed to <name>.corrupt.

const (
	queueExt     = ".job"
	corruptExt   = ".corrupt"
	queueTmpPref = ".tmp-"
	queueVersion = 1
	maxQueueFile = 4 << 10
)

// errCorruptQueueFile is returned by decodeQueueFile for a file that is not a
// queue entry this version wrote.
var errCorruptQueueFile = errors.New("storage: corrupt upload queue file")

// queueRecord is the content of a queue file.
type queueRecord struct {
	V        int       `json:"v"`
	Key      string    `json:"key"`
	Enqueued time.Time `json:"enqueued"`
}

// queueName is the file name of key's queue entry.
func queueName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:]) + queueExt
}

// encodeQueueFile returns the content of key's queue file.
func encodeQueueFile(key string, enqueued time.Time) []byte {
	b, _ := json.Marshal(queueRecord{V: queueVersion, Key: key, Enqueued: enqueued.UTC()})
	return append(b, '\n')
}

// decodeQueueFile parses the queue file called name.
func decodeQueueFile(name string, data []byte) (queueRecord, error) {
	var r queueRecord
	if len(data) > maxQueueFile {
		return r, fmt.Errorf("%w %s: %d bytes", errCorruptQueueFile, name, len(data))
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return r, fmt.Errorf("%w %s: %v", errCorruptQueueFile, name, err)
	}
	if r.V != queueVersion {
		return r, fmt.Errorf("%w %s: version %d", errCorruptQueueFile, name, r.V)
	}
	if err := ValidateKey(r.Key); err != nil {
		return r, fmt.Errorf("%w %s: %v", errCorruptQueueFile, name, err)
	}
	if queueName(r.Key) != name {
		return r, fmt.Errorf("%w %s: holds key %q of another file", errCorruptQueueFile, name, r.Key)
	}
	return r, nil
}

// writeFileAtomic writes data to dir/name so that after a crash the file is
// either absent or complete.
func writeFileAtomic(dir, name string, data []byte) (err error) {
	f, err := os.CreateTemp(dir, queueTmpPref+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

// syncDir makes the entries of dir (a rename, a removal) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
