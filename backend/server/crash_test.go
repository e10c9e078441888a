package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/backend/bundle"
	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/record"
	"github.com/portcullis/portcullis/backend/server"
	"github.com/portcullis/portcullis/backend/session"
	"github.com/portcullis/portcullis/backend/store"
)

// crashChildEnv makes the test binary, started again by TestKill9MidSession,
// run a server with a live, recorded session until it is killed.
const crashChildEnv = "PORTCULLIS_SERVER_CRASH_CHILD"

// crashChild runs a server on the data dir, starts a session whose output is
// recorded like a terminal's, prints "line N" numbers as it writes them and
// "session <id>" first; it never ends the session.
func crashChild(dataDir string) {
	time.AfterFunc(time.Minute, func() { os.Exit(3) })
	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = dataDir, "127.0.0.1:0"
	srv, err := server.New(context.Background(), cfg, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	dir := filepath.Join(dataDir, "recordings", "2026", "11", "28")
	os.MkdirAll(dir, 0o700)
	id := session.NewID()
	path := filepath.Join(dir, id+".cast.gz")
	rec, err := record.CreateCast(path, record.Header{Width: 80, Height: 24}, record.CastOptions{FlushInterval: 100 * time.Millisecond})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	if _, err := srv.Sessions().Start(context.Background(), session.Meta{ID: id, OrgID: 1, UserID: 1, Username: "alice",
		AssetName: "web01", AccountName: "root", Protocol: "ssh", Kind: "shell", Recording: path}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintln(out, "session", id)
	out.Flush()
	for i := 0; ; i++ {
		if i%50 == 0 {
			rec.Marker(fmt.Sprintf("echo step-%d", i))
		}
		rec.Output([]byte(fmt.Sprintf("line %d\r\n", i)))
		fmt.Fprintln(out, i)
		out.Flush()
		time.Sleep(2 * time.Millisecond)
	}
}

// TestKill9MidSession kills the server with SIGKILL while a session is being
// recorded. After a restart on the same data dir the session is "interrupted",
// its recording is repaired and indexed up to its last flush, and it exports
// as a bundle that verifies, marked interrupted, holding what was recorded.
func TestKill9MidSession(t *testing.T) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a server in a child process")
	}
	dataDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestKill9MidSession$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dataDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	var id string
	written := -1
	deadline := time.Now().Add(30 * time.Second)
	for sc.Scan() && time.Now().Before(deadline) {
		line := sc.Text()
		if s, ok := strings.CutPrefix(line, "session "); ok {
			id = s
			continue
		}
		fmt.Sscan(line, &written)
		if written >= 600 { // well past a few flushes
			break
		}
	}
	if id == "" || written < 600 {
		cmd.Process.Kill()
		t.Fatalf("the child did not record: session %q, %d lines; stderr: %s", id, written, stderr.String())
	}
	// Line 600 was output: give the writer its flush interval and a generous
	// margin for a loaded machine (as record.TestCrashKill9 does).
	time.Sleep(1200 * time.Millisecond)
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	cfg := config.Default()
	cfg.DataDir, cfg.HTTPAddr = dataDir, "127.0.0.1:0"
	srv, err := server.New(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var row store.Session
	if err := srv.Store().DB.Where("id = ?", id).Take(&row).Error; err != nil {
		t.Fatal(err)
	}
	if row.EndedAt == nil || row.EndReason != session.EndInterrupted {
		t.Fatalf("after the restart: ended %v, reason %q, want %q", row.EndedAt, row.EndReason, session.EndInterrupted)
	}

	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	token := adminLogin(t, hs.URL, dataDir)
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", hs.URL+"/api/v1"+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	var idx record.Index
	if err := json.Unmarshal(get("/sessions/"+id+"/recording/index"), &idx); err != nil {
		t.Fatal(err)
	}
	if len(idx.Segments) == 0 || len(idx.Markers) < 10 {
		t.Fatalf("index after the crash: %d segments, %d markers", len(idx.Segments), len(idx.Markers))
	}
	whole := string(get("/sessions/" + id + "/recording"))
	if !strings.Contains(whole, `line 600\r\n`) {
		fi, _ := os.Stat(row.Recording)
		t.Fatalf("the replayable recording lacks line 600, flushed before the kill (%d bytes; file %d bytes; tail %q)", len(whole), fi.Size(), whole[max(0, len(whole)-300):])
	}
	b := get("/sessions/" + id + "/export")
	rep, err := bundle.Verify(context.Background(), bytes.NewReader(b), int64(len(b)), nil)
	if err != nil || !rep.Verified || rep.Metadata == nil || !rep.Metadata.Interrupted {
		t.Fatalf("export after the crash: %+v, %v", rep, err)
	}
}

// adminLogin logs the initial admin in through the API, changing the one-time password.
func adminLogin(t *testing.T, base, dataDir string) string {
	t.Helper()
	pw, err := os.ReadFile(filepath.Join(dataDir, "initial-admin-password"))
	if err != nil {
		t.Fatal(err)
	}
	post := func(path, token string, body any) map[string]any {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+"/api/v1"+path, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return m
	}
	r := post("/auth/login", "", map[string]string{"username": "admin", "password": strings.TrimSpace(string(pw))})
	if r["status"] == "password_change_required" {
		r = post("/auth/password", r["token"].(string), map[string]string{"new_password": "Crash-Test-Passw0rd!"})
	}
	tok, _ := r["token"].(string)
	if r["status"] != "ok" || tok == "" {
		t.Fatalf("login: %v", r)
	}
	return tok
}
