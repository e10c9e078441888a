// Package hostkey decides whether Portcullis trusts the SSH host key a target
// presents: trust on first use (TOFU), recorded per owner (an asset or a
// gateway, by ID) and per address ("host:port").
//
// The first connection to an owner's address records the presented key (its
// type, its SHA256 fingerprint as OpenSSH prints it, and its wire bytes) and
// writes a "hostkey.record" row to the operation log. Every later connection
// must present that same key. A different key refuses the connection with a
// *MismatchError (errors.Is(err, ErrChanged)), writes a "hostkey.mismatch"
// row (success false) to the operation log and calls the Alarm, which by
// default (MailAlarm) logs at error level and mails the organization's
// administrators when SMTP is configured.
//
// One key is recorded per owner and address. Algorithms returns the host key
// algorithms a client should offer so that negotiation picks the recorded key
// type when the server still has it (OpenSSH's known-host ordering): the
// recorded type first, then the other plain-key algorithms. A server that no
// longer offers the recorded type presents another key, which is refused as a
// changed identity, as OpenSSH does with StrictHostKeyChecking. Host
// certificates are not negotiated: their plain keys are pinned instead.
//
// An administrator who knows a key changed for a good reason (the host was
// reinstalled) resets it with Forget, or by deleting the row through the API
// (DELETE /api/v1/host-keys/{id}); the next connection records the new key.
package hostkey
