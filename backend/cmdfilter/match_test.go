package cmdfilter

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/backend/store"
)

// builtin compiles the built-in "dangerous commands" group as a deny rule.
func builtin(t testing.TB) *Engine {
	t.Helper()
	e := Compile(1, []store.CommandFilter{{
		ID: 1, OrgID: 1, Name: "Deny dangerous commands", Priority: 10, Action: store.FilterDeny, IsActive: true,
		Groups: []store.CommandGroup{{ID: 1, Name: "Dangerous commands", Kind: KindCommand, Content: store.DangerousCommands}},
	}})
	if p := e.Problems(); len(p) > 0 {
		t.Fatalf("built-in group does not compile: %v", p)
	}
	return e
}

func TestBuiltinGroup(t *testing.T) {
	e := builtin(t)
	tests := []struct {
		command string
		want    string // the matching entry, "" for none
	}{
		// rm
		{"rm -rf /", "rm -rf /"},
		{"rm  -rf   /", "rm -rf /"},
		{"rm -rf \"/\"", "rm -rf /"},
		{"rm -rf '/'", "rm -rf /"},
		{"rm -fr /", "rm -rf /"},
		{"rm -r -f /", "rm -rf /"},
		{"rm -R -f /", "rm -rf /"},
		{"rm --recursive --force /", "rm -rf /"},
		{"rm -rf -- /", "rm -rf /"},
		{"rm -rf / --no-preserve-root", "rm -rf /"},
		{"rm --no-preserve-root -rf /", "rm -rf /"},
		{"rm -rf //", "rm -rf /"},
		{"rm -rf /tmp/..", "rm -rf /"},
		{"rm -rf /tmp /", "rm -rf /"},
		{"rm -rf /*", "rm -rf /*"},
		{"rm -r /", "rm -r /"},
		{"/bin/rm -rf /", "rm -rf /"},
		{"/usr/bin/rm -rf /", "rm -rf /"},
		{`\rm -rf /`, "rm -rf /"},
		{`r\m -rf /`, "rm -rf /"},
		{`"rm" -rf /`, "rm -rf /"},
		{`r''m -rf /`, "rm -rf /"},
		{"rm -rf /tmp/x", ""},
		{"rm -rf ./", ""},
		{"rm -f /etc/motd", ""},
		{"rm /", ""},
		{"echo rm -rf /", ""},
		{"echo 'rm -rf /tmp'", ""},
		{"grep -r rm /", ""},
		// command boundaries
		{"ls; rm -rf /", "rm -rf /"},
		{"ls;rm -rf /", "rm -rf /"},
		{"ls && rm -rf /", "rm -rf /"},
		{"false || rm -rf /", "rm -rf /"},
		{"echo | rm -rf /", "rm -rf /"},
		{"sleep 1 & rm -rf /", "rm -rf /"},
		{"echo $(rm -rf /)", "rm -rf /"},
		{"echo `rm -rf /`", "rm -rf /"},
		{"echo \"$(rm -rf /)\"", "rm -rf /"},
		{"ls\nrm -rf /", "rm -rf /"},
		{"(rm -rf /)", "rm -rf /"},
		{"{ rm -rf /; }", "rm -rf /"},
		{"if true; then rm -rf /; fi", "rm -rf /"},
		{"for i in 1; do rm -rf /; done", "rm -rf /"},
		{"! rm -rf /", "rm -rf /"},
		{"rm -rf \\\n/", "rm -rf /"},
		{"rm${IFS}-rf${IFS}/", "rm -rf /"},
		{"rm$IFS-rf$IFS/", "rm -rf /"},
		{"{rm,-rf,/}", "rm -rf /"},
		{"echo {a,b}", ""},
		// prefixes
		{"sudo rm -rf /", "rm -rf /"},
		{"sudo -u root rm -rf /", "rm -rf /"},
		{"sudo -uroot -E -- rm -rf /", "rm -rf /"},
		{"sudo -n -H -u root -g wheel rm -rf /", "rm -rf /"},
		{"env FOO=1 rm -rf /", "rm -rf /"},
		{"env -i -u HOME rm -rf /", "rm -rf /"},
		{"FOO=1 BAR=2 rm -rf /", "rm -rf /"},
		{"nohup rm -rf / &", "rm -rf /"},
		{"time rm -rf /", "rm -rf /"},
		{"time -p rm -rf /", "rm -rf /"},
		{"exec rm -rf /", "rm -rf /"},
		{"command rm -rf /", "rm -rf /"},
		{"builtin command rm -rf /", "rm -rf /"},
		{"nice -n 19 ionice -c3 rm -rf /", "rm -rf /"},
		{"timeout -s KILL 10 rm -rf /", "rm -rf /"},
		{"sudo nohup nice rm -rf /", "rm -rf /"},
		{"sh -c 'rm -rf /'", "rm -rf /"},
		{"bash -lc \"rm -rf /\"", "rm -rf /"},
		{"sudo sh -c 'cd /tmp && rm -rf /'", "rm -rf /"},
		{"su - root -c 'rm -rf /'", "rm -rf /"},
		{"eval rm -rf /", "rm -rf /"},
		{"eval 'rm -rf /'", "rm -rf /"},
		{"eval eval eval eval eval eval eval eval eval eval rm -rf /", "rm -rf /"},
		{strings.Repeat("sudo ", 40) + "rm -rf /", "rm -rf /"},
		{"sh -c \"sh -c 'sh -c \\\"rm -rf /\\\"'\"", "rm -rf /"},
		{"env -S 'rm -rf /'", "rm -rf /"},
		{"busybox rm -rf /", "rm -rf /"},
		{"bash script.sh", ""},
		// mkfs, dd
		{"mkfs /dev/sdb", "mkfs"},
		{"mkfs.ext4 /dev/sdb", "mkfs"},
		{"sudo mkfs.btrfs -f /dev/sdc1", "mkfs"},
		{"mkfsfoo", ""},
		{"mke2fs -t ext4 /dev/sdb1", "mke2fs"},
		{"wipefs -a /dev/sdb", "wipefs -a"},
		{"wipefs /dev/sdb", ""},
		{"echo mkfs", ""},
		{"dd if=/dev/zero of=/dev/sda bs=1M", "dd of=/dev/sda"},
		{"dd of=/dev/sda if=/dev/zero", "dd of=/dev/sda"},
		{"dd if=/dev/sda of=/tmp/disk.img", ""},
		{"dd if=/dev/zero of=/dev/nvme0n1", "dd of=/dev/nvme0n1"},
		// power
		{"shutdown -h now", "shutdown"},
		{"shutdown", "shutdown"},
		{"/sbin/shutdown -r +5", "shutdown"},
		{"echo shutdown", ""},
		{"man shutdown", ""},
		{"reboot", "reboot"},
		{"sudo reboot -f", "reboot"},
		{"init 0", "init 0"},
		{"init 3", ""},
		{"systemctl reboot", "systemctl reboot"},
		{"systemctl --force reboot", "systemctl reboot"},
		{"systemctl restart nginx", ""},
		{"poweroff", "poweroff"},
		{"halt", "halt"},
		// fork bombs
		{":(){ :|:& };:", ":(){ :|:& };:"},
		{":(){ :|: & };:", ":(){ :|:& };:"},
		{": ( ) { : | : & } ; :", ":(){ :|:& };:"},
		{":(){\n:|:&\n};:", ":(){ :|:& };:"},
		{"bomb(){ bomb|bomb& };bomb", ":(){ :|:& };:"},
		{"f() { f | f & }; f", ":(){ :|:& };:"},
		{"function b() { b|b & }; b", ":(){ :|:& };:"},
		{"f() { echo hi; }; f", ""},
		// permissions
		{"chmod -R 777 /", "chmod -R 777 /"},
		{"chmod 777 -R /", "chmod -R 777 /"},
		{"chmod --recursive 777 /", "chmod -R 777 /"},
		{"chmod -R 777 /var/www", ""},
		{"chmod 777 /", ""},
		{"chown -R nobody:nogroup /", "chown -R /"},
		{"chown -R www-data /var/www", ""},
		// redirections
		{"echo x > /dev/sda", "> /dev/sda"},
		{"cat image >/dev/sda", "> /dev/sda"},
		{"cat image 1>/dev/sda", "> /dev/sda"},
		{"cat image &> /dev/sda", "> /dev/sda"},
		{"cat image >> /dev/sda", "> /dev/sda"},
		{"> /dev/sda", "> /dev/sda"},
		{"ls 2>&1 > /dev/null", ""},
		{"ls > /dev/null", ""},
		{"cat < /dev/sda", ""},
		// ordinary work
		{"ls -la", ""},
		{"cd / && ls", ""},
		{"git commit -m 'reboot the thing'", ""},
		{"", ""},
		{"   ", ""},
	}
	for _, tt := range tests {
		t.Run(tt.command, func(t *testing.T) {
			v := e.Check(Scope{}, tt.command)
			if v.Pattern != tt.want {
				t.Errorf("got pattern %q (action %q), want %q", v.Pattern, v.Action, tt.want)
			}
			wantAction, wantRisk := "", RiskLow
			if tt.want != "" {
				wantAction, wantRisk = store.FilterDeny, RiskCritical
			}
			if v.Action != wantAction || v.Risk != wantRisk {
				t.Errorf("got action %q risk %q, want %q %q", v.Action, v.Risk, wantAction, wantRisk)
			}
		})
	}
}

