package hostkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/audit"
	"github.com/portcullis/portcullis/backend/store"
)

// Owner kinds: what a recorded host key belongs to.
const (
	OwnerAsset   = "asset"
	OwnerGateway = "gateway"
)

// Operation log actions written by the Store.
const (
	ActionRecord   = "hostkey.record"
	ActionMismatch = "hostkey.mismatch"
)

// Errors returned by the Store.
var (
	// ErrChanged is matched (errors.Is) by every *MismatchError.
	ErrChanged = errors.New("hostkey: remote host identification has changed")
	// ErrBadOwner is returned for an owner kind other than OwnerAsset and OwnerGateway.
	ErrBadOwner = errors.New("hostkey: owner kind must be \"asset\" or \"gateway\"")
)

// dbTimeout bounds the database work of one host key check; an ssh
// HostKeyCallback has no context of its own.
const dbTimeout = 10 * time.Second

// lastSeenEvery throttles the last_seen_at update of a known key.
const lastSeenEvery = time.Minute

// Mismatch describes a host that presented a key other than the recorded one.
type Mismatch struct {
	OrgID     uint
	OwnerKind string // OwnerAsset or OwnerGateway
	OwnerID   uint
	Name      string // the asset's or gateway's name
	Address   string // host:port the key is recorded for
	Remote    string // the peer address of the connection, when known

	ExpectedAlgorithm   string // recorded key type, e.g. "ssh-ed25519"
	ExpectedFingerprint string // recorded "SHA256:..."
	GotAlgorithm        string // presented key type
	GotFingerprint      string // presented "SHA256:..."

	At time.Time
}

// MismatchError refuses a connection whose host key changed. It matches ErrChanged.
type MismatchError struct{ Mismatch }

// Error returns the OpenSSH-like message shown to the user and the admins.
func (e *MismatchError) Error() string {
	return fmt.Sprintf("hostkey: REMOTE HOST IDENTIFICATION HAS CHANGED for %s (%s): expected %s, got %s",
		e.Name, e.Address, e.ExpectedFingerprint, e.GotFingerprint)
}

// Is makes errors.Is(err, ErrChanged) true.
func (e *MismatchError) Is(target error) bool { return target == ErrChanged }

// Alarm is told about every refused host key. Implementations must return
// quickly: the Store calls it on the connection's path (MailAlarm mails in the
// background).
type Alarm interface {
	HostKeyChanged(ctx context.Context, ev Mismatch)
}

// AlarmFunc adapts a function to the Alarm interface.
type AlarmFunc func(ctx context.Context, ev Mismatch)

// HostKeyChanged calls f.
func (f AlarmFunc) HostKeyChanged(ctx context.Context, ev Mismatch) { f(ctx, ev) }

// Alarms calls each of its alarms in order.
type Alarms []Alarm

// HostKeyChanged calls every alarm.
func (as Alarms) HostKeyChanged(ctx context.Context, ev Mismatch) {
	for _, a := range as {
		if a != nil {
			a.HostKeyChanged(ctx, ev)
		}
	}
}

// Store records host keys and checks presented ones against them.
type Store struct {
	db    *gorm.DB
	aud   *audit.Logger
	alarm Alarm
	log   *slog.Logger
	clock func() time.Time
}

// New returns a Store on db. aud receives the record and mismatch rows and
// alarm the mismatches; either may be nil (tests), log and clock default to a
// discarding logger and time.Now.
func New(db *gorm.DB, aud *audit.Logger, alarm Alarm, log *slog.Logger, clock func() time.Time) *Store {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = time.Now
	}
	return &Store{db: db, aud: aud, alarm: alarm, log: log.With("component", "hostkey"), clock: clock}
}

// Callback returns the ssh.HostKeyCallback for one owner: it records the key
// on first use and refuses a changed one (see Verify). The hostname it is
// called with (the address given to ssh.NewClientConn or ssh.Dial) is the
// address the key is recorded for.
//
// x/crypto calls the callback again at every re-key of the connection; the
// callback remembers the key it accepted and checks a later one against it
// without the database. A database error refuses the connection (fail closed).
func (s *Store) Callback(orgID uint, ownerKind string, ownerID uint) ssh.HostKeyCallback {
	var (
		mu       sync.Mutex
		accepted = map[string][]byte{} // hostname -> wire key accepted on this connection
	)
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if cert, ok := key.(*ssh.Certificate); ok {
			key = cert.Key
		}
		mu.Lock()
		prev, ok := accepted[hostname]
		mu.Unlock()
		if ok && key != nil && bytes.Equal(prev, key.Marshal()) {
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		r := ""
		if remote != nil {
			r = remote.String()
		}
		if err := s.Verify(ctx, orgID, ownerKind, ownerID, hostname, r, key); err != nil {
			return err
		}
		mu.Lock()
		accepted[hostname] = key.Marshal()
		mu.Unlock()
		return nil
	}
}

