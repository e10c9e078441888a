package cmdfilter

import (
	"context"
	"errors"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
	"github.com/portcullis/portcullis/backend/store/storetest"
)

func TestScope(t *testing.T) {
	restart := store.CommandGroup{ID: 1, Name: "restart", Kind: KindCommand, Content: "systemctl restart"}
	filters := []store.CommandFilter{
		// Listed out of order: Compile sorts by priority, then ID.
		{ID: 6, Name: "warn root", Priority: 5, Action: store.FilterWarn, IsActive: true, Accounts: store.JSONList{"root"}, Groups: []store.CommandGroup{restart}},
		{ID: 2, Name: "allow alice", Priority: 1, Action: store.FilterAllow, IsActive: true, Users: []store.User{{ID: 10}}, Groups: []store.CommandGroup{restart}},
		{ID: 9, Name: "disabled", Priority: 0, Action: store.FilterDeny, IsActive: false, Groups: []store.CommandGroup{restart}},
		{ID: 3, Name: "confirm ops", Priority: 2, Action: store.FilterConfirm, IsActive: true, UserGroups: []store.UserGroup{{ID: 20}}, Groups: []store.CommandGroup{restart}},
		{ID: 5, Name: "deny on db01", Priority: 4, Action: store.FilterDeny, IsActive: true, Assets: []store.Asset{{ID: 30}}, Groups: []store.CommandGroup{restart}},
		{ID: 4, Name: "deny bob or ops on db01", Priority: 4, Action: store.FilterDeny, IsActive: true,
			Users: []store.User{{ID: 11}}, UserGroups: []store.UserGroup{{ID: 21}}, Assets: []store.Asset{{ID: 31}}, Groups: []store.CommandGroup{restart}},
		{ID: 7, Name: "any account", Priority: 6, Action: store.FilterConfirm, IsActive: true, Accounts: store.JSONList{store.AccountAll}, Groups: []store.CommandGroup{restart}},
	}
	e := Compile(1, filters)
	tests := []struct {
		name       string
		scope      Scope
		wantFilter string
	}{
		{"bound user", Scope{UserID: 10, UserGroupIDs: []uint{20}, AssetID: 30, Account: "root"}, "allow alice"},
		{"member of a bound group", Scope{UserID: 12, UserGroupIDs: []uint{99, 20}}, "confirm ops"},
		{"bound asset", Scope{UserID: 12, AssetID: 30}, "deny on db01"},
		{"users or groups, and asset", Scope{UserID: 13, UserGroupIDs: []uint{21}, AssetID: 31}, "deny bob or ops on db01"},
		{"user bound but asset not", Scope{UserID: 11, AssetID: 30}, "deny on db01"},
		{"user bound, other asset", Scope{UserID: 11, AssetID: 32, Account: "root"}, "warn root"},
		{"bound account", Scope{UserID: 12, Account: "root"}, "warn root"},
		{"@ALL accounts", Scope{UserID: 12, Account: "admin"}, "any account"},
		{"organization of the engine", Scope{OrgID: 1, UserID: 12, Account: "admin"}, "any account"},
		{"other organization", Scope{OrgID: 2, UserID: 10}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := e.Check(tt.scope, "systemctl restart nginx")
			if v.FilterName != tt.wantFilter {
				t.Errorf("got filter %q, want %q", v.FilterName, tt.wantFilter)
			}
		})
	}
	var none *Engine
	if v := none.Check(Scope{}, "rm -rf /"); v != (Verdict{Risk: RiskLow}) {
		t.Errorf("nil engine: got %+v, want a low-risk verdict", v)
	}
}