func TestGroups(t *testing.T) {
	tests := []struct {
		name       string
		kind       string
		content    string
		ignoreCase bool
		command    string
		want       string
	}{
		{"regex anywhere", KindRegex, `rm\s+-[a-z]*r`, false, "cd /; rm -fr x", `rm\s+-[a-z]*r`},
		{"regex no match", KindRegex, `^reboot$`, false, "sudo reboot", ""},
		{"regex ignore case", KindRegex, `drop\s+table`, true, "DROP TABLE users;", `drop\s+table`},
		{"regex case sensitive", KindRegex, `drop\s+table`, false, "DROP TABLE users;", ""},
		{"command ignore case", KindCommand, "shutdown", true, "SHUTDOWN -h now", "shutdown"},
		{"command case sensitive", KindCommand, "shutdown", false, "SHUTDOWN -h now", ""},
		{"second line", KindCommand, "reboot\n\n  halt  \r\n", false, "halt -p", "halt"},
		{"wrapper entry", KindCommand, "sudo", false, "sudo -i", "sudo"},
		{"wrapper entry after env", KindCommand, "sudo", false, "env sudo ls", "sudo"},
		{"su entry", KindCommand, "su", false, "su - root", "su"},
		{"pipeline entry", KindCommand, "curl | sh", false, "curl https://x.example |  sh", "curl | sh"},
		{"argument entry", KindCommand, "iptables -F", false, "iptables -t nat -F", "iptables -F"},
		{"long option entry", KindCommand, "git push --force", false, "git push origin main --force", "git push --force"},
		{"long option absent", KindCommand, "git push --force", false, "git push origin main", ""},
		{"mysql statement", KindRegex, `(?i)\bdrop\s+database\b`, false, "drop database prod", `(?i)\bdrop\s+database\b`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Compile(1, []store.CommandFilter{{
				ID: 7, Name: "rule", Action: store.FilterWarn, IsActive: true,
				Groups: []store.CommandGroup{{Name: "g", Kind: tt.kind, Content: tt.content, IgnoreCase: tt.ignoreCase}},
			}})
			if p := e.Problems(); len(p) > 0 {
				t.Fatalf("problems: %v", p)
			}
			v := e.Check(Scope{}, tt.command)
			if v.Pattern != tt.want {
				t.Errorf("got pattern %q, want %q", v.Pattern, tt.want)
			}
			if tt.want != "" && (v.Action != store.FilterWarn || v.Risk != RiskMedium || v.FilterID != 7 || v.FilterName != "rule" || v.GroupName != "g") {
				t.Errorf("got verdict %+v, want warn/medium from filter 7 rule, group g", v)
			}
		})
	}
}

