// Package store holds Portcullis' data model (gorm models), opens the database
// (SQLite in WAL mode by default, PostgreSQL by DSN), runs migrations and seeds
// the built-in rows, and translates driver errors into domain errors.
package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Domain errors returned by Translate.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate key")
	ErrConflict  = errors.New("store: conflict")
)

// Options says which database to open.
type Options struct {
	// DSN is a PostgreSQL DSN ("postgres://..." or "host=... dbname=...") or
	// "sqlite:PATH". Empty means SQLite at DataDir/portcullis.db.
	DSN     string
	DataDir string
}

// Store is an open database.
type Store struct {
	DB     *gorm.DB
	Driver string // "sqlite" or "postgres"
}

// Open opens the database, migrates it and seeds built-in rows.
func Open(ctx context.Context, opts Options) (*Store, error) {
	var (
		dialector gorm.Dialector
		driver    string
	)
	switch dsn := opts.DSN; {
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"), strings.Contains(dsn, "dbname="):
		dialector, driver = postgres.Open(dsn), "postgres"
	default:
		path := strings.TrimPrefix(dsn, "sqlite:")
		if path == "" {
			if opts.DataDir == "" {
				return nil, errors.New("store: neither DSN nor data dir given")
			}
			path = filepath.Join(opts.DataDir, "portcullis.db")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("store: create %s: %w", filepath.Dir(path), err)
		}
		q := "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=synchronous(NORMAL)&_pragma=cache_size(-65536)&_txlock=immediate"
		dialector, driver = sqlite.Open("file:"+path+q), "sqlite"
	}
	db, err := gorm.Open(dialector, &gorm.Config{
		Logger:                                   logger.Discard,
		DisableForeignKeyConstraintWhenMigrating: true,
		NowFunc:                                  func() time.Time { return time.Now().UTC() },
		TranslateError:                           true,
	})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", driver, err)
	}
	if driver == "sqlite" {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, fmt.Errorf("store: %w", err)
		}
		// One writer at a time; readers share the pool (WAL).
		sqlDB.SetMaxOpenConns(8)
	}
	s := &Store{DB: db, Driver: driver}
	if err := s.Migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close closes the database.
