package term

// Limits on terminal sizes. A window-change request outside 1..MaxCols or
// 1..MaxRows is clamped (too large) or ignored (zero or negative): a huge size
// would make the VT emulator and the players allocate absurd screens.
const (
	MaxCols = 1000
	MaxRows = 1000

	// DefaultCols and DefaultRows are used when a session starts without a valid size.
	DefaultCols = 80
	DefaultRows = 24
)

// Size is a terminal size in character cells.
type Size struct{ Cols, Rows int }

// Clamp returns s limited to MaxCols x MaxRows, and ok=false when s has a zero
// or negative dimension (such a size should be ignored, not applied).
func (s Size) Clamp() (Size, bool) {
	if s.Cols <= 0 || s.Rows <= 0 {
		return s, false
	}
	s.Cols = min(s.Cols, MaxCols)
	s.Rows = min(s.Rows, MaxRows)
	return s, true
}

// normalSize returns s clamped, or 80x24 when s is not a valid size.
func normalSize(s Size) Size {
	if c, ok := s.Clamp(); ok {
		return c
	}
	return Size{Cols: DefaultCols, Rows: DefaultRows}
}
