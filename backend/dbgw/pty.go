package dbgw

// maxTermSize bounds the terminal sizes passed to the kernel.
const maxTermSize = 10000

// normalSize replaces an invalid terminal size by 80x24 and clamps a huge one.
func normalSize(cols, rows int) (int, int) {
	if cols <= 0 || rows <= 0 {
		return 80, 24
	}
	return min(cols, maxTermSize), min(rows, maxTermSize)
}
