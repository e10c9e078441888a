// Package bundle exports a session's recording as one signed file, and checks such
// files offline.
//
// A bastion's recordings are evidence. Write puts one session into a bundle: its
// recording, the recording's seek index (if any), the session's metadata and a
// manifest of SHA-256 digests signed with the server's Ed25519 key (Signer). Verify,
// `portcullisd verify` and the desktop app check a bundle without the server and say
// either "verified, signed by SHA256:…" or, in plain English, what was altered. A
// bundle changed by a single bit does not verify.
//
// # Layout
//
// A bundle is a zip file holding, in this order:
//
//	recording.cast   the terminal recording, asciicast v2, uncompressed (a .cast.gz is
//	                 stored decompressed, so `asciinema play` reads it as it is); or
//	recording.guac   the desktop recording, Guacamole protocol
//	recording.idx    the recording's seek index, if it has one (opaque bytes here)
//	session.json     Metadata: who, from where, to which asset, when, commands, files
//	manifest.json    Manifest, below
//	manifest.sig     the Ed25519 signature of the exact bytes of manifest.json, in
//	                 standard base64 followed by a newline
//
// The first three are deflated, the last two stored, so that what is signed is the
// very bytes of the file. manifest.json looks like this:
//
//	{
//	  "format": "portcullis-bundle",
//	  "version": 1,
//	  "session_id": "0b6c…",
//	  "created_at": "2026-01-12T09:30:00Z",
//	  "files": [
//	    {"name": "recording.cast", "size": 104857600, "sha256": "9f86…"},
//	    {"name": "session.json", "size": 2315, "sha256": "60303…"}
//	  ],
//	  "zip_prefix": {"size": 20971520, "sha256": "3a7b…"},
//	  "signer": {"algorithm": "ed25519", "public_key": "MCow…", "fingerprint": "SHA256:…"}
//	}
//
// The digests of "files" are those of the uncompressed contents: anyone can check
// them with unzip and sha256sum, and the signature with openssl (the first bytes
// printed make the manifest's raw key a DER public key):
//
//	unzip -p b.zip manifest.json > manifest.json
//	unzip -p b.zip manifest.sig | base64 -d > manifest.sig.bin
//	(printf '\060\052\060\005\006\003\053\145\160\003\041\000'
//	 jq -r .signer.public_key manifest.json | base64 -d) > key.der
//	openssl pkeyutl -verify -pubin -keyform DER -inkey key.der -rawin \
//	    -in manifest.json -sigfile manifest.sig.bin
//
// and then compare the key's fingerprint with the server's (see Trust).
//
// "zip_prefix" is the digest of the bundle's first bytes, everything before
// manifest.json: the files as stored, headers and compressed data. The rest of the
// file (the two stored entries, the zip directory and its end) has a single valid
// form, the one Write produces, and Verify rebuilds it from what it measured and
// compares. So the signature covers the bundle byte for byte: a bundle re-packed by
// another zip tool, with a changed timestamp or with bytes appended, does not verify
// even when the files inside are intact (the report then says so). The layout is
// written by this package, not archive/zip, so that it cannot change with the Go
// release; its rules are in zipfmt.go.
//
// # Trust
//
// Verify checks that the bundle is intact and signed by the key in its manifest.
// Anyone can make a key, so a verified bundle proves who signed it only when the key
// is known: pass the server's fingerprint (Signer.Fingerprint, shown on the settings
// page; the same as `ssh-keygen -lf` shows for Signer.PublicKeyText) as trusted, and
// a bundle signed by any other key does not verify.
//
// # Hostile bundles
//
// Verify never extracts anything and reads every file through bounds, checked while it
// decompresses: at most MaxFiles entries, MaxFileSize bytes per file and never more
// than its zip header or the manifest claims (a zip bomb stops one byte past its
// claim), MaxManifestSize for manifest.json, MaxSessionSize for session.json, and
// twice MaxFileSize in all. Names with "..", absolute paths, backslashes, NUL or
// control characters, unknown names and repeated names are reported, never used.
// Problems quote names that are not plain text, so they cannot hold terminal escapes.
package bundle
