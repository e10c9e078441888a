package record

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// IndexCache keeps the parsed indexes of the recordings being replayed: a player
// asks for the index once and then for a keyframe at each seek, and the index of a
// long recording is megabytes of JSON that take tens of milliseconds to parse. An
// entry is used only while the recording and its index file keep the size and
// modification time they had when it was read. It holds at most max indexes and
// maxKeyframes bytes of (encoded) keyframes (the least recently used go first). The indexes
// it answers are shared: callers must not change them.
type IndexCache struct {
	max          int
	maxKeyframes int64

	mu      sync.Mutex
	entries []*cachedIndex // least recently used first
	bytes   int64
}

type cachedIndex struct {
	path     string // the recording's
	rec, idx fileStamp
	index    *CachedIndex
	bytes    int64 // of encoded keyframes
}

type fileStamp struct {
	size int64
	mod  time.Time
}

// NewIndexCache returns a cache of at most max indexes and maxKeyframes bytes of
// keyframes.
func NewIndexCache(max int, maxKeyframes int64) *IndexCache {
	return &IndexCache{max: max, maxKeyframes: maxKeyframes}
}

// Get returns the index of the recording at path (the recording's path or its
// index's), read and checked as ReadIndex does, from the cache when nothing
// changed on disk.
func (c *IndexCache) Get(path string) (*CachedIndex, error) {
	path = strings.TrimSuffix(path, ".idx")
	rec, err := stamp(path)
	if err != nil {
		return nil, err
	}
	ist, err := stamp(indexPath(path))
	if err != nil {
		return nil, fmt.Errorf("record: read index: %w", err)
	}
	c.mu.Lock()
	for i, e := range c.entries {
		if e.path != path {
			continue
		}
		if e.rec == rec && e.idx == ist {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			c.mu.Unlock()
			return e.index, nil
		}
		c.remove(i)
		break
	}
	c.mu.Unlock()

	idx, err := readCachedIndex(path)
	if err != nil {
		return nil, err
	}
	// The keyframes are most of the file: count it whole.
	e := &cachedIndex{path: path, rec: rec, idx: ist, index: idx, bytes: ist.size}
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, old := range c.entries {
		if old.path == path { // read meanwhile by another caller
			c.remove(i)
			break
		}
	}
	c.entries = append(c.entries, e)
	c.bytes += e.bytes
	for len(c.entries) > 1 && (len(c.entries) > c.max || c.bytes > c.maxKeyframes) {
		c.remove(0)
	}
	return idx, nil
}

func (c *IndexCache) remove(i int) {
	c.bytes -= c.entries[i].bytes
	c.entries = append(c.entries[:i], c.entries[i+1:]...)
}

func stamp(path string) (fileStamp, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: st.Size(), mod: st.ModTime()}, nil
}

// CachedIndex is an index read for replay: Index without its keyframes (what a
// player loads first: the keyframes are most of a long recording's index), and
// the keyframes, decoded in the background and answered one at a time as the
// player seeks. Reading the index of a 1-hour recording this way takes a few
// milliseconds instead of about a hundred.
type CachedIndex struct {
	Index *Index

	once      sync.Once
	kf        *indexKeyframes
	keyframes []json.RawMessage
	err       error
}

// Keyframe returns the keyframe of segment i ("" for a segment without one).
func (c *CachedIndex) Keyframe(i int) (string, error) {
	if i < 0 || i >= len(c.Index.Segments) {
		return "", fmt.Errorf("%w: no segment %d", ErrIndex, i)
	}
	c.load()
	if c.err != nil {
		return "", c.err
	}
	if c.keyframes == nil {
		return "", nil
	}
	return decodeKeyframe(c.keyframes[i], i)
}

// load decodes the keyframes (once).
func (c *CachedIndex) load() {
	c.once.Do(func() {
		c.err = c.kf.decode(&c.keyframes)
		c.kf = nil
	})
}

// keyframeDelay is how long after reading an index its keyframes start decoding
// in the background: the first frame of a replay, which needs none, goes first
// (decoding a long recording's keyframes takes a core for ~100 ms). A seek before
// then decodes them at once.
const keyframeDelay = 250 * time.Millisecond

// readCachedIndex reads an index as ReadIndex does, and decodes its keyframes in
// the background shortly after.
func readCachedIndex(path string) (*CachedIndex, error) {
	idx, kf, err := readIndexFile(path)
	if err != nil {
		return nil, err
	}
	c := &CachedIndex{Index: idx, kf: kf}
	time.AfterFunc(keyframeDelay, c.load)
	return c, nil
}
