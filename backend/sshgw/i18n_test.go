package sshgw

import "testing"

func TestMessagesComplete(t *testing.T) {
	for lang, list := range messages {
		if got, want := len(list), int(mLoadFailed)+1; got != want {
			t.Errorf("%s: got %v messages, want %v", lang, got, want)
		}
		for i, m := range list {
			if m == "" {
				t.Errorf("%s: message %d is empty", lang, i)
			}
		}
	}
}
