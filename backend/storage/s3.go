package storage

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where an S3-compatible object store keeps the recordings.
// Its String, GoString and LogValue never show SecretKey, so a config may be
// logged or printed with %v and %#v.
type S3Config struct {
	// Endpoint is host or host:port, without a scheme ("s3.example.com",
	// "127.0.0.1:9000").
	Endpoint string
	// Bucket must exist; NewS3 creates nothing.
	Bucket string
	// Prefix is prepended to every key ("portcullis/recordings"); leading
	// and trailing slashes are ignored.
	Prefix string
	// AccessKey and SecretKey are the static credentials (both required).
	AccessKey, SecretKey string
	// Region is the bucket's region; empty asks the store.
	Region string
	// UseTLS selects https.
	UseTLS bool
	// InsecureSkipVerify accepts any TLS certificate (test setups only).
	InsecureSkipVerify bool
}

// Validate checks the config without contacting the store.
func (c S3Config) Validate() error {
	switch {
	case c.Endpoint == "":
		return errors.New("storage: s3: endpoint is required")
	case strings.Contains(c.Endpoint, "://"):
		return fmt.Errorf("storage: s3: endpoint %q must be host[:port] without a scheme (use UseTLS for https)", c.Endpoint)
	case strings.ContainsAny(c.Endpoint, "/?#@ \t"):
		return fmt.Errorf("storage: s3: endpoint %q must be host[:port]", c.Endpoint)
	}
	if host, port, err := net.SplitHostPort(c.Endpoint); err == nil {
		if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 || host == "" {
			return fmt.Errorf("storage: s3: endpoint %q: bad host or port", c.Endpoint)
		}
	}
	if err := validateBucket(c.Bucket); err != nil {
		return err
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if err := ValidateKey(p); err != nil {
			return fmt.Errorf("storage: s3: prefix %q: not a clean relative path", c.Prefix)
		}
	}
	if c.AccessKey == "" || c.SecretKey == "" {
		return errors.New("storage: s3: access key and secret key are required")
	}
	if c.InsecureSkipVerify && !c.UseTLS {
		return errors.New("storage: s3: InsecureSkipVerify needs UseTLS")
	}
	return nil
}

// validateBucket applies the S3 bucket naming rules.
func validateBucket(b string) error {
	if len(b) < 3 || len(b) > 63 {
		return fmt.Errorf("storage: s3: bucket %q: must be 3 to 63 characters", b)
	}
	for i := 0; i < len(b); i++ {
		ch := b[i]
		ok := ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '.'
		if !ok {
			return fmt.Errorf("storage: s3: bucket %q: only lowercase letters, digits, '-' and '.'", b)
		}
	}
	if !isAlnum(b[0]) || !isAlnum(b[len(b)-1]) || strings.Contains(b, "..") {
		return fmt.Errorf("storage: s3: bucket %q: must start and end with a letter or digit", b)
	}
	return nil
}

func isAlnum(ch byte) bool { return ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' }

// String describes the config without the secret key:
// `s3://bucket/prefix at https://endpoint (region r, access key "AK", secret key set)`.
func (c S3Config) String() string {
	scheme := "http"
	if c.UseTLS {
		scheme = "https"
	}
	loc := "s3://" + c.Bucket
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		loc += "/" + p
	}
	region := c.Region
	if region == "" {
		region = "auto"
	}
	secret := "unset"
	if c.SecretKey != "" {
		secret = "set"
	}
	insecure := ""
	if c.UseTLS && c.InsecureSkipVerify {
		insecure = ", certificate not verified"
	}
	return fmt.Sprintf("%s at %s://%s (region %s, access key %q, secret key %s%s)",
		loc, scheme, c.Endpoint, region, c.AccessKey, secret, insecure)
}

// GoString is String, so %#v does not print the secret key either.
func (c S3Config) GoString() string { return "storage.S3Config{" + c.String() + "}" }

// LogValue is String, so slog handlers (JSON included) never see the secret key.
func (c S3Config) LogValue() slog.Value { return slog.StringValue(c.String()) }

// S3 is a Backend on a bucket of an S3-compatible object store.
type S3 struct {
	client *minio.Client
	core   minio.Core
	bucket string
	prefix string // "" or ending in "/"
	secret string // only to scrub it from errors, should a server echo it
}

var _ Backend = (*S3)(nil)

// s3Retries is how often minio-go tries one request. It is low because the
// Uploader retries with its own backoff and reports each failure.
const s3Retries = 3

// NewS3 returns an S3 backend for cfg. It validates cfg but neither contacts
// the store nor creates anything: CheckBucket tells whether it is reachable.
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          32,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       time.Minute,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: 10 * time.Second,
		DisableCompression:    true, // .cast.gz must arrive as stored
	}
	if cfg.UseTLS {
		tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: cfg.InsecureSkipVerify}
	}
	client, err := minio.New(cfg.Endpoint, &minio.Options{
		Creds:      credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:     cfg.UseTLS,
		Region:     cfg.Region,
		Transport:  tr,
		MaxRetries: s3Retries,
	})
	if err != nil {
		return nil, scrub(fmt.Errorf("storage: s3 %s: %w", cfg.Endpoint, err), cfg.SecretKey)
	}
	prefix := strings.Trim(cfg.Prefix, "/")
	if prefix != "" {
		prefix += "/"
	}
	return &S3{client: client, core: minio.Core{Client: client}, bucket: cfg.Bucket, prefix: prefix, secret: cfg.SecretKey}, nil
}

