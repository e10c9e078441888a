// Command fakeguacd runs the protocol-level fake of guacd (package fakeguacd)
// for the browser end-to-end tests: it speaks the real Guacamole handshake and
// sends size/img/sync, and renders nothing. It is a test tool, never a
// substitute for guacd.
//
//	fakeguacd -listen 127.0.0.1:0   # prints "fakeguacd listening on <addr>"
package main

import (
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcullis/portcullis/backend/guacgw/fakeguacd"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:4822", "address to listen on")
	verbose := flag.Bool("v", false, "log every connection to stderr")
	flag.Parse()
	opts := fakeguacd.Options{ResizeOnSize: true}
	if *verbose {
		opts.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := fakeguacd.Listen(*listen, opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fakeguacd:", err)
		os.Exit(1)
	}
	fmt.Printf("fakeguacd listening on %s\n", srv.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	srv.Close()
}
