package sshgw

import "golang.org/x/crypto/ssh"

// The algorithms the gateway offers: only modern ones, so that ssh-audit
// reports no failure. x/crypto/ssh implements neither
// sntrup761x25519-sha512@openssh.com nor any SHA-1 or CBC algorithm we would
// want to offer; curve25519-sha256@libssh.org is added by x/crypto as an alias
// of curve25519-sha256 for older OpenSSH clients.
var (
	// KeyExchanges: post-quantum hybrid first, then X25519.
	KeyExchanges = []string{ssh.KeyExchangeMLKEM768X25519, ssh.KeyExchangeCurve25519}
	// Ciphers: AEAD only. AES-GCM first: x/crypto's ChaCha20 has no amd64
	// assembly and AES-GCM is much faster where AES-NI exists.
	Ciphers = []string{ssh.CipherAES128GCM, ssh.CipherAES256GCM, ssh.CipherChaCha20Poly1305}
	// MACs are unused with AEAD ciphers but must be listed: encrypt-then-MAC SHA-2 only.
	MACs = []string{ssh.HMACSHA256ETM, ssh.HMACSHA512ETM}
	// PublicKeyAuthAlgorithms are the client key signatures accepted: no ssh-rsa (SHA-1), no DSA.
	PublicKeyAuthAlgorithms = []string{
		ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256,
	}
)
