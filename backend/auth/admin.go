package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"gorm.io/gorm"

	"github.com/portcullis/portcullis/backend/settings"
	"github.com/portcullis/portcullis/backend/store"
)

// InitialAdminUsername is the user created on first start.
const InitialAdminUsername = "admin"

// InitialAdminPasswordFile is the file, in the data dir, that receives the
// first administrator's one-time password.
const InitialAdminPasswordFile = "initial-admin-password"

// initialPasswordLen is the length of generated passwords (longer if the policy asks).
const initialPasswordLen = 20

// Unlock clears a user's lockout and failure count (an administrator's
// action). A missing user is store.ErrNotFound.
func (s *Service) Unlock(ctx context.Context, userID uint) error {
	res := s.conn(ctx).Model(&store.User{}).Where("id = ?", userID).
		UpdateColumns(map[string]any{"failed_logins": 0, "locked_until": nil})
	if res.Error != nil {
		return fmt.Errorf("auth: unlock user %d: %w", userID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("auth: user %d: %w", userID, store.ErrNotFound)
	}
	s.log.InfoContext(ctx, "user unlocked", "user_id", userID)
	return nil
}

// SetPassword sets a user's password on an administrator's behalf, checking
// it against the policy (a *FieldError for "password"), and sets
// MustChangePassword. The user's sessions and pending login steps are
// revoked; API tokens stay. When user.ID is 0 (not created yet) only the
// struct is filled in, for the caller to create. To run inside the caller's
// transaction, pass a ctx made by WithTx.
func (s *Service) SetPassword(ctx context.Context, user *store.User, password string, mustChange bool) error {
	sec, err := s.security(ctx)
	if err != nil {
		return err
	}
	if err := CheckPasswordPolicy(sec, password, user.Username); err != nil {
		return err
	}
	if err := s.storePassword(ctx, user, password, mustChange); err != nil {
		return err
	}
	if user.ID == 0 {
		return nil
	}
	if err := s.revokeTokens(ctx, user.ID, 0); err != nil {
		return err
	}
	s.log.InfoContext(ctx, "password set by an administrator", "user_id", user.ID, "must_change", mustChange)
	return nil
}

var errAlreadyInitialized = errors.New("auth: users exist")

// EnsureInitialAdmin creates the first administrator when the database has no
// user: "admin", system_admin and org_admin of the default organization, with
// a random password that must be changed at first login. The password is
// written, followed by a newline, to DIR/initial-admin-password (mode 0600,
// created exclusively and synced) and returned once for the caller to print;
// it is never logged. With users present it does nothing (created false).
// The user and the file are made together: if either fails, neither stays.
func (s *Service) EnsureInitialAdmin(ctx context.Context, dataDir string) (password string, created bool, err error) {
	db := s.conn(ctx)
	var n int64
	if err := db.Model(&store.User{}).Count(&n).Error; err != nil {
		return "", false, fmt.Errorf("auth: count users: %w", err)
	}
	if n > 0 {
		return "", false, nil
	}
	sec, err := s.security(ctx)
	if err != nil {
		return "", false, err
	}
	password, err = generatePassword(sec, InitialAdminUsername)
	if err != nil {
		return "", false, err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return "", false, err
	}
	var org store.Organization
	if err := db.Where("builtin = ?", true).Order("id").Take(&org).Error; err != nil {
		return "", false, fmt.Errorf("auth: default organization: %w", store.Translate(err))
	}
	now := s.now()
	u := &store.User{
		OrgID: org.ID, Username: InitialAdminUsername, Name: "Administrator",
		Role: store.RoleSystemAdmin, OrgRole: store.OrgRoleAdmin, IsActive: true,
		PasswordHash: hash, MustChangePassword: true, PasswordChangedAt: &now,
		Comment: "Created on first start",
	}
	path := filepath.Join(dataDir, InitialAdminPasswordFile)
	wrote := false
	err = db.Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&store.User{}).Count(&n).Error; err != nil {
			return fmt.Errorf("auth: count users: %w", err)
		}
		if n > 0 {
			return errAlreadyInitialized
		}
		if err := tx.Create(u).Error; err != nil {
			if errors.Is(store.Translate(err), store.ErrDuplicate) {
				return errAlreadyInitialized
			}
			return fmt.Errorf("auth: create initial admin: %w", err)
		}
		if err := s.writeSecretFile(ctx, path, []byte(password+"\n")); err != nil {
			return err
		}
		wrote = true
		return nil
	})
	if err != nil {
		if wrote { // the transaction failed after the file was written
			os.Remove(path)
		}
		if errors.Is(err, errAlreadyInitialized) {
			return "", false, nil
		}
		return "", false, err
	}
	s.log.InfoContext(ctx, "initial administrator created", "username", u.Username, "user_id", u.ID, "password_file", path)
	return password, true, nil
}

