// Package guacgw carries RDP and VNC sessions: guacd (Apache Guacamole's
// proxy daemon) speaks RDP or VNC to the target and the Guacamole protocol to
// us, and guacgw relays that protocol to the user's browser over our own
// WebSocket, enforces the session's policy on it and records it as a .guac
// file.
//
//	tun, err := guacgw.Dial(ctx, "127.0.0.1:4822", guacgw.Params{Protocol: "rdp", Hostname: "win01", ...})
//	rec, err := guacgw.CreateRecording(path, guacgw.RecordingOptions{})
//	res, err := guacgw.Serve(ctx, guacgw.Config{Client: guacgw.WebSocketClient(ws), Tunnel: tun, Recorder: rec})
//
// # The Guacamole protocol
//
// An instruction is a list of elements, each a decimal length, a period and
// that many characters, separated by commas and ended by a semicolon:
// "4.size,1.0,4.1024,3.768;". Lengths count Unicode code points, not bytes
// (guacd counts UTF-8 characters); Instruction.String and Reader follow
// guacd. Reader reads whole instructions from a stream however it is cut,
// checks each byte once, and refuses an instruction over its limit as soon
// as a length prefix shows it (ErrTooLong) and anything that is not the
// protocol (ErrMalformed). Browser input is held to guacd's own parser
// limits (MaxElementLength characters per element, MaxElements elements)
// and to MaxClientInstruction bytes.
//
// # The handshake and its pitfalls
//
// Dial and Join do the handshake themselves: "select" (a protocol, or a
// connection ID to join), guacd's "args", then "size", "audio", "video",
// "image", "timezone", "name" and "connect" in one write, and "ready" with
// the connection ID. DESIGN.md names github.com/wwt/guac for this; its
// Stream.Handshake is not used (tunnel.go says why: lengths in bytes, no
// timezone, no ctx, a private rune buffer after "ready"), and the tests
// keep its pitfall in view:
//
//   - guacd announces its protocol version as the first name in "args"
//     (VERSION_1_5_0 for 1.5 and 1.6) and expects a version back in its
//     place. wwt/guac answers every name from its Parameters map, so unless
//     VERSION_1_5_0 is mapped to itself guacd gets "" and falls back to
//     protocol 1.0.0. Params.Args answers the version both sides speak.
//   - guacd answers "ready" before it contacts the target, so a bad host or
//     password shows up later as an "error" instruction in the session, not
//     as a Dial error; Result.GuacdError keeps its message.
//   - guacd 1.6.0's VNC client crashed (SIGSEGV in the connection's
//     process, taking all its users down) on most "disconnect"
//     instructions that came right after the first frame, and never when
//     the connection was simply closed. Serve never sends "disconnect" and
//     does not forward the browser's: it ends the session and closes the
//     connection, which guacd handles as the user leaving.
//   - wwt/guac resets a 15 s read deadline on every read and its WebSocket
//     server accepts any Origin. Here, ctx bounds the handshake
//     (HandshakeTimeout at most), the relay has no read deadline on guacd,
//     and Origin checks and authentication belong to the HTTP handler that
//     upgrades the connection (with WebSocketSubprotocol) before it hands
//     WebSocketClient to Serve.
//
// An address where nothing answers is ErrGuacdUnreachable within
// DialTimeout; something that answers but is not guacd is ErrNotGuacd.
// Ping checks both for the settings page and the health check.
//
// # The relay
//
// Serve runs two goroutines. From guacd to the browser it reads whole
// instructions and batches those already buffered into one WebSocket message
// (up to 64 KiB; it never waits for more), tees each batch into the
// recording, and sends it. From the browser to guacd it parses every message,
// answers the tunnel's keep-alive ping itself, drops opcodes guacd does not
// accept from a browser after the handshake ("select", "connect", ...), and
// applies the policy carried by the Tunnel: no paste, upload or download
// streams unless allowed (refused with an "ack" of status
// StatusClientForbidden so both ends close the stream), nothing but sync,
// ack and nop from a read-only watcher. A malformed instruction ends the
// session with an "error" instruction to the browser; so do a kill, the idle
// timeout, the maximum duration, and a guacd that sends garbage or hangs up
// without saying goodbye. A "disconnect" from the browser ends the session
// normally.
//
// # Input waits for the first frame
//
// guacd 1.6.0 can crash on user input that arrives before its first frame.
// Serve therefore holds everything the browser sends, in order and within
// MaxPendingInput, until guacd's first "sync" has been written to the
// browser, and then InputGrace (300 ms) longer: with guacd 1.6.0 and VNC, a
// pointer event sent right after the first sync still crashed the
// connection's process in 8 of 20 tries in our tests, and none of 20 with
// a 200 ms pause. RDP sends its first sync before the desktop is up, so
// waiting for more than a sync would also hold the browser's sync answers,
// and guacd drops a user who does not answer for 15 s. The fake guacd's
// tests check that nothing reaches guacd earlier.
//
// # Recordings
//
// A .guac recording is the server-to-client instruction stream as the
// browser saw it (without the tunnel's own instructions), which
// Guacamole.SessionRecording in guacamole-common-js and guacenc play back;
// recording it ourselves works with any guacd and needs no shared
// directory. The client's "key" instructions are added only when
// Config.RecordKeys says so (they hold passwords), with a timestamp as guacd
// writes them; "mouse" on Config.RecordMouse. RecordingWriter buffers in
// memory, writes to the file every 200 ms and fsyncs every 5 s and at Close,
// so a crash of the process loses at most the last 200 ms and leaves at most
// a partial last instruction, which RepairRecording cuts off.
//
// # Testing
//
// Package fakeguacd is a protocol-level fake of guacd for tests: it speaks
// the real Guacamole handshake and sends size/img/sync; it renders nothing.
// Tests against a real guacd run when GUACD_ADDR and GUACD_TARGET are set
// (README.md).
package guacgw
