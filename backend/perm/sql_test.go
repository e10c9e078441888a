package perm

import (
	"slices"
	"testing"
)

func TestIDSet(t *testing.T) {
	for _, ids := range [][]uint{nil, {0}, {5, 3, 5, 64, 63, 1000}, {1 << 40, 7, 1 << 40}} {
		s := newIDSet(ids)
		want := slices.Compact(slices.Sorted(slices.Values(ids)))
		got := slices.Sorted(slices.Values(s.ids()))
		if !slices.Equal(got, want) || s.len() != len(want) {
			t.Errorf("newIDSet(%v): got %v (len %d), want %v", ids, got, s.len(), want)
		}
		for _, id := range ids {
			if !s.has(id) {
				t.Errorf("newIDSet(%v) lacks %d", ids, id)
			}
		}
		if s.has(4) || s.has(1<<41) {
			t.Errorf("newIDSet(%v) has what it should not", ids)
		}
	}
}

func TestRootsAndPath(t *testing.T) {
	g := &grants{keys: map[uint]string{1: "1", 12: "1:12", 120: "2:120", 3: "2:120:3", 4: "4", 41: "4:41:xyz", 7: ""}}
	if got, want := g.roots(), []uint{1, 4, 7, 120}; !slices.Equal(got, want) {
		t.Errorf("roots: got %v, want %v", got, want)
	}
	for _, tt := range []struct {
		node uint
		key  string
		want []uint
	}{
		{1, "1", []uint{1}},
		{3, "2:120:3", []uint{2, 120, 3}},
		{9, "", []uint{9}},
		{9, "2:x:9", []uint{2, 9}},
	} {
		if got := path(tt.node, tt.key); !slices.Equal(got, tt.want) {
			t.Errorf("path(%d, %q): got %v, want %v", tt.node, tt.key, got, tt.want)
		}
	}
}

func TestLikePattern(t *testing.T) {
	if got, want := likePattern(`a%b_c\d`), `%a\%b\_c\\d%`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if got, want := protocolNeedle(`ssh`), `"name":"ssh"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func FuzzParseIDs(f *testing.F) {
	for _, s := range []string{"", "1", "1,2,3", ",", "1,,2", "18446744073709551615", "99999999999999999999", "1a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids, err := parseIDs(s)
		if err != nil {
			return
		}
		if back := idList(ids); back != s && !(s == "" && back == "") {
			// Leading zeros are the only other spelling a success allows.
			again, err := parseIDs(back)
			if err != nil || !slices.Equal(again, ids) {
				t.Errorf("parseIDs(%q) = %v, which formats as %q", s, ids, back)
			}
		}
	})
}
