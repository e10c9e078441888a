package term

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// MessageID names a notice that the relay shows to the user.
type MessageID int

// The notices the relay writes to the user's terminal. Each starts and ends on
// a line of its own (the texts carry their "\r\n").
const (
	// MsgLocked is shown once when input is dropped because an administrator locked the session.
	MsgLocked MessageID = iota
	// MsgUnlocked is shown when the lock is lifted after MsgLocked was shown.
	MsgUnlocked
	// MsgDenied has two arguments: the rule name and the command.
	MsgDenied
	// MsgDeniedHidden has one argument, the rule name; used when the command
	// line could not be read from the screen, so its text is not repeated.
	MsgDeniedHidden
	// MsgAwaitApproval has two arguments: the rule name and the time limit.
	MsgAwaitApproval
	// MsgApproved has one argument: the approver.
	MsgApproved
	// MsgRejected has two arguments: the approver and the command.
	MsgRejected
	// MsgApprovalExpired has one argument: the command.
	MsgApprovalExpired
	// MsgApprovalUnavailable has one argument: the command.
	MsgApprovalUnavailable
	// MsgInputDiscarded is shown when the rest of a paste is dropped after a command was refused.
	MsgInputDiscarded
	// MsgKilled has one argument: the kill reason ("killed by <admin>: <reason>").
	MsgKilled
	// MsgIdle has one argument: the idle timeout.
	MsgIdle
	// MsgMaxDuration has one argument: the maximum duration.
	MsgMaxDuration
	// MsgRecordingFailed is shown when the session ends because its recording failed.
	MsgRecordingFailed
	// MsgRefused has one argument: why the program's own rules (term.Statements)
	// refused the line, e.g. a database client's shell escape.
	MsgRefused
	numMessages
)

// messages holds the texts per language; it is never modified.
var messages = map[string][numMessages]string{
	"en": {
		MsgLocked:              "\r\n[Portcullis] Your input is locked by an administrator.\r\n",
		MsgUnlocked:            "\r\n[Portcullis] Your input is unlocked.\r\n",
		MsgDenied:              "\r\n[Portcullis] Command denied by rule \"%s\": %s\r\n",
		MsgDeniedHidden:        "\r\n[Portcullis] Input denied by rule \"%s\".\r\n",
		MsgAwaitApproval:       "\r\n[Portcullis] This command needs approval (rule \"%s\"). Waiting for an approver (up to %s)…\r\n",
		MsgApproved:            "[Portcullis] Approved by %s.\r\n",
		MsgRejected:            "[Portcullis] Command rejected by %s: %s\r\n",
		MsgApprovalExpired:     "[Portcullis] No approval in time, command not run: %s\r\n",
		MsgApprovalUnavailable: "\r\n[Portcullis] This command needs approval but no approver is available: %s\r\n",
		MsgInputDiscarded:      "[Portcullis] The rest of the pasted input was discarded.\r\n",
		MsgKilled:              "\r\n[Portcullis] Session terminated (%s).\r\n",
		MsgIdle:                "\r\n[Portcullis] Session closed: no input for %s.\r\n",
		MsgMaxDuration:         "\r\n[Portcullis] Session closed: maximum duration of %s reached.\r\n",
		MsgRecordingFailed:     "\r\n[Portcullis] Session closed: it can no longer be recorded.\r\n",
		MsgRefused:             "\r\n[Portcullis] Refused: %s\r\n",
	},
	"zh-CN": {
		MsgLocked:              "\r\n[Portcullis] 您的输入已被管理员锁定。\r\n",
		MsgUnlocked:            "\r\n[Portcullis] 您的输入已解锁。\r\n",
		MsgDenied:              "\r\n[Portcullis] 命令被规则“%s”拒绝：%s\r\n",
		MsgDeniedHidden:        "\r\n[Portcullis] 输入被规则“%s”拒绝。\r\n",
		MsgAwaitApproval:       "\r\n[Portcullis] 此命令需要审批（规则“%s”），正在等待审批人（最长 %s）…\r\n",
		MsgApproved:            "[Portcullis] 已由 %s 批准。\r\n",
		MsgRejected:            "[Portcullis] 命令被 %s 拒绝：%s\r\n",
		MsgApprovalExpired:     "[Portcullis] 审批超时，命令未执行：%s\r\n",
		MsgApprovalUnavailable: "\r\n[Portcullis] 此命令需要审批，但没有可用的审批人：%s\r\n",
		MsgInputDiscarded:      "[Portcullis] 粘贴内容的其余部分已丢弃。\r\n",
		MsgKilled:              "\r\n[Portcullis] 会话已被终止（%s）。\r\n",
		MsgIdle:                "\r\n[Portcullis] 会话已关闭：%s 内无输入。\r\n",
		MsgMaxDuration:         "\r\n[Portcullis] 会话已关闭：已达到最长时长 %s。\r\n",
		MsgRecordingFailed:     "\r\n[Portcullis] 会话已关闭：无法继续录像。\r\n",
		MsgRefused:             "\r\n[Portcullis] 已拒绝：%s\r\n",
	},
}

// Languages lists the languages Message knows, the default first.
func Languages() []string { return []string{"en", "zh-CN"} }

// Message returns notice id in lang ("en" or "zh-CN"; anything else, including
// "zh" and "zh-Hans", is matched loosely and falls back to English), formatted
// with args. Arguments that come from the session (commands, reasons) are
// stripped of control characters so they cannot drive the user's terminal.
func Message(lang string, id MessageID, args ...any) string {
	if id < 0 || id >= numMessages {
		return ""
	}
	texts, ok := messages[normalizeLang(lang)]
	if !ok {
		texts = messages["en"]
	}
	if len(args) == 0 {
		return texts[id]
	}
	safe := make([]any, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case string:
			safe[i] = printable(v)
		case time.Duration:
			safe[i] = formatDuration(v)
		default:
			safe[i] = a
		}
	}
	return fmt.Sprintf(texts[id], safe...)
}

func normalizeLang(lang string) string {
	l := strings.ToLower(strings.TrimSpace(lang))
	if strings.HasPrefix(l, "zh") {
		return "zh-CN"
	}
	return "en"
}

// printable replaces control characters (C0, DEL, C1) with '?' and caps the
// length, so that text echoed in a notice cannot inject escape sequences.
func printable(s string) string {
	const max = 512
	if len(s) > max {
		s = s[:max] + "…"
	}
	clean := utf8.ValidString(s)
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			b.WriteByte('?')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatDuration renders d compactly: "45s", "30m", "1h30m", "2h".
func formatDuration(d time.Duration) string {
	if d < time.Second {
		return d.String()
	}
	d = d.Round(time.Second)
	h, m, s := int(d/time.Hour), int(d%time.Hour/time.Minute), int(d%time.Minute/time.Second)
	var b strings.Builder
	if h > 0 {
		fmt.Fprintf(&b, "%dh", h)
	}
	if m > 0 {
		fmt.Fprintf(&b, "%dm", m)
	}
	if s > 0 || b.Len() == 0 {
		fmt.Fprintf(&b, "%ds", s)
	}
	return b.String()
}
