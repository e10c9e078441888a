package asset

import (
	"strconv"
	"strings"

	"github.com/portcullis/portcullis/backend/store"
)

// MaxProtocolsLen bounds the text given to ParseProtocols.
const MaxProtocolsLen = 1024

// KnownProtocols returns the protocol names an asset may speak, in a stable order.
func KnownProtocols() []string {
	return []string{"ssh", "sftp", "telnet", "rdp", "vnc", "mysql", "mariadb", "postgresql", "redis"}
}

// DefaultPort returns the usual port of a known protocol, and whether the
// protocol is known.
func DefaultPort(name string) (int, bool) {
	switch name {
	case "ssh", "sftp":
		return 22, true
	case "telnet":
		return 23, true
	case "rdp":
		return 3389, true
	case "vnc":
		return 5900, true
	case "mysql", "mariadb":
		return 3306, true
	case "postgresql":
		return 5432, true
	case "redis":
		return 6379, true
	}
	return 0, false
}

// ParseProtocols parses "ssh/22,rdp/3389" (as used in CSV files and forms)
// into a validated protocol list. Items are separated by commas, with optional
// spaces; a name without "/port" takes its default port; names are
// case-insensitive. Errors name the field "protocols".
func ParseProtocols(s string) (store.Protocols, error) {
	if len(s) > MaxProtocolsLen {
		return nil, invalid("protocols", "must be at most %d bytes", MaxProtocolsLen)
	}
	var out store.Protocols
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, port, hasPort := strings.Cut(item, "/")
		name = strings.ToLower(strings.TrimSpace(name))
		p := store.Protocol{Name: name}
		if hasPort {
			port = strings.TrimSpace(port)
			n, err := strconv.Atoi(port)
			if err != nil || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
				return nil, invalid("protocols", "%q: port must be a number between 1 and 65535", item)
			}
			p.Port = n
		} else if d, ok := DefaultPort(name); ok {
			p.Port = d
		}
		out = append(out, p)
	}
	return normalizeProtocols(out)
}

// FormatProtocols is the inverse of ParseProtocols: "ssh/22,sftp/22".
func FormatProtocols(p store.Protocols) string {
	var b strings.Builder
	for i, pr := range p {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(pr.Name)
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(pr.Port))
	}
	return b.String()
}

func normalizeProtocols(in store.Protocols) (store.Protocols, error) {
	if len(in) == 0 {
		return nil, invalid("protocols", "at least one protocol is required")
	}
	out := make(store.Protocols, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, p := range in {
		p.Name = strings.ToLower(strings.TrimSpace(p.Name))
		if _, ok := DefaultPort(p.Name); !ok {
			if len(p.Name) > 32 {
				p.Name = p.Name[:32] + "..."
			}
			return nil, invalid("protocols", "unknown protocol %q (known: %s)", p.Name, strings.Join(KnownProtocols(), ", "))
		}
		if p.Port < 1 || p.Port > 65535 {
			return nil, invalid("protocols", "%s: port must be between 1 and 65535", p.Name)
		}
		if seen[p.Name] {
			return nil, invalid("protocols", "%s is given twice", p.Name)
		}
		seen[p.Name] = true
		out = append(out, p)
	}
	return out, nil
}