func (s *Store) Close() error {
	sqlDB, err := s.DB.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Migrate creates or updates every table and seeds the built-in rows. It is idempotent.
func (s *Store) Migrate(ctx context.Context) error {
	db := s.DB.WithContext(ctx)
	if err := db.AutoMigrate(AllModels()...); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	// Root nodes have a NULL parent, which the (org, parent, name) index does not
	// compare: a partial index keeps root names unique per organization.
	if err := db.Exec("CREATE UNIQUE INDEX IF NOT EXISTS idx_node_root_name ON nodes (org_id, name) WHERE parent_id IS NULL").Error; err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return s.seed(ctx)
}

// DefaultOrgName is the name of the organization created on first start.
const DefaultOrgName = "Default"

// DefaultOrg returns the built-in default organization.
func (s *Store) DefaultOrg(ctx context.Context) (*Organization, error) {
	var o Organization
	if err := s.DB.WithContext(ctx).Where("builtin = ?", true).Order("id").First(&o).Error; err != nil {
		return nil, Translate(err)
	}
	return &o, nil
}

// BuiltinPlatforms are seeded on first start.
var builtinPlatforms = []Platform{
	{Name: "Linux", Category: CategoryLinux, Protocols: JSONList{"ssh/22", "sftp/22", "telnet/23"}},
	{Name: "Unix", Category: CategoryUnix, Protocols: JSONList{"ssh/22", "sftp/22"}},
	{Name: "Windows", Category: CategoryWindows, Protocols: JSONList{"rdp/3389", "ssh/22"}, Settings: JSONMap{"rdp_security": "any", "ignore_cert": "true", "domain": ""}},
	{Name: "VNC", Category: CategoryUnix, Protocols: JSONList{"vnc/5900"}},
	{Name: "Network device", Category: CategoryNetwork, Protocols: JSONList{"ssh/22", "telnet/23"}},
	{Name: "MySQL", Category: CategoryDatabase, Protocols: JSONList{"mysql/3306"}},
	{Name: "MariaDB", Category: CategoryDatabase, Protocols: JSONList{"mariadb/3306"}},
	{Name: "PostgreSQL", Category: CategoryDatabase, Protocols: JSONList{"postgresql/5432"}},
	{Name: "Redis", Category: CategoryDatabase, Protocols: JSONList{"redis/6379"}},
}

// DangerousCommands is the content of the built-in "dangerous commands" group
// (kind "command"). Each line is matched by backend/cmdfilter as whole words
// at a command boundary, also after sudo, env, nohup, sh -c and the like:
// option letters in any order and grouping (rm -fr /, rm -r -f /, rm
// --recursive --force /), arguments in any order among others, a command
// name also matching its dotted variants (mkfs: mkfs.ext4), redirections by
// target (> /dev/sda), shell syntax such as fork bombs without regard to
// spaces (and a fork bomb under any function name).
const DangerousCommands = `rm -rf /
rm -rf /*
rm -fr /
rm -r /
rm -r /*
mkfs
mkfs.ext4
mkfs.xfs
mke2fs
wipefs -a
dd of=/dev/sda
dd of=/dev/sdb
dd of=/dev/vda
dd of=/dev/xvda
dd of=/dev/nvme0n1
shutdown
reboot
halt
poweroff
init 0
init 6
systemctl poweroff
systemctl reboot
systemctl halt
:(){ :|:& };:
chmod -R 777 /
chmod -R 000 /
chown -R /
> /dev/sda
> /dev/vda
> /dev/nvme0n1`

// DangerousSQL is the content of the built-in "dangerous SQL" group (kind
// "regex", case-insensitive), checked against each statement of a database
// session (dbgw splits the lines typed into statements): dropping a database,
// schema or table, TRUNCATE, DELETE without WHERE, and Redis' FLUSHALL,
// FLUSHDB and CONFIG SET. Comments between the words do not hide them.
const DangerousSQL = `(?s)^(\s|/\*.*?\*/)*drop(\s|/\*.*?\*/)+(database|schema)\b
(?s)^(\s|/\*.*?\*/)*drop(\s|/\*.*?\*/)+(temporary(\s|/\*.*?\*/)+)?table\b
(?s)^(\s|/\*.*?\*/)*truncate(\s|/\*.*?\*/)+(table\b|[a-z_"\x60])
(?s)^(\s|/\*.*?\*/)*delete(\s|/\*.*?\*/)+from(\s|/\*.*?\*/)+[^\s;]+(\s+(as\s+)?[a-z_]\w*)?\s*(;|\\g|\\G)?\s*$
^\s*(\d+\s+)?flushall\b
^\s*(\d+\s+)?flushdb\b
^\s*(\d+\s+)?config\s+set\b`

// builtinFilter is a command group and the filter that denies it, given to
// every organization once.
type builtinFilter struct {
	group    CommandGroup
	filter   string
	priority int
}

// builtinFilters returns the command groups (with their deny filters) that
// every organization starts with: dangerous shell commands and dangerous SQL.
func builtinFilters() []builtinFilter {
	return []builtinFilter{
		{CommandGroup{Name: "Dangerous commands", Kind: "command", Content: DangerousCommands,
			Comment: "Commands that destroy data or stop the machine. Edit as you see fit."}, "Deny dangerous commands", 10},
		{CommandGroup{Name: "Dangerous SQL", Kind: "regex", Content: DangerousSQL, IgnoreCase: true,
			Comment: "Database statements that destroy data (checked per statement in database sessions). Edit as you see fit."}, "Deny dangerous SQL", 11},
	}
}

// SeedOrg gives an organization the built-in command groups and filters it
// has not been given yet. Each is given once: one that an administrator
// deleted does not come back (a setting remembers it was seeded).
func SeedOrg(ctx context.Context, tx *gorm.DB, orgID uint) error {
	for _, b := range builtinFilters() {
		key := fmt.Sprintf("seeded.%d.%s", orgID, strings.ToLower(strings.ReplaceAll(b.group.Name, " ", "_")))
		var n int64
		if err := tx.WithContext(ctx).Model(&Setting{}).Where("key = ?", key).Count(&n).Error; err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		if n > 0 {
			continue
		}
		// Databases made before the marker existed already hold the first group.
		if err := tx.WithContext(ctx).Model(&CommandGroup{}).Where("org_id = ? AND name = ?", orgID, b.group.Name).Count(&n).Error; err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		if n == 0 {
			g := b.group
			g.OrgID, g.Builtin = orgID, true
			if err := tx.WithContext(ctx).Create(&g).Error; err != nil {
				return fmt.Errorf("store: seed command group %q: %w", g.Name, err)
			}
			f := CommandFilter{OrgID: orgID, Name: b.filter, Priority: b.priority, Action: FilterDeny, IsActive: true, Groups: []CommandGroup{g}}
			if err := tx.WithContext(ctx).Create(&f).Error; err != nil {
				return fmt.Errorf("store: seed command filter %q: %w", f.Name, err)
			}
		}
		if err := tx.WithContext(ctx).Create(&Setting{Key: key, Value: "1"}).Error; err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
	}
	return nil
}

func (s *Store) seed(ctx context.Context) error {
	return s.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&Organization{}).Where("builtin = ?", true).Count(&n).Error; err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		if n == 0 {
			if err := tx.Create(&Organization{Name: DefaultOrgName, Builtin: true, Description: "Default organization"}).Error; err != nil {
				return fmt.Errorf("store: seed org: %w", err)
			}
		}
		for _, p := range builtinPlatforms {
			p.Builtin = true
			if err := tx.Where(Platform{Name: p.Name}).FirstOrCreate(&p).Error; err != nil {
				return fmt.Errorf("store: seed platform %s: %w", p.Name, err)
			}
		}
		var orgs []uint
		if err := tx.Model(&Organization{}).Order("id").Pluck("id", &orgs).Error; err != nil {
			return fmt.Errorf("store: seed: %w", err)
		}
		for _, id := range orgs {
			if err := SeedOrg(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// Translate maps driver errors to the domain errors of this package, keeping the original wrapped.
func Translate(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return fmt.Errorf("%w", ErrNotFound)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return fmt.Errorf("%w: %v", ErrConflict, err)
	}
	msg := err.Error()
	if strings.Contains(msg, "UNIQUE constraint failed") || strings.Contains(msg, "duplicate key value") || strings.Contains(msg, "SQLSTATE 23505") {
		return fmt.Errorf("%w: %v", ErrDuplicate, err)
	}
	return err
}