// Name returns "s3".
func (s *S3) Name() string { return "s3" }

// CheckBucket tells whether the bucket is reachable with the credentials:
// nil, ErrNoBucket, or the error of the request.
func (s *S3) CheckBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.translate("check bucket", s.bucket, err)
	}
	if !ok {
		return fmt.Errorf("storage: s3 check bucket: %w: %s", ErrNoBucket, s.bucket)
	}
	return nil
}

func (s *S3) object(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// multipartThreshold is the size above which minio-go uploads in parts (its
// minimum part size).
const multipartThreshold = 16 << 20

// Put uploads r. A file (io.ReaderAt and io.Seeker, such as *os.File) is sent
// in parallel parts read straight from it; any other reader of a known size
// goes through one part buffer (16 MiB) at a time, never the whole object.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	info, err := s.client.PutObject(ctx, s.bucket, name, r, size, minio.PutObjectOptions{ContentType: contentType(key)})
	if err != nil {
		return s.translate("put", key, err)
	}
	if size >= 0 && info.Size != size {
		return fmt.Errorf("storage: s3 put %s: %w: stored %d bytes, want %d", key, ErrSizeMismatch, info.Size, size)
	}
	if size < 0 || size > multipartThreshold {
		// Parts of earlier attempts cut off by a dead server stay in the
		// bucket until aborted; best effort, the upload itself succeeded.
		s.client.RemoveIncompleteUpload(ctx, s.bucket, name)
	}
	return nil
}

// contentType is what a recording is served as from the bucket.
func contentType(key string) string {
	switch {
	case strings.HasSuffix(key, ".gz"):
		return "application/gzip"
	case strings.HasSuffix(key, ".cast"):
		return "application/x-asciicast"
	}
	return "application/octet-stream"
}

// Open returns the whole object.
func (s *S3) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, name, minio.GetObjectOptions{})
	if err != nil {
		return nil, s.translate("open", key, err)
	}
	return body, nil
}

// OpenRange returns n bytes from off (the rest when n <= 0) with one ranged
// GET.
func (s *S3) OpenRange(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	name, err := s.object(key)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		return nil, fmt.Errorf("storage: s3 open %s: %w: offset %d", key, ErrInvalidRange, off)
	}
	var opts minio.GetObjectOptions
	if n <= 0 {
		opts.Set("Range", fmt.Sprintf("bytes=%d-", off))
	} else {
		opts.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
	}
	body, _, _, err := s.core.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, s.translate("open", key, err)
	}
	return body, nil
}

// Stat returns the object's size.
func (s *S3) Stat(ctx context.Context, key string) (int64, error) {
	name, err := s.object(key)
	if err != nil {
		return 0, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return 0, s.translate("stat", key, err)
	}
	return info.Size, nil
}

// Delete removes the object; a missing one is not an error.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.object(key)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil {
		if err := s.translate("delete", key, err); !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// translate maps minio-go errors to the package's sentinels and makes sure
// the secret key cannot appear in the message.
func (s *S3) translate(op, key string, err error) error {
	var er minio.ErrorResponse
	if errors.As(err, &er) {
		switch er.Code {
		case minio.NoSuchKey, "NotFound":
			return fmt.Errorf("storage: s3 %s %s: %w", op, key, ErrNotFound)
		case minio.NoSuchBucket:
			return fmt.Errorf("storage: s3 %s %s: %w: %s", op, key, ErrNoBucket, s.bucket)
		case minio.InvalidRange:
			return fmt.Errorf("storage: s3 %s %s: %w", op, key, ErrInvalidRange)
		}
		if er.StatusCode == http.StatusRequestedRangeNotSatisfiable {
			return fmt.Errorf("storage: s3 %s %s: %w", op, key, ErrInvalidRange)
		}
	}
	return scrub(fmt.Errorf("storage: s3 %s %s: %w", op, key, err), s.secret)
}

// minScrubLen is the shortest secret scrub looks for: replacing a one- or
// two-letter "secret" everywhere would garble every message.
const minScrubLen = 6

// scrub hides secret in err's message, should a server or a library have
// echoed it. errors.Is and errors.As still see the original.
func scrub(err error, secret string) error {
	if err == nil || len(secret) < minScrubLen || !strings.Contains(err.Error(), secret) {
		return err
	}
	return scrubbedError{msg: strings.ReplaceAll(err.Error(), secret, "[secret]"), err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e scrubbedError) Error() string { return e.msg }
func (e scrubbedError) Unwrap() error { return e.err }