// Verify checks key against the key recorded for (ownerKind, ownerID, addr):
// none recorded yet records it; the same key passes; another key returns a
// *MismatchError after writing the operation log row and calling the alarm.
// remote is the connection's peer address, for the record only.
func (s *Store) Verify(ctx context.Context, orgID uint, ownerKind string, ownerID uint, addr, remote string, key ssh.PublicKey) error {
	if ownerKind != OwnerAsset && ownerKind != OwnerGateway {
		return ErrBadOwner
	}
	if key == nil {
		return errors.New("hostkey: no host key presented")
	}
	if cert, ok := key.(*ssh.Certificate); ok {
		// Pin the certified key: the server proved it holds its private half.
		key = cert.Key
	}
	now := s.clock().UTC()
	wire := key.Marshal()
	fp := ssh.FingerprintSHA256(key)
	db := s.db.WithContext(ctx)

	row, found, err := s.lookup(ctx, ownerKind, ownerID, addr)
	if err != nil {
		return err
	}
	if !found {
		row = store.HostKey{
			OrgID: orgID, OwnerKind: ownerKind, OwnerID: ownerID, Address: addr,
			Algorithm: key.Type(), Fingerprint: fp, Key: wire, FirstSeenAt: now, LastSeenAt: now,
		}
		err := db.Create(&row).Error
		if err == nil {
			s.log.InfoContext(ctx, "host key recorded on first use", "owner_kind", ownerKind, "owner_id", ownerID,
				"address", addr, "algorithm", key.Type(), "fingerprint", fp)
			s.oplog(ctx, store.OperationLog{
				Action: ActionRecord, ResourceType: ownerKind, ResourceID: strconv.FormatUint(uint64(ownerID), 10),
				ResourceName: s.ownerName(ctx, ownerKind, ownerID), RemoteAddr: remote, Success: true,
				Detail: fmt.Sprintf("trusted on first use: %s %s %s", addr, key.Type(), fp),
			}, orgID)
			return nil
		}
		if !errors.Is(store.Translate(err), store.ErrDuplicate) {
			return fmt.Errorf("hostkey: record key of %s %d (%s): %w", ownerKind, ownerID, addr, store.Translate(err))
		}
		// Another connection recorded a key first: check against it.
		if row, found, err = s.lookup(ctx, ownerKind, ownerID, addr); err != nil {
			return err
		} else if !found {
			return fmt.Errorf("hostkey: record key of %s %d (%s): %w", ownerKind, ownerID, addr, store.ErrConflict)
		}
	}
	if bytes.Equal(row.Key, wire) {
		if now.Sub(row.LastSeenAt) >= lastSeenEvery {
			if err := db.Model(&store.HostKey{}).Where("id = ?", row.ID).Update("last_seen_at", now).Error; err != nil {
				s.log.WarnContext(ctx, "host key last_seen_at update failed", "id", row.ID, "err", err)
			}
		}
		return nil
	}
	m := Mismatch{
		OrgID: orgID, OwnerKind: ownerKind, OwnerID: ownerID, Name: s.ownerName(ctx, ownerKind, ownerID),
		Address: addr, Remote: remote,
		ExpectedAlgorithm: row.Algorithm, ExpectedFingerprint: row.Fingerprint,
		GotAlgorithm: key.Type(), GotFingerprint: fp, At: now,
	}
	merr := &MismatchError{m}
	s.log.ErrorContext(ctx, "host key changed: connection refused", "owner_kind", ownerKind, "owner_id", ownerID,
		"name", m.Name, "address", addr, "remote", remote, "expected", row.Algorithm+" "+row.Fingerprint,
		"got", key.Type()+" "+fp)
	s.oplog(ctx, store.OperationLog{
		Action: ActionMismatch, ResourceType: ownerKind, ResourceID: strconv.FormatUint(uint64(ownerID), 10),
		ResourceName: m.Name, RemoteAddr: remote, Success: false,
		Detail: fmt.Sprintf("%s (expected %s key, got %s key)", merr.Error(), row.Algorithm, key.Type()),
	}, orgID)
	if s.alarm != nil {
		s.alarm.HostKeyChanged(context.WithoutCancel(ctx), m)
	}
	return merr
}

func (s *Store) lookup(ctx context.Context, ownerKind string, ownerID uint, addr string) (store.HostKey, bool, error) {
	var rows []store.HostKey
	err := s.db.WithContext(ctx).Where("owner_kind = ? AND owner_id = ? AND address = ?", ownerKind, ownerID, addr).
		Limit(1).Find(&rows).Error
	if err != nil {
		return store.HostKey{}, false, fmt.Errorf("hostkey: look up key of %s %d (%s): %w", ownerKind, ownerID, addr, err)
	}
	if len(rows) == 0 {
		return store.HostKey{}, false, nil
	}
	return rows[0], true, nil
}

