// Package reach connects Portcullis to an asset: straight over TCP when the
// asset has no zone, or through one of its zone's SSH gateways when it has one
// (the gateway opens a direct-tcpip channel to the asset, like `ssh -J`).
//
// # Gateways
//
// A zone's active gateways are tried in order of Priority, then ID, healthy
// ones first: a gateway that failed is marked unhealthy for a while (one
// minute by default, on the injected clock) and tried only after the others.
// When a gateway fails (it does not answer, its handshake or authentication
// fails, its host key changed) the next one is tried (failover). When a
// gateway is up but cannot reach the asset, the next gateway is tried too, but
// the first is not marked unhealthy.
//
// The SSH clients to gateways are pooled: every connection to the zone's
// assets is a channel of one client per gateway. A client with no open channel
// is closed after an idle time (five minutes by default); every client is
// probed with keepalive@openssh.com requests, and one that does not answer is
// closed and its gateway marked unhealthy. A pooled client whose gateway row
// changed (its UpdatedAt) is replaced.
//
// Gateways authenticate with the secret the vault keeps for them (a password,
// also answered to keyboard-interactive prompts, or an unencrypted private
// key), and their host keys are checked by hostkey (owner "gateway").
//
// # Connections
//
// The net.Conn returned by Dial supports deadlines on both paths (x/crypto's
// channel connections do not: reach adds them), so protocol clients such as
// telnet can bound their reads. SSH performs the SSH handshake with an asset
// over such a connection, checking the asset's host key with hostkey (owner
// "asset") and preferring AES-GCM ciphers, which have assembly on amd64 where
// x/crypto's chacha20-poly1305 has none.
//
// Every error names the hop that failed:
//
//	reach: gateway gw1 (10.1.0.2:22): ssh: handshake failed: ...
//	reach: asset web01 (10.2.0.5:22) via gateway gw1 (10.1.0.2:22): ssh: rejected: connect failed ("No route to host")
//	reach: asset web01 (10.2.0.5:22): ssh: handshake failed: hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED ...
package reach
