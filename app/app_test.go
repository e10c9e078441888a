package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// newTestApp builds an App on temporary directories whose backend is srv.
func newTestApp(t *testing.T, srv localServer) (*App, Config) {
	t.Helper()
	dir := t.TempDir()
	cfg := Config{
		UI:        testUI(),
		ConfigDir: filepath.Join(dir, "config"),
		SmokeDir:  filepath.Join(dir, "smoke"),
		LogLevel:  "debug",
		Stderr:    &bytes.Buffer{},
	}
	a, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	a.backend.newServer = serverFactory(srv, nil)
	t.Cleanup(func() { a.shutdown(context.Background()) })
	return a, a.cfg
}

func TestNewDefaults(t *testing.T) {
	a, cfg := newTestApp(t, newFakeServer())
	if want := filepath.Join(cfg.ConfigDir, "local"); cfg.LocalDataDir != want {
		t.Errorf("LocalDataDir = %q, want %q", cfg.LocalDataDir, want)
	}
	if a.backend.cfg.DataDir != cfg.LocalDataDir {
		t.Errorf("backend DataDir = %q, want %q", a.backend.cfg.DataDir, cfg.LocalDataDir)
	}
	if len(a.backend.cfg.LaunchToken) != 64 {
		t.Errorf("launch token %q: want 64 hex characters", a.backend.cfg.LaunchToken)
	}
	if _, err := os.Stat(filepath.Join(cfg.LocalDataDir, logFileName)); err != nil {
		t.Errorf("log file not created: %v", err)
	}
}

func TestNewRefusesUnbuiltUI(t *testing.T) {
	_, err := New(Config{UI: nil, ConfigDir: t.TempDir()})
	if !errors.Is(err, ErrUINotBuilt) {
		t.Fatalf("got %v, want %v", err, ErrUINotBuilt)
	}
}

