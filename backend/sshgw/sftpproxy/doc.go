// Package sftpproxy serves file transfers through the SSH gateway: the
// "sftp" subsystem (which OpenSSH 9's scp uses by default as well) and the
// legacy scp protocol (`scp -O`, an exec of "scp -t ..." or "scp -f ..."). The
// user's side is answered by this package; the target is reached with an SFTP
// session opened on the gateway's *ssh.Client to it. No byte of the user's
// protocol goes to the target unseen, so every operation is checked against
// the permission's actions and every file moved is accounted for.
//
// # Policy
//
// Reading a file needs Policy.Download; writing one needs Policy.Upload.
// Operations that change the target other than writing a file (mkdir, rmdir,
// remove, rename, posix-rename, link, symlink, setstat) need Policy.Upload.
// Listing a directory, stat, lstat, readlink, realpath and statvfs are always
// allowed. A refused operation answers SSH_FX_PERMISSION_DENIED (SFTP) or an
// "scp: PATH: Permission denied" error record (scp).
//
// Options.Root, when set, confines the session to a directory subtree of the
// target: a path is refused unless, after cleaning (path.Clean of the absolute
// path, so ".." cannot climb out), it lies inside Root, and, resolved by the
// target's realpath (symbolic links followed), it still lies inside Root. Paths
// whose last component is not followed by the operation (remove, rename,
// link, lstat, readlink, symlink, mkdir, rmdir) are checked by resolving their
// parent directory. A symbolic link that dangles is refused where it would be
// followed, so an upload cannot create a file outside Root through it.
// Without Root the user sees the target's filesystem as the account sees it.
//
// # Accounting
//
// Each file handle that is opened and closed produces exactly one
// store.FileTransfer (Options.Sink.Transfer; one per direction that moved
// bytes for the rare read-write handle) with the full remote path,
// the bytes that really moved and the SHA-256 of those bytes, computed while
// they stream (never by reading the file again). The request server handles
// reads and writes of one handle on several goroutines, so the bytes reach the
// proxy slightly out of order; a bounded reordering buffer puts them back in
// sequence. When a client really jumps around (resume, random access, data
// written twice), the hash of "the file" is not defined: SHA256 is left empty,
// Size still counts the bytes moved, and a warning is logged. OpenSSH's sftp
// and scp read and write sequentially from offset 0.
//
// Every refusal produces a Denial (Options.Sink.Denied) carrying the reason;
// a refused open of a file additionally produces a FileTransfer row with
// Allowed=false and Size 0, so the transfer log shows the attempt. A file
// over Options.MaxFileSize is refused the same way.
//
// The request server drops the attributes of SSH_FXP_OPEN, so the mode a
// client asks for a new file is recovered from the raw bytes OpenSSH sends
// and applied under a fixed umask of 022 (the target's umask is unknown);
// legacy scp without -p does the same.
//
// # scp -O
//
// The legacy protocol is implemented here (source and sink, C/D/E/T records,
// -r, -p, -d) on the user's channel and backed by SFTP to the target, so the
// target's scp binary never runs and the same checks and records apply. The
// paths of the command line are interpreted like a POSIX shell would for
// plain words (quotes, backslashes, "~", "~/", globs), but expansions that run
// code or read the environment ($, backquotes, ;, |, &, <, >, parentheses)
// are refused instead of being handed to a shell.
package sftpproxy
