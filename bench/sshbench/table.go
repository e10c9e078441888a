package main

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// row is one line of the results table.
type row struct {
	metric, direct, bastion, ratio, target, status string
}

// table collects the rows and notes of a run.
type table struct {
	size  int64
	mu    sync.Mutex // guards rows, notes
	rows  []row
	notes []string
}

func newTable(size int64) *table { return &table{size: size} }

func (t *table) add(r row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.rows = append(t.rows, r)
}

func (t *table) note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.notes = append(t.notes, fmt.Sprintf(format, args...))
}

// verdict is the status of a row with a target.
func verdict(ok bool) string {
	if ok {
		return "ok"
	}
	return "MISS"
}

// String renders the table with aligned columns, then the notes.
func (t *table) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	head := row{"metric", "direct", "bastion", "ratio", "target", ""}
	all := append([]row{head}, t.rows...)
	w := [5]int{}
	for _, r := range all {
		for i, c := range []string{r.metric, r.direct, r.bastion, r.ratio, r.target} {
			w[i] = max(w[i], len(c))
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "SSH gateway vs direct OpenSSH (loopback, %d cores shared by client, bastion and sshd; recording on)\n", runtime.NumCPU())
	for _, r := range all {
		dash := func(s string) string {
			if s == "" && r != head {
				return "-"
			}
			return s
		}
		line := fmt.Sprintf("%-*s  %-*s  %-*s  %-*s  %-*s  %s", w[0], r.metric, w[1], dash(r.direct), w[2], dash(r.bastion),
			w[3], dash(r.ratio), w[4], dash(r.target), r.status)
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	if len(t.notes) > 0 {
		b.WriteString("\nnotes:\n")
		for _, n := range t.notes {
			b.WriteString("  " + n + "\n")
		}
	}
	return b.String()
}
