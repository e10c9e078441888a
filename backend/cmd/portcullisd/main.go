// Command portcullisd is the headless Portcullis bastion server.
//
//	portcullisd serve [--config FILE] [--data-dir DIR] [--http ADDR] [--ssh ADDR] ...
//	portcullisd version
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"

	_ "time/tzdata" // time windows name IANA zones; a static binary must carry them

	"github.com/portcullis/portcullis/backend/config"
	"github.com/portcullis/portcullis/backend/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "portcullisd:", err)
		os.Exit(exitCode(err))
	}
}

const usage = `Usage: portcullisd <command> [flags]

Commands:
  serve     run the bastion server (see: portcullisd serve --help)
  verify    check exported session bundles offline (see: portcullisd verify --help)
  version   print the version
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	switch args[0] {
	case "serve":
		for _, a := range args[1:] {
			if a == "-h" || a == "--help" || a == "-help" {
				fmt.Fprint(stdout, config.Usage)
				return nil
			}
		}
		cfg, err := config.Load(args[1:], getenv)
		if err != nil {
			fmt.Fprint(stderr, config.Usage)
			return err
		}
		return serve(ctx, cfg, stdout, stderr)
	case "verify":
		return verifyCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-v":
		v := version
		if bi, ok := debug.ReadBuildInfo(); ok && v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		fmt.Fprintln(stdout, "portcullisd", v)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

func serve(ctx context.Context, cfg config.Config, stdout, stderr io.Writer) error {
	log := cfg.NewLogger(stderr)
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer srv.Close()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ctx) }()
	select {
	case <-srv.Ready():
		printWelcome(stdout, cfg, srv)
	case err := <-errc:
		return err
	}
	return <-errc
}

func printWelcome(w io.Writer, cfg config.Config, srv *server.Server) {
	fmt.Fprintf(w, "Portcullis is running.\n  Web UI and API: %s://%s/\n", srv.Scheme(), displayAddr(srv.Addr()))
	if t := srv.TLS(); t != nil {
		kind := "certificate"
		if t.SelfSigned {
			kind = "self-signed certificate (browsers warn once; the desktop app pins it)"
		}
		fmt.Fprintf(w, "  TLS:            %s %s\n                  SHA-256 %s\n", kind, t.CertFile, t.Fingerprint)
	}
	if a := srv.SSHAddr(); a != "" {
		fmt.Fprintf(w, "  SSH gateway:    ssh -p %s USER@%s   (USER@ASSET@... to go straight to an asset)\n", portOf(a), hostOf(displayAddr(a)))
	}
	pwFile := filepath.Join(cfg.DataDir, "initial-admin-password")
	if pw := srv.InitialAdminPassword(); pw != "" {
		fmt.Fprintf(w, "\nFirst start: log in as \"admin\" with this one-time password (also in %s, mode 0600):\n\n    %s\n\nYou must change it at first login. This password is shown only once.\n", pwFile, pw)
	} else if _, err := os.Stat(pwFile); err == nil {
		fmt.Fprintf(w, "\nFirst login: user \"admin\", one-time password in %s. Delete that file once you have changed the password.\n", pwFile)
	}
}

func portOf(addr string) string {
	_, port, _ := net.SplitHostPort(addr)
	return port
}

func hostOf(addr string) string {
	host, _, _ := net.SplitHostPort(addr)
	return host
}

// displayAddr turns a listen address into one a person can type: an
// unspecified host ("", 0.0.0.0, ::) becomes localhost.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
