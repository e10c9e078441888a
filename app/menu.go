package app

import (
	"context"

	"github.com/wailsapp/wails/v2/pkg/menu"
	"github.com/wailsapp/wails/v2/pkg/menu/keys"
	"github.com/wailsapp/wails/v2/pkg/runtime"
)

// The window's menu: Portcullis (open a recording for offline replay,
// reload, quit) and Profiles (one radio item per profile; choosing one
// switches to it and reloads the page).

// menuActions are what the menu items do; the App provides them, tests record them.
type menuActions struct {
	open     func()
	switchTo func(id string)
	reload   func()
	quit     func()
}

// buildMenu returns the menu for the profiles, the current one checked.
func buildMenu(ps Profiles, act menuActions) *menu.Menu {
	m := menu.NewMenu()
	app := m.AddSubmenu("Portcullis")
	app.AddText("Open recording…", keys.CmdOrCtrl("o"), func(*menu.CallbackData) { act.open() })
	app.AddSeparator()
	app.AddText("Reload", keys.CmdOrCtrl("r"), func(*menu.CallbackData) { act.reload() })
	app.AddSeparator()
	app.AddText("Quit", keys.CmdOrCtrl("q"), func(*menu.CallbackData) { act.quit() })
	prof := m.AddSubmenu("Profiles")
	for _, p := range ps.Profiles {
		label := p.Name
		if p.Kind == "local" {
			label = "Local (this computer)"
		} else if p.URL != "" {
			label = p.Name + " — " + p.URL
		}
		id := p.ID
		prof.AddRadio(label, p.ID == ps.Current, nil, func(*menu.CallbackData) { act.switchTo(id) })
	}
	return m
}

// appMenu is the menu of the App's window.
func (a *App) appMenu() *menu.Menu {
	return buildMenu(a.profiles.list(), menuActions{
		open: func() { go a.openFromMenu() },
		switchTo: func(id string) {
			if _, err := a.SwitchProfile(id); err != nil {
				a.log.Warn("switch profile from the menu", "err", err)
				return
			}
			a.withCtx(func(ctx context.Context) { runtime.WindowReloadApp(ctx) })
		},
		reload: func() { a.withCtx(func(ctx context.Context) { runtime.WindowReloadApp(ctx) }) },
		quit:   func() { a.withCtx(func(ctx context.Context) { runtime.Quit(ctx) }) },
	})
}

// refreshMenu rebuilds the menu after the profiles changed.
func (a *App) refreshMenu() {
	a.withCtx(func(ctx context.Context) {
		runtime.MenuSetApplicationMenu(ctx, a.appMenu())
		runtime.MenuUpdateApplicationMenu(ctx)
	})
}

// withCtx runs f with the Wails context once the window exists.
func (a *App) withCtx(f func(context.Context)) {
	a.mu.Lock()
	ctx := a.ctx
	a.mu.Unlock()
	if ctx != nil {
		f(ctx)
	}
}
