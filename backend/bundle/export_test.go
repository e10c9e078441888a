package bundle

import (
	"context"
	"io"
)

// VerifyWithLimits is Verify with other caps on the size of a file and on the content
// read in all.
func VerifyWithLimits(ctx context.Context, r io.ReaderAt, size int64, trusted []string, fileSize, total int64) (Report, error) {
	lim := defaultLimits()
	lim.fileSize, lim.total = fileSize, total
	v := newVerifier(ctx, r, size, trusted, lim)
	err := v.run()
	return v.report, err
}
