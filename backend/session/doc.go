// Package session keeps the registry of the live sessions of one portcullisd
// node: every terminal session the relay (backend/term) runs is started here,
// which inserts its store.Session row, and ended here, which closes the row
// with its end reason, byte counts and command count. Rows left open by a
// crash are closed as "interrupted" by RecoverInterrupted at the next start.
//
// While a session runs, its output fans out to watchers (administrators and
// auditors following it live, and people who joined it with a share link).
// Fan-out never makes the session wait: each watcher has a bounded buffer and
// a watcher that falls behind is dropped. A watcher that arrives mid-session
// first receives a snapshot of the screen, rendered from the recent output by
// a VT emulator, so that its terminal is not blank.
//
// Administrators can lock a session's input, kill it with a reason the user
// sees, and share it as a link (read-only or interactive) that expires.
//
// Commands held by a "confirm" command filter wait in RequestApproval until an
// approver decides (Decide), the request times out, the session is killed or
// its context ends. Pending approvals are store.Approval rows, so a decision
// taken on another node that shares the PostgreSQL database reaches the
// waiting session too (the row is polled every second); decisions taken on
// the same node arrive at once.
//
// The registry is in memory and per node: List, Get, Kill, Lock and Share see
// only the sessions this node hosts. Its Live methods are safe for concurrent
// use.
package session
