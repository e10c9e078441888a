// Package bench holds Portcullis' benchmarks and the generators of the
// datasets they run on. `make bench` runs them with
//
//	go test -run '^$' -bench . -benchmem ./backend/... ./bench/...
//
// The permission benchmarks (perm_test.go) build a file-backed SQLite database
// with 100,000 assets in 5,000 nodes, 10,000 users in groups and 50,000
// permissions once per run, then time perm.Resolver on it. When
// PORTCULLIS_TEST_PG_DSN is set they run again on a fresh PostgreSQL database.
//
// `make bench` then runs bench/sshbench, which measures the SSH gateway
// against direct OpenSSH on loopback (throughput, recording size, keystroke
// echo, connection time, idle-session memory) and writes its table to
// artifacts/bench-ssh.txt, and the recording player benchmark
// (frontend/e2e/bench/replay.mjs): bench/castgen puts a generated 1-hour,
// 100 MB terminal recording into a fresh data dir as an ended session, and
// Debian's Chromium measures the first frame and seeks in the web UI's player
// (artifacts/bench-replay.txt).
package bench
