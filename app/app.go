package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/wailsapp/wails/v2/pkg/options"
	"github.com/wailsapp/wails/v2/pkg/options/assetserver"
	"github.com/wailsapp/wails/v2/pkg/options/linux"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// Environment variables read by [New] when the matching Config field is empty.
const (
	// EnvSmokeDir names a directory where the app writes backend.json once the embedded
	// backend is ready (used by scripts/desktop-smoke.sh).
	EnvSmokeDir = "PORTCULLIS_SMOKE_DIR"
	// EnvLogLevel sets the desktop's log level: debug, info, warn or error.
	EnvLogLevel = "PORTCULLIS_LOG_LEVEL"
)

// SmokeFileName is the file written into the smoke dir: {"base_url", "launch_token", "pid"}, mode 0600.
const SmokeFileName = "backend.json"

// Timeouts of the app's lifecycle.
const (
	backendReadyTimeout = 60 * time.Second // first start migrates a new database
	backendStopTimeout  = 15 * time.Second
)

// Config configures the desktop app. Zero fields get defaults from [New].
type Config struct {
	// UI is the frontend package's embed.FS; the built UI is in its dist/ directory.
	UI fs.FS
	// Icon is the window icon (PNG).
	Icon []byte
	// ConfigDir holds the desktop's own files (window.json, profiles). Default:
	// os.UserConfigDir()/portcullis.
	ConfigDir string
	// LocalDataDir is the data dir of the embedded Local backend, where its log and database
	// live. Default: ConfigDir/local.
	LocalDataDir string
	// SmokeDir, when set, receives backend.json once the backend is ready. Default: $PORTCULLIS_SMOKE_DIR.
	SmokeDir string
	// LogLevel is debug, info, warn or error. Default: $PORTCULLIS_LOG_LEVEL, else info.
	LogLevel string
	// Stderr receives the log besides the log file. Default: os.Stderr.
	Stderr io.Writer
	// Open names files given on the command line (a recording or bundle
	// opened from the file manager); the page replays them at start.
	Open []string
}

// App is the desktop application. Its exported methods are bound to the frontend
// (window.go.app.App.*); everything else is wired through [Options].
type App struct {
	cfg       Config
	ui        fs.FS
	log       *slog.Logger // component=desktop
	wailsLog  *slog.Logger // component=wails: the Wails runtime's own messages
	logFile   io.Closer
	backend   *embeddedBackend
	statePath string
	token     string // the per-launch secret of the embedded backend and the remote proxy
	profiles  *profileStore
	tokens    *tokenStore

	replays *replayStore // recordings opened for offline replay

	mu      sync.Mutex      // guards remote, ctx and pending
	remote  *remoteProxy    // the current Remote profile's proxy, started on demand
	ctx     context.Context // the Wails context, once the window exists
	pending []string        // recordings to open at start (Config.Open)

	closeOnce sync.Once     // shutdown runs once
	firstCall sync.Once     // logs the cold start once
	closing   chan struct{} // closed at shutdown: bound calls stop waiting
}