// TestBoundMethods guards the frontend contract: Wails binds every exported method of App, so
// only the intended API may be exported (the frontend calls window.go.app.App.Backend() and the
// profile functions of src/api/host.ts).
func TestBoundMethods(t *testing.T) {
	typ := reflect.TypeFor[*App]()
	var got []string
	for m := range typ.Methods() {
		got = append(got, m.Name)
	}
	if want := []string{"AddRemote", "Backend", "LoadToken", "OpenRecording", "PendingRecordings", "ProbeRemote", "Profiles", "RemoveProfile", "ReplayFile", "ReplayIndex", "ReplayKeyframe", "ReplaySegment", "SaveToken", "SwitchProfile"}; !reflect.DeepEqual(got, want) {
		t.Errorf("exported methods of *App = %v, want %v", got, want)
	}
	m, _ := typ.MethodByName("Backend")
	if m.Type.NumOut() != 2 || m.Type.Out(0) != reflect.TypeFor[BackendInfo]() || m.Type.Out(1) != reflect.TypeFor[error]() {
		t.Errorf("Backend has type %v, want func() (BackendInfo, error)", m.Type)
	}
	data, err := json.Marshal(BackendInfo{BaseURL: "http://127.0.0.1:1", LaunchToken: "t"})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"base_url":"http://127.0.0.1:1","launch_token":"t"}`; string(data) != want {
		t.Errorf("BackendInfo JSON = %s, want %s", data, want)
	}
}

func TestOptions(t *testing.T) {
	a, _ := newTestApp(t, newFakeServer())
	if err := saveWindowState(a.statePath, windowState{Width: 1500, Height: 950}); err != nil {
		t.Fatal(err)
	}
	opts := Options(a)
	if opts.Title != "Portcullis — Local" {
		t.Errorf("Title = %q", opts.Title)
	}
	if opts.Width != 1500 || opts.Height != 950 {
		t.Errorf("size = %dx%d, want the saved 1500x950", opts.Width, opts.Height)
	}
	if opts.AssetServer == nil || opts.AssetServer.Assets == nil || opts.AssetServer.Handler == nil {
		t.Fatal("AssetServer must serve the UI with the SPA fallback")
	}
	if _, err := opts.AssetServer.Assets.Open("index.html"); err != nil {
		t.Errorf("assets do not hold index.html at the root: %v", err)
	}
	if opts.OnStartup == nil || opts.OnShutdown == nil || opts.OnBeforeClose == nil {
		t.Error("lifecycle hooks not wired")
	}
	if opts.Linux == nil || opts.Linux.ProgramName != "portcullis" {
		t.Errorf("Linux options = %+v, want ProgramName portcullis", opts.Linux)
	}
}

type fakeWindow struct {
	w, h      int
	maximised bool
}

func (f fakeWindow) Size() (int, int)  { return f.w, f.h }
func (f fakeWindow) IsMaximised() bool { return f.maximised }

func TestRememberWindow(t *testing.T) {
	a, _ := newTestApp(t, newFakeServer())
	a.rememberWindow(fakeWindow{w: 1300, h: 900})
	a.rememberWindow(fakeWindow{w: 2560, h: 1440, maximised: true})
	got, err := loadWindowState(a.statePath)
	if err != nil {
		t.Fatal(err)
	}
	if want := (windowState{Width: 1300, Height: 900, Maximised: true}); got != want {
		t.Errorf("got %+v, want %+v (the normal size kept while maximised)", got, want)
	}
}

func TestLifecycle(t *testing.T) {
	srv := newFakeServer()
	a, cfg := newTestApp(t, srv)

	if _, err := a.Backend(); !errors.Is(err, ErrBackendNotStarted) {
		t.Fatalf("Backend before startup: got %v, want %v", err, ErrBackendNotStarted)
	}
	a.startup(context.Background())
	info, err := a.Backend()
	if err != nil {
		t.Fatalf("Backend: %v", err)
	}
	if info.BaseURL != "http://"+srv.Addr() || info.LaunchToken != a.backend.cfg.LaunchToken {
		t.Errorf("Backend = %+v, want the fake server's URL and the launch token", info)
	}

	// The smoke file is written once ready, with the URL and the token, readable by its owner only.
	smoke := filepath.Join(cfg.SmokeDir, SmokeFileName)
	var data []byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if data, err = os.ReadFile(smoke); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("smoke file: %v", err)
	}
	var got struct {
		BaseURL string `json:"base_url"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.BaseURL != info.BaseURL {
		t.Errorf("smoke file %s: got base_url %q (err %v), want %q", data, got.BaseURL, err, info.BaseURL)
	}
	if !strings.Contains(string(data), `"launch_token":"`+info.LaunchToken+`"`) {
		t.Errorf("smoke file %s: no launch token", data)
	}
	if st, err := os.Stat(smoke); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("smoke file mode: %v, %v; want 0600", st, err)
	}

	a.shutdown(context.Background())
	if !srv.closed.Load() {
		t.Error("shutdown did not close the backend")
	}
	if _, err := a.Backend(); !errors.Is(err, ErrBackendStopped) {
		t.Errorf("Backend after shutdown: got %v, want %v", err, ErrBackendStopped)
	}
	logData, err := os.ReadFile(filepath.Join(cfg.LocalDataDir, logFileName))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(logData), info.LaunchToken) {
		t.Error("the log leaks the launch token")
	}
	for _, want := range []string{"embedded backend ready", "embedded backend stopped", "desktop stopped"} {
		if !strings.Contains(string(logData), want) {
			t.Errorf("log lacks %q:\n%s", want, logData)
		}
	}
}

func TestBackendUnblocksOnShutdown(t *testing.T) {
	a, _ := newTestApp(t, &blockingServer{ready: make(chan struct{})})
	a.startup(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := a.Backend()
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond) // let Backend start waiting; the outcome is the same if not
	a.shutdown(context.Background())
	select {
	case err := <-errc:
		if err == nil {
			t.Error("Backend returned no error for a backend that never got ready")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Backend still waiting after shutdown")
	}
}