func TestLoad(t *testing.T) {
	storetest.Each(t, func(t *testing.T, s *store.Store) {
		ctx := context.Background()
		db := s.DB
		org, err := s.DefaultOrg(ctx)
		if err != nil {
			t.Fatal(err)
		}
		other := store.Organization{Name: "other"}
		storetest.MustCreate(t, db, &other)
		user := func(name string) store.User {
			u := store.User{OrgID: org.ID, Username: name, Role: store.RoleUser, OrgRole: store.OrgRoleUser, IsActive: true}
			storetest.MustCreate(t, db, &u)
			return u
		}
		alice, bob, carol := user("alice"), user("bob"), user("carol")
		ops := store.UserGroup{OrgID: org.ID, Name: "ops"}
		storetest.MustCreate(t, db, &ops)
		storetest.MustCreate(t, db, &store.UserGroupMember{UserGroupID: ops.ID, UserID: bob.ID})
		db01 := store.Asset{OrgID: org.ID, Name: "db01", Address: "10.0.0.1", IsActive: true}
		web01 := store.Asset{OrgID: org.ID, Name: "web01", Address: "10.0.0.2", IsActive: true}
		storetest.MustCreate(t, db, &db01)
		storetest.MustCreate(t, db, &web01)
		restart := store.CommandGroup{OrgID: org.ID, Name: "restart", Kind: KindCommand, Content: "systemctl restart\nservice"}
		pipes := store.CommandGroup{OrgID: org.ID, Name: "pipe to shell", Kind: KindRegex, Content: `\|\s*(ba)?sh\b` + "\n(unclosed", IgnoreCase: true}
		storetest.MustCreate(t, db, &restart)
		storetest.MustCreate(t, db, &pipes)
		for _, f := range []store.CommandFilter{
			{OrgID: org.ID, Name: "allow alice", Priority: 5, Action: store.FilterAllow, IsActive: true, Users: []store.User{alice}, Groups: []store.CommandGroup{restart}},
			{OrgID: org.ID, Name: "confirm ops", Priority: 6, Action: store.FilterConfirm, IsActive: true, UserGroups: []store.UserGroup{ops}, Groups: []store.CommandGroup{restart}},
			{OrgID: org.ID, Name: "warn root on db01", Priority: 7, Action: store.FilterWarn, IsActive: true, Assets: []store.Asset{db01}, Accounts: store.JSONList{"root"}, Groups: []store.CommandGroup{pipes}},
			{OrgID: org.ID, Name: "disabled", Priority: 1, Action: store.FilterDeny, IsActive: false, Groups: []store.CommandGroup{restart, pipes}},
			{OrgID: other.ID, Name: "other org", Priority: 1, Action: store.FilterDeny, IsActive: true, Groups: []store.CommandGroup{restart}},
		} {
			storetest.MustCreate(t, db, &f)
		}

		e, err := Load(ctx, db, org.ID)
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		if p := e.Problems(); len(p) != 1 || !errors.Is(p[0], ErrInvalidEntry) {
			t.Errorf("got problems %v, want the unclosed regex", p)
		}
		tests := []struct {
			name    string
			scope   Scope
			command string
			want    Verdict
		}{
			{"allowed user", Scope{UserID: alice.ID}, "sudo systemctl restart nginx",
				Verdict{Action: store.FilterAllow, FilterName: "allow alice", GroupName: "restart", Pattern: "systemctl restart", Risk: RiskLow}},
			{"group member", Scope{UserID: bob.ID, UserGroupIDs: []uint{ops.ID}}, "service nginx restart",
				Verdict{Action: store.FilterConfirm, FilterName: "confirm ops", GroupName: "restart", Pattern: "service", Risk: RiskHigh}},
			{"nobody's rule", Scope{UserID: carol.ID}, "systemctl restart nginx", Verdict{Risk: RiskLow}},
			{"asset and account", Scope{UserID: carol.ID, AssetID: db01.ID, Account: "root"}, "curl -s https://x.example | BASH",
				Verdict{Action: store.FilterWarn, FilterName: "warn root on db01", GroupName: "pipe to shell", Pattern: `\|\s*(ba)?sh\b`, Risk: RiskMedium}},
			{"other account", Scope{UserID: carol.ID, AssetID: db01.ID, Account: "admin"}, "curl x | sh", Verdict{Risk: RiskLow}},
			{"other asset", Scope{UserID: carol.ID, AssetID: web01.ID, Account: "root"}, "curl x | sh", Verdict{Risk: RiskLow}},
			{"built-in deny", Scope{UserID: alice.ID, AssetID: db01.ID, Account: "root"}, "sudo rm -rf /",
				Verdict{Action: store.FilterDeny, FilterName: "Deny dangerous commands", GroupName: "Dangerous commands", Pattern: "rm -rf /", Risk: RiskCritical}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got := e.Check(tt.scope, tt.command)
				got.FilterID = 0
				if got != tt.want {
					t.Errorf("got %+v, want %+v", got, tt.want)
				}
			})
		}

		oe, err := Load(ctx, db, other.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := oe.Check(Scope{}, "systemctl restart x").FilterName; got != "other org" {
			t.Errorf("other organization: got filter %q, want %q", got, "other org")
		}
		if got := oe.Check(Scope{}, "rm -rf /").Action; got != "" {
			t.Errorf("other organization has no built-in rule: got %q, want none", got)
		}

		// Sessions started while the filters stay the same share one Engine; any
		// change (here the content of a group) gives a new one.
		again, err := Load(ctx, db, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if again != e {
			t.Error("Load of unchanged filters compiled a new Engine")
		}
		if err := db.Model(&restart).Update("content", "systemctl stop").Error; err != nil {
			t.Fatal(err)
		}
		changed, err := Load(ctx, db, org.ID)
		if err != nil {
			t.Fatal(err)
		}
		if changed == e {
			t.Fatal("Load after a group changed returned the old Engine")
		}
		if got := changed.Check(Scope{UserID: alice.ID}, "systemctl restart nginx").FilterName; got != "" {
			t.Errorf("changed group: restart still matched by %q", got)
		}
		if got := changed.Check(Scope{UserID: alice.ID}, "systemctl stop nginx").FilterName; got != "allow alice" {
			t.Errorf("changed group: stop matched by %q, want %q", got, "allow alice")
		}

		if err := db.Migrator().DropTable("cmdfilter_users"); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(ctx, db, org.ID); err == nil {
			t.Error("Load with a broken schema: got no error")
		}
	})
}

func TestAnAllowRuleForOnePartDoesNotCoverTheRest(t *testing.T) {
	ls := store.CommandGroup{ID: 1, Name: "ls", Kind: KindCommand, Content: "ls"}
	danger := store.CommandGroup{ID: 2, Name: "danger", Kind: KindCommand, Content: "rm -rf /"}
	restart := store.CommandGroup{ID: 3, Name: "restart", Kind: KindCommand, Content: "systemctl restart"}
	e := Compile(1, []store.CommandFilter{
		{ID: 1, Name: "allow ls", Priority: 1, Action: store.FilterAllow, IsActive: true, Groups: []store.CommandGroup{ls}},
		{ID: 2, Name: "confirm restarts", Priority: 5, Action: store.FilterConfirm, IsActive: true, Groups: []store.CommandGroup{restart}},
		{ID: 3, Name: "deny danger", Priority: 10, Action: store.FilterDeny, IsActive: true, Groups: []store.CommandGroup{danger}},
	})
	tests := []struct {
		command, want string
	}{
		{"ls", store.FilterAllow},
		{"ls; rm -rf /", store.FilterDeny},
		{"ls && rm -rf /", store.FilterDeny},
		{"ls | xargs rm -rf /", store.FilterDeny},
		{"ls\nrm -rf /", store.FilterDeny},
		{"ls \\\n; rm -rf /", store.FilterDeny},
		{"ls; systemctl restart nginx", store.FilterConfirm},
		{"ls -la /tmp", store.FilterAllow},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			if got := e.Check(Scope{}, tt.command).Action; got != tt.want {
				t.Fatalf("Check(%q): got %q, want %q", tt.command, got, tt.want)
			}
		})
	}
}

func TestContinued(t *testing.T) {
	tests := []struct {
		line string
		want bool
	}{
		{`rm -rf \`, true},
		{`echo \\`, false},
		{`echo \\\`, true},
		{`ls`, false},
		{``, false},
	}
	for _, tt := range tests {
		if got := Continued(tt.line); got != tt.want {
			t.Errorf("Continued(%q): got %v, want %v", tt.line, got, tt.want)
		}
	}
}