// New prepares the desktop app: it resolves the directories, opens the log and checks that the
// UI is built. The backend starts with the window (OnStartup).
func New(cfg Config) (*App, error) {
	ui, err := uiAssets(cfg.UI)
	if err != nil {
		return nil, err
	}
	if cfg.ConfigDir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("app: config dir: %w", err)
		}
		cfg.ConfigDir = filepath.Join(base, "portcullis")
	}
	if cfg.LocalDataDir == "" {
		cfg.LocalDataDir = filepath.Join(cfg.ConfigDir, "local")
	}
	if cfg.SmokeDir == "" {
		cfg.SmokeDir = os.Getenv(EnvSmokeDir)
	}
	if cfg.LogLevel == "" {
		cfg.LogLevel = os.Getenv(EnvLogLevel)
	}
	if cfg.Stderr == nil {
		cfg.Stderr = os.Stderr
	}
	level, err := parseLevel(cfg.LogLevel)
	if err != nil {
		return nil, err
	}
	log, logFile, err := openLog(cfg.LocalDataDir, level, cfg.Stderr)
	if err != nil {
		return nil, err
	}
	token, err := newLaunchToken()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	a := &App{
		cfg:       cfg,
		ui:        ui,
		log:       log.With("component", "desktop"),
		wailsLog:  log.With("component", "wails"),
		logFile:   logFile,
		statePath: filepath.Join(cfg.ConfigDir, "window.json"),
		closing:   make(chan struct{}),
		token:     token,
	}
	a.tokens = &tokenStore{dir: cfg.ConfigDir, keyring: newOSKeyring(), log: a.log}
	a.replays = newReplayStore(filepath.Join(cfg.ConfigDir, "replay"))
	for _, p := range cfg.Open {
		if abs, err := filepath.Abs(p); err == nil {
			a.pending = append(a.pending, abs)
		}
	}
	a.profiles, err = loadProfiles(filepath.Join(cfg.ConfigDir, "profiles.json"))
	if err != nil {
		a.log.Warn("profiles not loaded; starting with Local", "err", err)
	}
	a.backend = newEmbeddedBackend(localConfig(cfg.LocalDataDir, token), log, newRealServer)
	a.backend.onReady = a.backendReady
	return a, nil
}

// processStart is when the process started (near enough: package init), for
// the cold-start figure the desktop logs when the window first asks for its
// backend (scripts/desktop-bench.sh reads it).
var processStart = time.Now()