func TestRiskOf(t *testing.T) {
	for action, want := range map[string]string{
		store.FilterDeny: RiskCritical, store.FilterConfirm: RiskHigh, store.FilterWarn: RiskMedium,
		store.FilterAllow: RiskLow, "": RiskLow, "bogus": RiskLow,
	} {
		if got := RiskOf(action); got != want {
			t.Errorf("RiskOf(%q): got %q, want %q", action, got, want)
		}
	}
}

func TestLongCommand(t *testing.T) {
	e := builtin(t)
	pad := strings.Repeat("a", MaxCommandLen)
	tests := []struct {
		name, command string
		want          string
	}{
		{"dangerous command first", "rm -rf /; echo " + pad, store.FilterDeny},
		{"dangerous command past the limit", "echo " + pad + "; rm -rf /", ""},
		{"cut in the middle of a path", strings.Repeat("x", MaxCommandLen-10) + "; rm -rf /tmp/x/y/z", ""},
		{"many separators", strings.Repeat(";", MaxCommandLen-20) + "rm -rf /", store.FilterDeny},
		{"many words", strings.Repeat("ls ", MaxCommandLen/3-10) + "; reboot", store.FilterDeny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := e.Check(Scope{}, tt.command).Action; got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValidateGroup(t *testing.T) {
	tests := []struct {
		name, kind, content string
		wantErr             bool
	}{
		{"commands", KindCommand, store.DangerousCommands, false},
		{"sql", KindRegex, store.DangerousSQL, false},
		{"regexes", KindRegex, "^rm\\b\n(?i)drop", false},
		{"bad regex", KindRegex, "ok\n(unclosed", true},
		{"unknown kind", "glob", "rm", true},
		{"assignment only", KindCommand, "FOO=1", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateGroup(tt.kind, tt.content, false)
			if (err != nil) != tt.wantErr {
				t.Errorf("got error %v, want error %v", err, tt.wantErr)
			}
		})
	}
}

// FuzzCheck runs random commands against the built-in group: Check never
// panics, and a known dangerous command appended after ";" is always denied.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"ls -la", "echo 'unclosed", "echo \"x", "a\\", "$(", "`", "sudo -u", "sh -c", "cat <<EOF", "# comment", "x=1", "\x00\xff", "eval", "env -S"} {
		f.Add(s)
	}
	e := builtin(f)
	dangerous := []string{"rm -rf /", "mkfs.ext4 /dev/sdb", "dd if=/dev/zero of=/dev/sda", "shutdown -h now", "reboot", ":(){ :|:& };:", "chmod -R 777 /"}
	f.Fuzz(func(t *testing.T, prefix string) {
		e.Check(Scope{}, prefix)
		if len(prefix) > MaxCommandLen/2 {
			return
		}
		for _, d := range dangerous {
			cmd := prefix + "; " + d
			if v := e.Check(Scope{}, cmd); v.Action != store.FilterDeny {
				t.Fatalf("%q: got %+v, want deny", cmd, v)
			}
		}
	})
}

