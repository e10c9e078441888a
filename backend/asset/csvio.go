package asset

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"
)

// Import limits.
const (
	MaxImportSize = 10 << 20 // bytes per file
	MaxImportRows = 50000    // data rows per file
	MaxFieldSize  = 4 << 10  // bytes per cell
	// MaxSecretFieldSize bounds the secret cell of account files, larger than
	// MaxFieldSize so that RSA keys of up to 8192 bits fit.
	MaxSecretFieldSize = MaxKeyLen
)

// fileError is a problem with the file as a whole; it names the field "file".
func fileError(format string, args ...any) *FieldError {
	return invalid("file", format, args...)
}

type csvTable struct {
	header []string       // lowercased column names, in file order
	col    map[string]int // column name -> index
	rows   []csvRow
}

type csvRow struct {
	num    int // 1-based data row
	line   int
	fields []string
}

// readCSV reads a whole import file (bounded by the limits above) and checks
// its header against the known and required columns. CSV syntax errors
// reject the file: past one, the framing of later rows cannot be trusted.
func readCSV(r io.Reader, known, required []string) (*csvTable, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxImportSize+1))
	if err != nil {
		return nil, fmt.Errorf("asset: read import file: %w", err)
	}
	if len(data) > MaxImportSize {
		return nil, fmt.Errorf("%w: larger than %d MiB", ErrTooLarge, MaxImportSize>>20)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fileError("the file is empty; a header row is required (%s)", strings.Join(known, ","))
	}
	if err != nil {
		return nil, fileError("%v", err)
	}
	t := &csvTable{col: make(map[string]int, len(header))}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		switch {
		case h == "":
			return nil, fileError("column %d of the header has no name", i+1)
		case !slices.Contains(known, h):
			msg := fmt.Sprintf("unknown column %q; the columns are %s", clip(h, 64), strings.Join(known, ","))
			if len(header) == 1 && strings.Contains(h, ";") {
				msg += ` (the file seems to use ";" as separator; use ",")`
			}
			return nil, fileError("%s", msg)
		}
		if _, dup := t.col[h]; dup {
			return nil, fileError("column %q appears twice in the header", h)
		}
		t.col[h] = i
		t.header = append(t.header, h)
	}
	var missing []string
	for _, c := range required {
		if _, ok := t.col[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fileError("missing required column(s): %s", strings.Join(missing, ", "))
	}
	for n := 1; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fileError("%v", err)
		}
		if n > MaxImportRows {
			return nil, fmt.Errorf("%w: more than %d data rows", ErrTooLarge, MaxImportRows)
		}
		line, _ := cr.FieldPos(0)
		t.rows = append(t.rows, csvRow{num: n, line: line, fields: rec})
	}
	return t, nil
}

// clip shortens s for an error message.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

// blank reports whether every cell of the row is empty, as spreadsheets
// write for empty lines; such rows are skipped.
func (row csvRow) blank() bool {
	for _, f := range row.fields {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// check checks the row's shape: as many cells as the header, each within its
// size limit (secret cells within MaxSecretFieldSize).
func (t *csvTable) check(row csvRow) *RowError {
	if len(row.fields) != len(t.header) {
		return &RowError{Row: row.num, Line: row.line, Message: fmt.Sprintf("has %d fields, the header has %d", len(row.fields), len(t.header))}
	}
	for i, f := range row.fields {
		limit := MaxFieldSize
		if t.header[i] == "secret" {
			limit = MaxSecretFieldSize
		}
		if len(f) > limit {
			return &RowError{Row: row.num, Line: row.line, Field: t.header[i], Message: fmt.Sprintf("longer than %d bytes", limit)}
		}
	}
	return nil
}

// get returns the cell of column c, with the formula-injection guard undone,
// and whether the file has that column.
func (t *csvTable) get(row csvRow, c string) (string, bool) {
	i, ok := t.col[c]
	if !ok {
		return "", false
	}
	return unescapeCell(row.fields[i]), true
}

// raw returns the cell of column c verbatim.
func (t *csvTable) raw(row csvRow, c string) (string, bool) {
	i, ok := t.col[c]
	if !ok {
		return "", false
	}
	return row.fields[i], true
}

// formulaTrigger reports whether a spreadsheet could take a cell starting with
// b for a formula (OWASP's list), or b is the apostrophe that escapes them.
func formulaTrigger(b byte) bool {
	switch b {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return true
	}
	return false
}

// escapeCell guards a cell against formula injection by prefixing an
// apostrophe; unescapeCell undoes it exactly (see the package comment).
func escapeCell(s string) string {
	if s != "" && formulaTrigger(s[0]) {
		return "'" + s
	}
	return s
}

func unescapeCell(s string) string {
	if len(s) >= 2 && s[0] == '\'' && formulaTrigger(s[1]) {
		return s[1:]
	}
	return s
}

// writeRecord writes one record, its cells escaped.
func writeRecord(w *csv.Writer, cells ...string) error {
	for i, c := range cells {
		cells[i] = escapeCell(c)
	}
	return w.Write(cells)
}

// parseBool reads true/false, yes/no, 1/0, t/f, y/n in any case.
func parseBool(field, s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "t", "yes", "y", "1":
		return true, nil
	case "false", "f", "no", "n", "0":
		return false, nil
	}
	return false, invalid(field, "%q is not true or false", clip(s, 32))
}

func formatBool(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