// Backend tells the frontend where the backend of the current profile is:
// for Local, the embedded backend's base URL and launch token (it waits until
// the backend is ready); for a Remote profile, the loopback proxy that pins
// the server's certificate, with the same launch token.
func (a *App) Backend() (info BackendInfo, err error) {
	defer func() {
		if err == nil {
			a.firstCall.Do(func() {
				a.log.Info("window asked for its backend", "since_start_ms", time.Since(processStart).Milliseconds(), "profile", info.Profile)
			})
		}
	}()
	p := a.profiles.current()
	if p.Kind == "remote" {
		proxy, err := a.remoteProxy(p)
		if err != nil {
			return BackendInfo{}, err
		}
		return BackendInfo{BaseURL: proxy.baseURL(), LaunchToken: a.token, Profile: p.Name, Kind: p.Kind}, nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-a.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	info, err = a.backend.wait(ctx, backendReadyTimeout)
	info.Profile, info.Kind = p.Name, p.Kind
	return info, err
}

// remoteProxy returns the proxy of a Remote profile, starting it when needed.
func (a *App) remoteProxy(p Profile) (*remoteProxy, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.remote != nil && a.remote.target.String() == p.URL && a.remote.pin == p.Fingerprint {
		return a.remote, nil
	}
	a.stopRemoteLocked()
	u, err := normalizeURL(p.URL)
	if err != nil {
		return nil, err
	}
	proxy, err := startRemoteProxy(u, p.Fingerprint, a.token, wailsOrigin, a.log.With("profile", p.Name))
	if err != nil {
		return nil, err
	}
	a.remote = proxy
	return proxy, nil
}

func (a *App) stopRemoteLocked() {
	if a.remote == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.remote.close(ctx)
	a.remote = nil
}

// Profiles lists the profiles (Local first) and names the current one.
func (a *App) Profiles() Profiles { return a.profiles.list() }

// ProbeRemote connects to a server URL (https://host[:port]) and answers its
// certificate's fingerprint, for the user to compare with what portcullisd
// printed before trusting it.
func (a *App) ProbeRemote(url string) (RemoteProbe, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return probeRemote(ctx, url)
}

// AddRemote adds a Remote profile pinning the certificate fingerprint the user
// saw and accepted; it probes again and refuses when the server now presents
// another certificate.
func (a *App) AddRemote(name, url, fingerprint string) (Profile, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	probe, err := probeRemote(ctx, url)
	if err != nil {
		return Profile{}, err
	}
	if probe.Fingerprint != fingerprint {
		a.log.Error("certificate changed between probe and trust", "url", probe.URL, "accepted", fingerprint, "presented", probe.Fingerprint)
		return Profile{}, fmt.Errorf("%w since you checked it: accepted %s, presented %s", ErrCertificateChanged, fingerprint, probe.Fingerprint)
	}
	p, err := a.profiles.add(name, probe.URL, probe.Fingerprint)
	if err == nil {
		a.log.Info("remote profile added", "profile", p.Name, "url", p.URL, "sha256", p.Fingerprint)
		a.refreshMenu()
	}
	return p, err
}

// SwitchProfile makes id the current profile; the window reloads afterwards
// and asks Backend again.
func (a *App) SwitchProfile(id string) (Profile, error) {
	p, err := a.profiles.setCurrent(id)
	if err != nil {
		return Profile{}, err
	}
	a.mu.Lock()
	if p.Kind != "remote" {
		a.stopRemoteLocked()
	}
	ctx := a.ctx
	a.mu.Unlock()
	if ctx != nil {
		runtime.WindowSetTitle(ctx, windowTitle(p))
		a.refreshMenu()
	}
	a.log.Info("profile switched", "profile", p.Name, "kind", p.Kind)
	return p, nil
}

// SaveToken keeps the window's session token of the current profile, sealed
// (see tokenStore); an empty token forgets it (logout).
func (a *App) SaveToken(token string) error {
	p := a.profiles.current()
	where, err := a.tokens.put(p.ID, token)
	if err != nil {
		a.log.Warn("session token not kept", "profile", p.Name, "err", err)
		return err
	}
	if token == "" {
		a.log.Info("session token forgotten", "profile", p.Name)
	} else {
		if where == keyInFile {
			where = "file"
		}
		a.log.Info("session token kept, sealed", "profile", p.Name, "key", where)
	}
	return nil
}

// LoadToken answers the saved session token of the current profile, or "".
func (a *App) LoadToken() string {
	p := a.profiles.current()
	tok := a.tokens.get(p.ID)
	a.log.Info("session token asked for", "profile", p.Name, "found", tok != "")
	return tok
}

// RemoveProfile deletes a Remote profile (the Local one stays).
func (a *App) RemoveProfile(id string) error {
	wasCurrent := a.profiles.current().ID == id
	if err := a.profiles.remove(id); err != nil {
		return err
	}
	if _, err := a.tokens.put(id, ""); err != nil {
		a.log.Warn("forget the removed profile's token", "err", err)
	}
	a.refreshMenu()
	if wasCurrent {
		_, err := a.SwitchProfile(LocalProfileID)
		return err
	}
	return nil
}

// windowTitle names the profile in the window's title.
func windowTitle(p Profile) string { return "Portcullis — " + p.Name }

// Options returns the Wails options of the main window, with a's lifecycle hooks wired in.
// The caller binds the services (Bind) and runs.
func Options(a *App) *options.App {
	state, err := loadWindowState(a.statePath)
	if err != nil {
		a.log.Warn("window state not restored", "err", err)
	}
	start := options.Normal
	if state.Maximised {
		start = options.Maximised
	}
	return &options.App{
		Title:            windowTitle(a.profiles.current()),
		Menu:             a.appMenu(),
		Width:            state.Width,
		Height:           state.Height,
		MinWidth:         minWidth,
		MinHeight:        minHeight,
		WindowStartState: start,
		BackgroundColour: options.NewRGB(0x10, 0x1a, 0x2b),
		AssetServer: &assetserver.Options{
			Assets:  a.ui,
			Handler: spaFallback(a.ui),
		},
		DragAndDrop:   &options.DragAndDrop{EnableFileDrop: true, DisableWebViewDrop: true},
		OnStartup:     a.startup,
		OnDomReady:    func(ctx context.Context) { runtime.OnFileDrop(ctx, a.fileDropped) },
		OnBeforeClose: a.beforeClose,
		OnShutdown:    a.shutdown,
		Logger:        wailsLogger{log: a.wailsLog, exit: os.Exit},
		Linux: &linux.Options{
			Icon:        a.cfg.Icon,
			ProgramName: "portcullis",
			// Wails' own default when Linux is nil: some GPU drivers show a blank page otherwise.
			WebviewGpuPolicy: linux.WebviewGpuPolicyNever,
		},
	}
}

// startup runs when the window is created: it starts the embedded backend. Its context lives
// until shutdown cancels it.
func (a *App) startup(ctx context.Context) {
	a.log.Info("desktop starting", "config_dir", a.cfg.ConfigDir, "data_dir", a.cfg.LocalDataDir, "profile", a.profiles.current().Name)
	a.mu.Lock()
	a.ctx = ctx
	a.mu.Unlock()
	a.backend.start(ctx)
}

// beforeClose remembers the window size; it never prevents closing.
func (a *App) beforeClose(ctx context.Context) bool {
	a.rememberWindow(runtimeWindow{ctx})
	return false
}

// window is what the app asks of its window when it closes.
type window interface {
	Size() (width, height int)
	IsMaximised() bool
}

// runtimeWindow is the Wails window behind a lifecycle context.
type runtimeWindow struct{ ctx context.Context }

func (w runtimeWindow) Size() (int, int)  { return runtime.WindowGetSize(w.ctx) }
func (w runtimeWindow) IsMaximised() bool { return runtime.WindowIsMaximised(w.ctx) }

// rememberWindow saves the window's size for the next start. A maximised window keeps the last
// normal size, so that un-maximising after the next start restores it.
func (a *App) rememberWindow(w window) {
	state := windowState{Maximised: w.IsMaximised()}
	if state.Maximised {
		prev, _ := loadWindowState(a.statePath)
		state.Width, state.Height = prev.Width, prev.Height
	} else {
		state.Width, state.Height = w.Size()
	}
	if err := saveWindowState(a.statePath, state); err != nil {
		a.log.Warn("window state not saved", "err", err)
		return
	}
	a.log.Debug("window state saved", "width", state.Width, "height", state.Height, "maximised", state.Maximised)
}

// shutdown stops the embedded backend and closes the log file. Later calls do nothing.
func (a *App) shutdown(ctx context.Context) {
	a.closeOnce.Do(func() {
		close(a.closing)
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), backendStopTimeout)
		defer cancel()
		a.mu.Lock()
		a.stopRemoteLocked()
		a.mu.Unlock()
		if err := a.backend.stop(stopCtx); err != nil {
			a.log.Error("embedded backend did not stop cleanly", "err", err)
		}
		a.log.Info("desktop stopped")
		if err := a.logFile.Close(); err != nil {
			fmt.Fprintf(a.cfg.Stderr, "portcullis: closing log: %v\n", err)
		}
	})
}

