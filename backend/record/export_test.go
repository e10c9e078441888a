package record

// DecodeLikeAsciinema exposes the escaper to the external tests: b decoded the way
// asciinema decodes terminal output (UTF-8 with replacement), as JSON string text.
func DecodeLikeAsciinema(b []byte) []byte {
	out, _ := appendText(nil, b, true)
	return out
}
