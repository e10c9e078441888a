package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/backend/config"
)

// selfSignedValidity is how long a generated certificate is valid. Clients
// pin its fingerprint (the desktop app trusts it on first use), so it is
// long-lived: a new certificate means every client is asked again.
const selfSignedValidity = 10 * 365 * 24 * time.Hour

// TLSInfo describes the HTTP listener's certificate.
type TLSInfo struct {
	// Fingerprint is the SHA-256 of the leaf certificate (DER), as colon-
	// separated upper-case hex: what clients show and pin.
	Fingerprint string
	// SelfSigned is true for the certificate portcullisd generated.
	SelfSigned bool
	// CertFile is where the certificate is.
	CertFile string
}

// Fingerprint returns the SHA-256 fingerprint of a DER certificate in the
// colon-separated form browsers show.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

// loadTLS returns the TLS configuration of the HTTP listener, or nil when TLS
// is off: the configured certificate, or the one in <data dir>/tls, generated
// on the first start.
func loadTLS(cfg config.Config) (*tls.Config, *TLSInfo, error) {
	if cfg.TLS != config.TLSAuto {
		return nil, nil, nil
	}
	certFile, keyFile, self := cfg.TLSCert, cfg.TLSKey, false
	if certFile == "" {
		dir := filepath.Join(cfg.DataDir, "tls")
		certFile, keyFile, self = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"), true
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			os.Remove(keyFile) // a key without its certificate: a first start cut short
			if err := generateSelfSigned(dir, certFile, keyFile); err != nil {
				return nil, nil, err
			}
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("server: TLS certificate %s: %w", certFile, err)
	}
	info := &TLSInfo{Fingerprint: Fingerprint(pair.Certificate[0]), SelfSigned: self, CertFile: certFile}
	return &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}, info, nil
}

// generateSelfSigned writes a new ECDSA P-256 certificate for this host's
// names and addresses, and its key (mode 0600).
func generateSelfSigned(dir, certFile, keyFile string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("server: TLS dir: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("server: TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return fmt.Errorf("server: TLS serial: %w", err)
	}
	host, _ := os.Hostname()
	names := []string{"localhost"}
	if host != "" && host != "localhost" {
		names = append(names, host)
	}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				ips = append(ips, n.IP)
			}
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Portcullis " + host, Organization: []string{"Portcullis"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              names,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("server: TLS certificate: %w", err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("server: TLS key: %w", err)
	}
	if err := writeFileSync(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return writeFileSync(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFileSync writes a new file and fsyncs it, so a crash right after the
// first start cannot leave a half-written key.
func writeFileSync(path string, b []byte, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("server: write %s: %w", path, err)
	}
	return f.Close()
}
