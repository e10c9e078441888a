package app

import (
	"testing"

	"github.com/wailsapp/wails/v2/pkg/menu"
)

// The Profiles menu lists every profile with the current one checked, and
// choosing one switches to it; Portcullis opens a recording first.
func TestMenu(t *testing.T) {
	var switched []string
	reloads, opens := 0, 0
	m := buildMenu(Profiles{Current: "r-1", Profiles: []Profile{localProfile(), {ID: "r-1", Name: "prod", Kind: "remote", URL: "https://bastion:8080"}}},
		menuActions{open: func() { opens++ }, switchTo: func(id string) { switched = append(switched, id) }, reload: func() { reloads++ }, quit: func() {}})
	if len(m.Items) != 2 || m.Items[0].Label != "Portcullis" || m.Items[1].Label != "Profiles" {
		t.Fatalf("menus: %+v", m.Items)
	}
	items := m.Items[0].SubMenu.Items
	if items[0].Label != "Open recording…" || items[0].Accelerator == nil {
		t.Fatalf("first item: %+v, want Open recording… with a shortcut", items[0])
	}
	items[0].Click(&menu.CallbackData{MenuItem: items[0]})
	if opens != 1 {
		t.Errorf("Open recording… clicked: %d opens, want 1", opens)
	}
	prof := m.Items[1].SubMenu.Items
	if len(prof) != 2 || prof[0].Label != "Local (this computer)" || prof[0].Checked || prof[1].Label != "prod — https://bastion:8080" || !prof[1].Checked {
		t.Fatalf("profiles menu: %+v %+v", prof[0], prof[1])
	}
	prof[0].Click(&menu.CallbackData{MenuItem: prof[0]})
	items[2].Click(&menu.CallbackData{}) // Reload, after Open recording… and a separator
	if len(switched) != 1 || switched[0] != "local" || reloads != 1 {
		t.Errorf("clicks: switched %v, reloads %d", switched, reloads)
	}
}
