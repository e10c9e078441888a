// Package sshgw is Portcullis' SSH gateway: the door through which people
// reach servers and network devices with their own OpenSSH client, so that
// every session is authenticated, authorized, recorded, filtered and visible
// live.
//
//	ssh -p 2222 alice@bastion                    # the asset picker
//	ssh -p 2222 alice@web01@bastion              # a shell on web01
//	ssh -p 2222 alice@root@web01@bastion         # ... as the account root
//	ssh -p 2222 alice@web01@bastion uptime       # one command
//	sftp -P 2222 alice@web01@bastion             # files (scp too, and scp -O)
//	ssh -p 2222 -L 8080:10.0.0.5:80 alice@web01@bastion   # local forwarding through web01
//
// # Connections
//
// Server speaks SSH with golang.org/x/crypto/ssh, offering only modern
// algorithms (see KeyExchanges, Ciphers, MACs; host keys Ed25519 and RSA
// 3072 with SHA-2 signatures only, kept in Config.HostKeyDir as OpenSSH
// private keys). Each TCP connection is served on its own goroutine that
// recovers from a panic: a bad connection never takes the server down. The
// handshake and authentication are bounded by Config.HandshakeTimeout, the
// connections still in their handshake by Config.MaxUnauthenticated, and the
// channels of one connection by Config.MaxChannels.
//
// # Authentication
//
// The SSH user name is parsed by ParseTarget: the Portcullis user, then
// optionally an account and an asset. A malformed one (empty parts, control
// characters, invalid UTF-8, over MaxLoginNameLen) is refused with a banner
// saying why, and audited. Users log in through auth.Service with channel
// "ssh", so login ACLs, lockout, throttling and the login log apply exactly as
// for the web: by password ("password" or keyboard-interactive, "Password: "
// then, for TOTP users, "Verification code: "), or by a public key
// registered on their profile, followed, for TOTP users, by the code through
// keyboard-interactive (a partial success). A user who must change their
// password or enroll in TOTP is told to log in to the web UI first.
//
// # Sessions
//
// After login, a "shell" without a target shows the picker: a searchable,
// paged list of the assets perm grants (searched server-side), with an account
// list when an asset has several, help, English and Chinese (from the LANG
// the client sends), resizes. Picking an asset, or naming it in the user name,
// resolves the account (typed credentials for @INPUT and @USER), checks
// perm.Resolver.Check for "connect", dials the target through reach (zones,
// TOFU host keys) and runs term.Run: the session is registered live, recorded
// as asciicast under <recordings>/YYYY/MM/DD/<id>.cast.gz and its commands
// checked by the organization's command filters. Telnet assets go through the
// same picker with an automatic login at the device's prompts.
//
// An "exec" is checked by the same filters before it runs (deny: refused
// with the reason on stderr and exit status 1; confirm: held for an approver;
// warn and allow: run), logged as a command, its output recorded, and its exit
// status relayed. SFTP and scp (both protocols) are served by sftpproxy with
// the policy of the upload and download actions; every transfer is logged.
//
// Local port forwarding (direct-tcpip) is opened by the target and needs the
// "forward" action; agent forwarding needs "agent". Remote forwarding and X11
// are refused. Every refusal is written to the operation log.
package sshgw
