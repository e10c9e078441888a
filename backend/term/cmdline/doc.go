// Package cmdline derives the command lines a user really runs in a terminal
// session from what the terminal shows, not from the raw keys: history
// recall, tab completion, Ctrl-U/Ctrl-W/Backspace editing, Ctrl-L, Ctrl-R
// searches and pastes of several lines all end up as the text on screen.
//
// An Extractor runs a compact VT100/xterm screen model fed with the target's
// output (Output). It keeps one rune per cell and a soft-wrap flag per row of
// the main screen, about 8 KiB for 80x24, and parses with the DEC-compatible
// parser of github.com/charmbracelet/x/ansi; its tests check it against the
// full emulator github.com/charmbracelet/x/vt, which is not used at run time
// because it needs about 4.5 MiB of heap per terminal and blocks on queries
// such as the cursor position report vim sends.
//
// When the user starts typing a line (the first Input after an Enter) the
// cursor marks the end of the prompt, and the prompt's text is kept. At
// Enter the command is the text from there to the end of the logical line,
// soft-wrapped rows joined, rows ended by a newline (a bracketed paste of
// several lines) joined with "\n". The mark follows the content as it
// scrolls; when the shell redraws its prompt elsewhere (a list of
// completions, Ctrl-L, Ctrl-C) the prompt's text is looked for from the
// cursor upwards.
//
// Enter reports no command (ok=false) inside full-screen programs (the
// alternate screen: vim, less, htop), at prompts that do not echo (the keys
// typed did not appear, or only asterisks did: passwords), and at a line
// ending with a backslash, which the shell continues: the next Enter then
// returns the lines joined as the shell runs them.
//
// # Driving an Extractor from a relay
//
// Feed every byte the target prints to Output, and resize with Resize. For
// each read from the user:
//
//	for _, seg := range x.SplitAtEnter(p) {
//		x.Input(seg.Keys)
//		target.Write(seg.Keys)
//		if seg.Enter == nil {
//			continue
//		}
//		if !x.FullScreen() {
//			waitQuiet(30 * time.Millisecond) // the echo of the keys has arrived
//		}
//		cmd, ok := x.Enter()
//		switch {
//		case ok && cmd != "":
//			// check cmd against the filters, log it, then forward seg.Enter or
//			// discard the line
//		case !ok && x.Blind() != "":
//			// optionally check x.Blind() against deny rules; never log it
//		}
//		target.Write(seg.Enter) // unless denied
//	}
//
// Waiting for the echo matters: Enter reads the screen, and keys whose echo
// has not arrived yet are missing from it (a line with none of its keys
// echoed looks like a password). Wait until the target's output has been
// quiet for about 30 ms, bounded (say 500 ms) so that a target that never
// stops printing cannot stall the session. A paste arrives in one read:
// SplitAtEnter cuts it at each Enter so that each line is checked before the
// next is sent, except inside a bracketed paste when the application asked
// for one (bash does): the shell then holds the pasted lines until the next
// real Enter, where Enter returns them all.
//
// Output costs a few hundred megabytes a second of CPU time; a relay that
// drops output rather than fall behind must call Lost, or a dropped
// "leave the alternate screen" would leave every later line unchecked.
//
// To discard a denied line, send Ctrl-E Ctrl-U (end of line, then kill to
// the start) or Ctrl-C rather than Ctrl-U alone: the cursor need not be at
// the end of the line when the user presses Enter, and Ctrl-U only kills
// what is before it.
//
// # Limits
//
// What the screen shows is under the target's control. `printf '\e[?1049h'`
// makes a shell look like a full-screen program and `stty -echo` (in a shell
// without line editing) hides what is typed; Blind gives the line rebuilt
// from the keys in those cases so that a relay can still apply deny rules.
// Keys typed ahead, before the shell has printed its prompt, may shift the
// mark of the prompt's end; the prompt's text usually finds it again. A
// command longer than the screen is cut to what is visible. Full-screen
// programs that do not use the alternate screen (top) are not told apart.
// Ctrl-O (readline's operate-and-get-next) runs the line like Enter and is
// treated as one. What the shell makes of the line is not seen: history
// expansion (!!, ^old^new), fc and Ctrl-X Ctrl-E, aliases, functions and
// variables run more than the screen shows.
package cmdline