// ownerName is the asset's or gateway's name, or "asset 12" when it has none.
func (s *Store) ownerName(ctx context.Context, ownerKind string, ownerID uint) string {
	var names []string
	q := s.db.WithContext(ctx).Where("id = ?", ownerID).Limit(1)
	switch ownerKind {
	case OwnerAsset:
		q = q.Model(&store.Asset{})
	case OwnerGateway:
		q = q.Model(&store.Gateway{})
	}
	if err := q.Pluck("name", &names).Error; err != nil || len(names) == 0 || names[0] == "" {
		return fmt.Sprintf("%s %d", ownerKind, ownerID)
	}
	return names[0]
}

func (s *Store) oplog(ctx context.Context, row store.OperationLog, orgID uint) {
	if s.aud == nil {
		return
	}
	if orgID != 0 {
		row.OrgID = &orgID
	}
	row.Username = "system"
	row.Detail = truncate(row.Detail, 1024)
	row.ResourceName = truncate(row.ResourceName, 256)
	row.RemoteAddr = truncate(row.RemoteAddr, 64)
	if err := s.aud.Operation(context.WithoutCancel(ctx), row); err != nil {
		s.log.ErrorContext(ctx, "operation log write failed", "action", row.Action, "err", err)
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// DefaultAlgorithms returns the host key algorithms offered to a host with no
// recorded key: plain keys only (no certificates), in OpenSSH's order of
// preference. ssh-rsa (SHA-1) comes last: old network devices know nothing else.
func DefaultAlgorithms() []string {
	out := []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
	}
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return append(out, ssh.KeyAlgoRSA)
}

// algorithmsFor lists the signature algorithms a key type is negotiated with.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// Algorithms returns the host key algorithms to put in
// ssh.ClientConfig.HostKeyAlgorithms for (ownerKind, ownerID, addr): the
// algorithms of the recorded key type first, so that negotiation picks the
// known key, then DefaultAlgorithms. It never returns nil. A database error is
// logged and yields DefaultAlgorithms (the callback still checks the key).
func (s *Store) Algorithms(ownerKind string, ownerID uint, addr string) []string {
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	def := DefaultAlgorithms()
	row, found, err := s.lookup(ctx, ownerKind, ownerID, addr)
	if err != nil {
		s.log.WarnContext(ctx, "host key algorithms: lookup failed", "err", err)
		return def
	}
	if !found || row.Algorithm == "" {
		return def
	}
	first := algorithmsFor(row.Algorithm)
	out := slices.Clone(first)
	for _, a := range def {
		if !slices.Contains(first, a) {
			out = append(out, a)
		}
	}
	return out
}

// Forget deletes every key recorded for an owner, so the next connection
// records the key it sees. It returns how many rows it deleted. The caller
// writes the operation log row (it knows who asked).
func (s *Store) Forget(ctx context.Context, ownerKind string, ownerID uint) (int64, error) {
	if ownerKind != OwnerAsset && ownerKind != OwnerGateway {
		return 0, ErrBadOwner
	}
	res := s.db.WithContext(ctx).Where("owner_kind = ? AND owner_id = ?", ownerKind, ownerID).Delete(&store.HostKey{})
	if res.Error != nil {
		return 0, fmt.Errorf("hostkey: forget %s %d: %w", ownerKind, ownerID, res.Error)
	}
	if res.RowsAffected > 0 {
		s.log.InfoContext(ctx, "host keys forgotten", "owner_kind", ownerKind, "owner_id", ownerID, "rows", res.RowsAffected)
	}
	return res.RowsAffected, nil
}

// KnownHosts returns the keys recorded in an organization as an OpenSSH
// known_hosts file ("[host]:port" for ports other than 22), ordered by ID.
func (s *Store) KnownHosts(ctx context.Context, orgID uint) ([]byte, error) {
	var rows []store.HostKey
	if err := s.db.WithContext(ctx).Where("org_id = ?", orgID).Order("id").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("hostkey: known hosts: %w", err)
	}
	return FormatKnownHosts(rows), nil
}

// FormatKnownHosts writes rows as known_hosts lines, skipping keys that do not parse.
func FormatKnownHosts(rows []store.HostKey) []byte {
	var b bytes.Buffer
	for _, r := range rows {
		key, err := ssh.ParsePublicKey(r.Key)
		if err != nil {
			continue
		}
		b.WriteString(knownhosts.Line([]string{r.Address}, key))
		b.WriteByte('\n')
	}
	return b.Bytes()
}
