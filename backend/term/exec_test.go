package term

import (
	"testing"

	"github.com/portcullis/portcullis/backend/cmdfilter"
	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestCheckExec(t *testing.T) {
	st := storetest.SQLite(t)
	var org store.Organization
	if err := st.DB.Where("builtin = ?", true).First(&org).Error; err != nil {
		t.Fatal(err)
	}
	// An allow rule ahead of the built-in deny rule.
	g := store.CommandGroup{OrgID: org.ID, Name: "Harmless", Kind: "command", Content: "ls\nuptime"}
	st.DB.Create(&g)
	st.DB.Create(&store.CommandFilter{OrgID: org.ID, Name: "Allow harmless", Priority: 1, Action: store.FilterAllow, IsActive: true, Groups: []store.CommandGroup{g}})
	w := store.CommandGroup{OrgID: org.ID, Name: "Watched", Kind: "command", Content: "tcpdump"}
	st.DB.Create(&w)
	st.DB.Create(&store.CommandFilter{OrgID: org.ID, Name: "Warn watched", Priority: 20, Action: store.FilterWarn, IsActive: true, Groups: []store.CommandGroup{w}})
	e, err := cmdfilter.Load(t.Context(), st.DB, org.ID)
	if err != nil {
		t.Fatal(err)
	}
	s := cmdfilter.Scope{OrgID: org.ID, UserID: 1}
	tests := []struct {
		command string
		want    string
	}{
		{"uptime", store.FilterAllow},
		{"ls; rm -rf /", store.FilterDeny},
		{"ls && echo $(rm -rf /)", store.FilterDeny},
		{"uptime | tcpdump -i any", store.FilterWarn},
		{"ls; uptime", store.FilterAllow},
		{"rm -rf /", store.FilterDeny},
		{"ls\nrm -rf /", store.FilterDeny},
		{"ls\r\nrm -rf /", store.FilterDeny},
		{"ls\nrm -rf \\\n/", store.FilterDeny},
		{"tcpdump -i any\nuptime", store.FilterWarn},
		{"echo hello", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := CheckExec(e, s, tt.command); got.Action != tt.want {
			t.Errorf("CheckExec(%q): got %q (rule %q), want %q", tt.command, got.Action, got.FilterName, tt.want)
		}
	}
	if got := CheckExec(nil, s, "rm -rf /"); got.Action != "" || got.Risk != "low" {
		t.Errorf("CheckExec without an engine: got %+v, want no match, low risk", got)
	}
}