// writeSecretFile creates path with mode 0600 exclusively, writes data and
// syncs the file and its directory. A file left from an earlier database is
// replaced (it is only called while no user exists).
func (s *Service) writeSecretFile(ctx context.Context, path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("auth: create data dir: %w", err)
	}
	if _, err := os.Lstat(path); err == nil {
		s.log.WarnContext(ctx, "replacing a stale initial password file", "path", path)
		if err := os.Remove(path); err != nil {
			return fmt.Errorf("auth: remove stale %s: %w", path, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("auth: stat %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("auth: create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("auth: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("auth: sync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("auth: close %s: %w", path, err)
	}
	if d, err := os.Open(dir); err == nil { // make the new entry durable; not all systems can
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// Character classes of generated passwords: no look-alikes, and symbols that
// need no quoting in a shell or a URL form.
const (
	pwUpper  = "ABCDEFGHJKLMNPQRSTUVWXYZ"
	pwLower  = "abcdefghijkmnpqrstuvwxyz"
	pwDigit  = "23456789"
	pwSymbol = "-_.+=@#%"
)

// generatePassword returns a random password that meets sec for username.
func generatePassword(sec settings.Security, username string) (string, error) {
	length := max(initialPasswordLen, sec.PasswordMinLength)
	const alphabet = pwUpper + pwLower + pwDigit + pwSymbol
	for try := 0; try < 100; try++ {
		b := make([]byte, length)
		for i := range b {
			c, err := randIndex(len(alphabet))
			if err != nil {
				return "", err
			}
			b[i] = alphabet[c]
		}
		if CheckPasswordPolicy(sec, string(b), username) == nil {
			return string(b), nil
		}
	}
	return "", errors.New("auth: could not generate a password that meets the policy")
}

// randIndex returns a uniform random int in [0, n), n <= 256.
func randIndex(n int) (int, error) {
	limit := 256 - 256%n
	var b [1]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("auth: random: %w", err)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}

// ErrSetupDone reports that the first administrator was set up already.
var ErrSetupDone = errors.New("auth: the first administrator is set up already")

// SetupNeeded reports whether the first administrator still has the password
// generated at first start: the one-time password file is in dataDir, and the
// initial admin never logged in and must still change it.
func (s *Service) SetupNeeded(ctx context.Context, dataDir string) (bool, error) {
	if _, err := os.Stat(filepath.Join(dataDir, InitialAdminPasswordFile)); err != nil {
		return false, nil
	}
	var n int64
	err := s.conn(ctx).Model(&store.User{}).
		Where("username = ? AND must_change_password = ? AND last_login_at IS NULL", InitialAdminUsername, true).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("auth: setup state: %w", err)
	}
	return n == 1, nil
}

// CompleteSetup replaces the first administrator's generated password with
// password (checked against the policy: a *FieldError for "password") and
// removes the one-time password file: the desktop's first-run wizard, where
// the person at the window is the owner of the embedded backend. Once done
// (or once the admin has logged in) it fails with ErrSetupDone.
func (s *Service) CompleteSetup(ctx context.Context, dataDir, password string) error {
	needed, err := s.SetupNeeded(ctx, dataDir)
	if err != nil {
		return err
	}
	if !needed {
		return ErrSetupDone
	}
	sec, err := s.security(ctx)
	if err != nil {
		return err
	}
	if err := CheckPasswordPolicy(sec, password, InitialAdminUsername); err != nil {
		return err
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.now()
	res := s.conn(ctx).Model(&store.User{}).
		Where("username = ? AND must_change_password = ? AND last_login_at IS NULL", InitialAdminUsername, true).
		UpdateColumns(map[string]any{"password_hash": hash, "must_change_password": false, "password_changed_at": now})
	if res.Error != nil {
		return fmt.Errorf("auth: setup: %w", res.Error)
	}
	if res.RowsAffected != 1 {
		return ErrSetupDone
	}
	if err := os.Remove(filepath.Join(dataDir, InitialAdminPasswordFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		s.log.WarnContext(ctx, "remove the one-time password file", "err", err)
	}
	s.log.InfoContext(ctx, "first administrator set up")
	return nil
}