// backendReady runs once the embedded backend listens.
func (a *App) backendReady(info BackendInfo) {
	// Starting the backend (migrations, the first admin's password hash) left
	// tens of MB of garbage: give it back to the system now rather than when
	// the background scavenger gets to it, so an idle window stays small.
	go func() {
		time.Sleep(2 * time.Second)
		debug.FreeOSMemory()
	}()
	if a.cfg.SmokeDir == "" {
		return
	}
	if err := writeSmokeFile(a.cfg.SmokeDir, info); err != nil {
		a.log.Error("smoke file not written", "err", err)
		return
	}
	a.log.Info("smoke file written", "dir", a.cfg.SmokeDir)
}

// writeSmokeFile writes dir/backend.json with the backend's base URL and launch token (mode
// 0600): the smoke test drives the API the way the window does. Only a run that sets the smoke
// dir (scripts/desktop-smoke.sh) writes it.
func writeSmokeFile(dir string, info BackendInfo) error {
	data, err := json.Marshal(struct {
		BaseURL     string `json:"base_url"`
		LaunchToken string `json:"launch_token"`
		PID         int    `json:"pid"`
	}{info.BaseURL, info.LaunchToken, os.Getpid()})
	if err != nil {
		return fmt.Errorf("app: encode smoke file: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, SmokeFileName), append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("app: write smoke file: %w", err)
	}
	return nil
}