func TestBuiltinSQLGroup(t *testing.T) {
	e := Compile(1, []store.CommandFilter{{
		ID: 1, OrgID: 1, Name: "Deny dangerous SQL", Priority: 11, Action: store.FilterDeny, IsActive: true,
		Groups: []store.CommandGroup{{ID: 2, Name: "Dangerous SQL", Kind: KindRegex, Content: store.DangerousSQL, IgnoreCase: true}},
	}})
	if p := e.Problems(); len(p) > 0 {
		t.Fatalf("built-in SQL group does not compile: %v", p)
	}
	tests := []struct {
		stmt string
		deny bool
	}{
		{"DROP DATABASE shop;", true},
		{"drop schema if exists shop", true},
		{"/* tidy */ DROP /**/ DATABASE shop;", true},
		{"DROP\nDATABASE shop;", true},
		{"DROP TABLE orders;", true},
		{"drop temporary table t", true},
		{"TRUNCATE orders;", true},
		{"truncate table orders", true},
		{"DELETE FROM orders;", true},
		{"delete from shop.orders as o;", true},
		{"DELETE FROM orders\\G", true},
		{"FLUSHALL", true},
		{"flushdb async", true},
		{"3 FLUSHALL", true},
		{"CONFIG SET requirepass x", true},
		{"DELETE FROM orders WHERE id = 1;", false},
		{"delete from orders\nwhere id = 1", false},
		{"SELECT truncate(1.25, 1);", false},
		{"select 'drop database x'", false},
		{"CREATE DATABASE shop;", false},
		{"DROP INDEX idx ON t;", false},
		{"CONFIG GET maxmemory", false},
		{"truncate -s 0 app.log", false},
		{"git config set user.name x", false},
	}
	for _, tt := range tests {
		t.Run(tt.stmt, func(t *testing.T) {
			v := e.CheckStatement(Scope{OrgID: 1}, tt.stmt)
			if got := v.Action == store.FilterDeny; got != tt.deny {
				t.Errorf("got deny %v (%+v), want %v", got, v, tt.deny)
			}
		})
	}
}
