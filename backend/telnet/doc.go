// Package telnet is a telnet client (RFC 854) for network devices reached
// through Portcullis, with automatic login at the device's prompts.
//
// A *Conn is a term.Target: Read returns the server's data with the telnet
// commands taken out (IAC IAC becomes 0xFF, CR NUL becomes CR), Write sends
// data escaped for telnet (0xFF doubled, a bare CR sent as CR NUL, as BSD
// telnet does), Resize sends the window size.
//
// Option negotiation: the client performs NAWS (window size, sent when
// enabled and again on every Resize) and TTYPE (Options.Term), lets the server
// perform ECHO and SGA, and refuses every other option. It answers requests
// only; it never asks first, and it does not answer a request for a state
// already in force, so two peers cannot loop. Subnegotiations are bounded
// (1 KiB); longer ones are dropped.
//
// Dial logs in: it waits for the login prompt (Options.LoginPrompt), types
// the username, waits for the password prompt, types the password, then
// waits for a shell or device prompt (Options.Prompt, or any output followed
// by Options.Quiet of silence) or a refusal (Options.FailurePattern, or the
// login or password prompt coming back), all within Options.Timeout. The
// output of the login (banner, MOTD, prompt) is kept for Banner so the user
// sees it; the password never is. After the login every byte is passed
// through untouched, except for telnet commands.
//
// Dial needs read deadlines on its connection: the connections of
// reach.Dialer have them, also through a gateway.
package telnet
