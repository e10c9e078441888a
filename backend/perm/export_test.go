package perm

// SetProbeLimit makes r probe candidate sets up to n assets by primary key and
// scan beyond; n < 0 means always scan.
func SetProbeLimit(r *Resolver, n int) { r.probeMax = n }
