// Package storage keeps session recordings durable: written to the local
// recordings directory first, copied in the background to an S3-compatible
// object store, and deleted by retention.
//
// A recording is addressed by its key, its path relative to the recordings
// directory ("2026/11/28/<session>.cast.gz", "<...>.guac", "<file>.idx").
// Two Backends store keys: Local, the recordings directory itself (every
// access goes through an os.Root, so no key or symbolic link leaves it), and
// S3, a bucket (with an optional prefix) reached with minio-go. Keys are
// checked by ValidateKey: relative, slash-separated, no "..", no backslash.
//
// # Uploads that survive outages and restarts
//
// When a recording is finished, the server calls Uploader.Enqueue. Before it
// returns, the key is on disk in the queue directory, one small fsynced file
// per key, so neither a dead object store nor a crash of the server loses a
// pending upload: Run reloads the queue and resumes. Workers upload the
// oldest due key, then Stat it on the remote; only a matching size counts as
// uploaded, calls OnUploaded and, without KeepLocal, deletes the local copy.
// A failure blocks all workers for a backoff that doubles from MinBackoff to
// MaxBackoff (with jitter), so a store that is down gets one request per
// backoff, not one per pending key; Kick retries at once. Backlog tells the
// UI how many keys and bytes wait, whether the store is failing and why.
//
// # Retention
//
// Sweep deletes, from every backend, the recordings of sessions that ended
// more than the retention period ago and are not on legal hold, and reports
// each deletion to an audit callback before it returns.
//
// # Secrets
//
// S3Config's String, GoString and LogValue leave out the secret key, and the
// S3 backend's errors never contain it (minio-go signs requests with it but
// never sends it; any error echoing it is scrubbed anyway).
package storage
