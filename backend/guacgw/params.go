package guacgw

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalidParams reports Params that cannot be sent to guacd.
var ErrInvalidParams = errors.New("guacgw: invalid parameters")

// ProtocolVersion is the newest Guacamole protocol version guacgw speaks for
// the browser (guacamole-common-js 1.5). guacd announces its own version as
// the first name in "args" and expects the client's version back in the same
// place; an empty or unknown answer makes guacd fall back to 1.0.0.
const ProtocolVersion = "VERSION_1_5_0"

// Clipboard says which directions of the clipboard a session may use.
type Clipboard struct {
	// CopyOut lets text copied on the remote desktop reach the user
	// (guacd's "disable-copy" is its negation).
	CopyOut bool
	// PasteIn lets the user paste into the remote desktop (guacd's
	// "disable-paste" is its negation).
	PasteIn bool
}

// Drive is the per-user drive guacd shares with an RDP server: a directory
// on the bastion that the remote desktop sees as a network drive, and that
// the browser can upload to and download from.
type Drive struct {
	// Path is the directory on the bastion (where guacd runs); empty means
	// no drive. guacd creates it if missing.
	Path string
	// Name is the drive's name on the remote desktop; "Portcullis" if empty.
	Name string
	// Upload lets the user upload files into the drive.
	Upload bool
	// Download lets the user download files from the drive.
	Download bool
}

// Params is what guacd is asked to connect to, and the user's policy for
// the session.
type Params struct {
	// Protocol is "rdp" or "vnc". For Join it may be empty.
	Protocol string
	// Hostname and Port are the target; Port 0 means the protocol's default.
	Hostname string
	Port     int
	// Username, Password and Domain are the target account's credentials
	// (Domain: RDP only). They go to guacd and nowhere else.
	Username, Password, Domain string
	// Security is the RDP security mode: "any", "nla", "nla-ext", "tls",
	// "rdp" or "vmconnect"; empty means guacd's default ("any").
	Security string
	// IgnoreCert accepts the RDP server's certificate without checking it.
	IgnoreCert bool
	// Width, Height and DPI describe the browser window; zero means
	// 1024x768 at 96 DPI.
	Width, Height, DPI int
	// Timezone is the user's IANA time zone, e.g. "Europe/Berlin"
	// (handshake "timezone" and RDP's "timezone").
	Timezone string
	// DisplayName names the user to others sharing the connection
	// (handshake "name", protocol 1.5).
	DisplayName string
	// Clipboard is the clipboard policy.
	Clipboard Clipboard
	// Drive is the drive policy (RDP only).
	Drive Drive
	// ReadOnly makes the session view-only, for watchers: guacd ignores
	// the user's input and Serve drops it.
	ReadOnly bool
	// Audio and Image are the mimetypes the browser supports; nil means
	// audio/L8 and audio/L16, image/png and image/jpeg.
	Audio, Image []string
}

// validate checks p; join relaxes the target, which guacd already knows.
func (p Params) validate(join bool) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidParams, fmt.Sprintf(format, a...))
	}
	if !join {
		switch p.Protocol {
		case "rdp", "vnc":
		default:
			return bad("protocol %q: want rdp or vnc", p.Protocol)
		}
		if p.Hostname == "" {
			return bad("no hostname")
		}
	}
	if p.Port < 0 || p.Port > 65535 {
		return bad("port %d", p.Port)
	}
	switch p.Security {
	case "", "any", "nla", "nla-ext", "tls", "rdp", "vmconnect":
	default:
		return bad("security mode %q", p.Security)
	}
	if p.Width < 0 || p.Height < 0 || p.Width > 16384 || p.Height > 16384 || p.DPI < 0 || p.DPI > 1200 {
		return bad("size %dx%d at %d DPI", p.Width, p.Height, p.DPI)
	}
	if p.Drive.Path != "" && !filepath.IsAbs(p.Drive.Path) {
		return bad("drive path %q is not absolute", p.Drive.Path)
	}
	// Lengths on the wire count code points: a string that is not UTF-8
	// would be counted differently by guacd. Control characters have no
	// business in any of these.
	for name, v := range map[string]string{
		"hostname": p.Hostname, "username": p.Username, "password": p.Password,
		"domain": p.Domain, "timezone": p.Timezone, "display name": p.DisplayName,
		"drive path": p.Drive.Path, "drive name": p.Drive.Name,
	} {
		if !utf8.ValidString(v) {
			return bad("%s is not valid UTF-8", name)
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return bad("%s holds a control character", name)
		}
	}
	for _, m := range append(append([]string(nil), p.Audio...), p.Image...) {
		if m == "" || strings.IndexFunc(m, func(r rune) bool { return r <= ' ' || r >= 0x7f }) >= 0 {
			return bad("mimetype %q", m)
		}
	}
	return nil
}

