// Command castgen puts a generated terminal recording into a Portcullis data dir,
// as an ended session that the web UI lists and replays: the player benchmark of
// `make bench` (frontend/e2e/bench/replay.mjs) measures seeking and the first
// frame on it.
//
//	castgen -data-dir DIR [-duration 1h] [-size 104857600] [-seed 1] [-user NAME]
//
// The data dir must have been initialised by `portcullisd serve` (its database,
// organization and first user) and the server must be stopped while castgen runs.
// The recording is written by backend/record/castgen (the real CastWriter with an
// injected clock) to <data dir>/recordings/YYYY/MM/DD/<session>.cast.gz, where the
// SSH gateway writes its own, and indexed as a finished session is. castgen prints
// one JSON object: the session ID, the recording's path, size, duration, segments
// and markers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/record/castgen"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/term"
)

// options are the command-line settings.
type options struct {
	dataDir  string
	duration time.Duration
	size     int64
	seed     uint64
	user     string
}

// result is what castgen prints.
type result struct {
	Session   string  `json:"session"`
	Path      string  `json:"path"`
	Bytes     int64   `json:"bytes"`
	Output    int64   `json:"output_bytes"`
	Duration  float64 `json:"duration"`
	Segments  int     `json:"segments"`
	Markers   int     `json:"markers"`
	IndexSize int64   `json:"index_bytes"`
}

func main() {
	var o options
	flag.StringVar(&o.dataDir, "data-dir", "", "the data dir of a stopped portcullisd (required)")
	flag.DurationVar(&o.duration, "duration", time.Hour, "length of the session")
	flag.Int64Var(&o.size, "size", 100<<20, "stored (compressed) size of the recording in bytes, about")
	flag.Uint64Var(&o.seed, "seed", 1, "the same seed gives the same recording")
	flag.StringVar(&o.user, "user", "", "the session's user (default: the first user)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "castgen:", err)
		os.Exit(1)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}

func run(ctx context.Context, o options) (*result, error) {
	if o.dataDir == "" {
		return nil, errors.New("-data-dir is required")
	}
	if _, err := os.Stat(filepath.Join(o.dataDir, "portcullis.db")); err != nil {
		return nil, fmt.Errorf("%s is not an initialised data dir (start portcullisd serve on it once): %w", o.dataDir, err)
	}
	st, err := store.Open(ctx, store.Options{DataDir: o.dataDir})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var u store.User
	q := st.DB.WithContext(ctx).Order("id")
	if o.user != "" {
		q = q.Where("username = ?", o.user)
	}
	if err := q.First(&u).Error; err != nil {
		return nil, fmt.Errorf("find the session's user: %w", err)
	}

	id := session.NewID()
	start := time.Now().UTC().Add(-o.duration - time.Minute).Truncate(time.Second)
	dir := filepath.Join(o.dataDir, "recordings", start.Format("2006/01/02"))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("recordings dir: %w", err)
	}
	path := filepath.Join(dir, id+".cast.gz")
	stats, err := castgen.Write(path, castgen.Options{Duration: o.duration, Size: o.size, Seed: o.seed, Start: start})
	if err != nil {
		return nil, err
	}
	idx, err := record.BuildIndex(ctx, path, record.IndexOptions{})
	if err != nil {
		return nil, fmt.Errorf("index: %w", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	ended := start.Add(time.Duration(idx.Duration * float64(time.Second)))
	s := store.Session{
		ID: id, OrgID: u.OrgID, UserID: u.ID, Username: u.Username, AssetName: "web-01",
		AccountName: "alice", Protocol: "ssh", SourceIP: "127.0.0.1", StartedAt: start, EndedAt: &ended,
		EndReason: "client closed the session", BytesOut: stats.Output, CommandCount: len(idx.Markers),
		Recording: path, Kind: "shell", Via: "ssh",
	}
	cmds := make([]store.Command, 0, len(idx.Markers))
	for _, m := range idx.Markers {
		verdict, risk, input := term.VerdictAllowed, cmdfilter.RiskOf(store.FilterAllow), m.Label
		if rest, ok := strings.CutPrefix(input, "[denied] "); ok {
			verdict, risk, input = term.VerdictDenied, cmdfilter.RiskOf(store.FilterDeny), rest
		}
		cmds = append(cmds, store.Command{OrgID: u.OrgID, SessionID: id, UserID: u.ID, Username: u.Username,
			AssetName: s.AssetName, Account: s.AccountName, Input: input, Risk: risk, Verdict: verdict,
			Offset: m.Time, CreatedAt: start.Add(time.Duration(m.Time * float64(time.Second)))})
	}
	if err := st.DB.WithContext(ctx).Create(&s).Error; err != nil {
		return nil, fmt.Errorf("insert the session: %w", err)
	}
	if len(cmds) > 0 {
		if err := st.DB.WithContext(ctx).CreateInBatches(cmds, 500).Error; err != nil {
			return nil, fmt.Errorf("insert the commands: %w", err)
		}
	}
	var idxSize int64
	if fi, err := os.Stat(path + ".idx"); err == nil {
		idxSize = fi.Size()
	}
	return &result{Session: id, Path: path, Bytes: fi.Size(), Output: stats.Output, Duration: idx.Duration,
		Segments: len(idx.Segments), Markers: len(idx.Markers), IndexSize: idxSize}, nil
}
