// Package term is the terminal session core shared by every terminal protocol
// (SSH gateway, web terminal, telnet, database CLIs): Run relays bytes between
// the user's terminal and a Target, records the output, derives the commands the
// user runs from what the terminal shows (package cmdline), checks each one
// against the command filters before its Enter reaches the target, and keeps the
// live-session registry informed (watchers, joiners, lock, kill).
//
// The data path is kept short: output is written to the user first and handed to
// the recorder, the live watchers and the command extractor without waiting for
// any of them; an ordinary keystroke goes straight to the target without an
// allocation. Only the Enter key takes the slow path: the relay lets the echo
// settle, asks the extractor for the command line on screen, and applies the
// filter's verdict (allow, warn, confirm by an approver, deny).
//
// PtyTarget runs a local program in a pseudo-terminal; it serves the database
// gateway (CLI clients) and the tests.
package term