// Args returns the values of guacd's "connect" instruction for the names in
// its "args" instruction (argNames, without the opcode), in the same order.
// The protocol version guacd announces first is answered with the version
// both sides speak (VERSION_1_5_0 with itself). Names Params says nothing
// about get "", guacd's default: recording, SFTP, printing, RemoteApp, Wake-on-LAN
// and gateway options stay off.
func (p Params) Args(argNames []string) []string {
	values := make([]string, len(argNames))
	for i, name := range argNames {
		if strings.HasPrefix(name, "VERSION_") {
			values[i] = negotiateVersion(name)
			continue
		}
		values[i] = p.arg(name)
	}
	return values
}

func (p Params) arg(name string) string {
	drive := p.Drive.Path != "" && p.Protocol != "vnc"
	switch name {
	case "hostname":
		return p.Hostname
	case "port":
		if p.Port > 0 {
			return strconv.Itoa(p.Port)
		}
	case "username":
		return p.Username
	case "password":
		return p.Password
	case "domain":
		return p.Domain
	case "security":
		return p.Security
	case "ignore-cert":
		return boolArg(p.IgnoreCert)
	case "disable-copy":
		return boolArg(!p.Clipboard.CopyOut)
	case "disable-paste":
		return boolArg(!p.Clipboard.PasteIn)
	case "enable-drive", "create-drive-path":
		return boolArg(drive)
	case "drive-path":
		if drive {
			return p.Drive.Path
		}
	case "drive-name":
		if drive {
			if p.Drive.Name != "" {
				return p.Drive.Name
			}
			return "Portcullis"
		}
	case "disable-download", "sftp-disable-download":
		return boolArg(!p.Drive.Download)
	case "disable-upload", "sftp-disable-upload":
		return boolArg(!p.Drive.Upload)
	case "read-only":
		return boolArg(p.ReadOnly)
	case "resize-method":
		if p.Protocol == "rdp" {
			return "display-update"
		}
	case "width":
		return strconv.Itoa(p.width())
	case "height":
		return strconv.Itoa(p.height())
	case "dpi":
		return strconv.Itoa(p.dpi())
	case "timezone":
		return p.Timezone
	}
	return ""
}

func boolArg(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func (p Params) width() int  { return cmpOr(p.Width, 1024) }
func (p Params) height() int { return cmpOr(p.Height, 768) }
func (p Params) dpi() int    { return cmpOr(p.DPI, 96) }

func (p Params) audio() []string {
	if p.Audio == nil {
		return []string{"audio/L8", "audio/L16"}
	}
	return p.Audio
}

func (p Params) image() []string {
	if p.Image == nil {
		return []string{"image/png", "image/jpeg"}
	}
	return p.Image
}

func cmpOr(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// negotiateVersion answers guacd's announced version with the older of it
// and ProtocolVersion.
func negotiateVersion(announced string) string {
	theirs, ok := parseVersion(announced)
	if !ok {
		return ProtocolVersion
	}
	ours, _ := parseVersion(ProtocolVersion)
	for i := range theirs {
		if theirs[i] != ours[i] {
			if theirs[i] < ours[i] {
				return announced
			}
			return ProtocolVersion
		}
	}
	return announced
}

// parseVersion parses "VERSION_1_5_0".
func parseVersion(s string) ([3]int, bool) {
	var v [3]int
	parts := strings.Split(strings.TrimPrefix(s, "VERSION_"), "_")
	if len(parts) != 3 || !strings.HasPrefix(s, "VERSION_") {
		return v, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return v, false
		}
		v[i] = n
	}
	return v, true
}

// versionAtLeast reports whether the negotiated version v is at least
// major.minor.
func versionAtLeast(v string, major, minor int) bool {
	n, ok := parseVersion(v)
	return ok && (n[0] > major || n[0] == major && n[1] >= minor)
}
