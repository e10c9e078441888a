package telnet

// Telnet commands (RFC 854).
const (
	cmdSE   = 240 // end of subnegotiation
	cmdNOP  = 241
	cmdDM   = 242 // data mark
	cmdBRK  = 243
	cmdIP   = 244
	cmdAO   = 245
	cmdAYT  = 246
	cmdEC   = 247
	cmdEL   = 248
	cmdGA   = 249 // go ahead
	cmdSB   = 250 // begin subnegotiation
	cmdWILL = 251
	cmdWONT = 252
	cmdDO   = 253
	cmdDONT = 254
	cmdIAC  = 255
)

// Telnet options this client knows of.
const (
	optBinary = 0  // RFC 856
	optEcho   = 1  // RFC 857
	optSGA    = 3  // suppress go ahead, RFC 858
	optTTYPE  = 24 // terminal type, RFC 1091
	optNAWS   = 31 // negotiate about window size, RFC 1073
)

// Subnegotiation codes of TTYPE.
const (
	ttypeIS   = 0
	ttypeSEND = 1
)

// maxSubneg bounds the bytes kept of one subnegotiation; the rest is dropped.
const maxSubneg = 1024

// event is a telnet command found in the stream.
type event struct {
	cmd  byte   // cmdWILL/WONT/DO/DONT, cmdSB, or another command byte
	opt  byte   // the option of WILL/WONT/DO/DONT and SB
	data []byte // SB payload (unescaped); valid only during the emit call
}

type parseState uint8

const (
	stData   parseState = iota
	stIAC               // after IAC
	stOpt               // after IAC WILL/WONT/DO/DONT
	stSB                // after IAC SB: the option byte follows
	stSBData            // inside a subnegotiation
	stSBIAC             // IAC inside a subnegotiation
)

// parser splits the server's byte stream into data and telnet commands. It
// keeps its state between calls, so commands split across reads are handled.
// Data: IAC IAC becomes 0xFF; unless binary, CR NUL becomes CR (NVT); CR LF
// stays CR LF.
type parser struct {
	binary     bool // the server sends in binary mode (RFC 856): NUL is data
	state      parseState
	cmd        byte // WILL/WONT/DO/DONT awaiting its option
	sbOpt      byte
	sb         []byte
	sbOverflow bool
	afterCR    bool // the last data byte was CR (kept across IAC sequences)
}

// parse decodes in, appends the data bytes to out and returns it; commands are
// passed to emit in stream order. Decoding in place (out = in[:0]) is safe:
// the output never runs ahead of the input.
func (p *parser) parse(in, out []byte, emit func(event)) []byte {
	for _, b := range in {
		switch p.state {
		case stData:
			switch {
			case b == cmdIAC:
				p.state = stIAC
			case b == 0 && p.afterCR && !p.binary:
				p.afterCR = false // CR NUL: a bare carriage return
			default:
				out = append(out, b)
				p.afterCR = b == '\r'
			}
		case stIAC:
			p.state = stData
			switch b {
			case cmdIAC:
				out = append(out, cmdIAC)
				p.afterCR = false
			case cmdWILL, cmdWONT, cmdDO, cmdDONT:
				p.cmd, p.state = b, stOpt
			case cmdSB:
				p.state = stSB
			case cmdSE:
				// stray SE: ignore
			default:
				emit(event{cmd: b})
			}
		case stOpt:
			emit(event{cmd: p.cmd, opt: b})
			p.state = stData
		case stSB:
			p.sbOpt, p.sb, p.sbOverflow = b, p.sb[:0], false
			p.state = stSBData
		case stSBData:
			if b == cmdIAC {
				p.state = stSBIAC
			} else {
				p.sbAppend(b)
			}
		case stSBIAC:
			switch b {
			case cmdIAC:
				p.sbAppend(cmdIAC)
				p.state = stSBData
			case cmdSE:
				p.endSB(emit)
				p.state = stData
			default:
				// IAC <cmd> inside a subnegotiation: the server forgot IAC SE.
				// End the subnegotiation and take the command as it comes.
				p.endSB(emit)
				p.state = stIAC
				out = p.parse([]byte{b}, out, emit)
			}
		}
	}
	return out
}

func (p *parser) sbAppend(b byte) {
	if len(p.sb) >= maxSubneg {
		p.sbOverflow = true
		return
	}
	p.sb = append(p.sb, b)
}

func (p *parser) endSB(emit func(event)) {
	if !p.sbOverflow {
		emit(event{cmd: cmdSB, opt: p.sbOpt, data: p.sb})
	}
	p.sb, p.sbOverflow = p.sb[:0], false
}

// appendData appends p to dst encoded as telnet data: 0xFF doubled and, unless
// in binary mode, a CR not followed by LF sent as CR NUL (NVT).
func appendData(dst, p []byte, binary bool) []byte {
	for i, b := range p {
		switch {
		case b == cmdIAC:
			dst = append(dst, cmdIAC, cmdIAC)
		case b == '\r' && !binary:
			dst = append(dst, '\r')
			if i+1 >= len(p) || p[i+1] != '\n' {
				dst = append(dst, 0)
			}
		default:
			dst = append(dst, b)
		}
	}
	return dst
}

// appendCmd appends IAC cmd opt.
func appendCmd(dst []byte, cmd, opt byte) []byte { return append(dst, cmdIAC, cmd, opt) }

// appendSB appends IAC SB opt <payload, IAC doubled> IAC SE.
func appendSB(dst []byte, opt byte, payload ...byte) []byte {
	dst = append(dst, cmdIAC, cmdSB, opt)
	for _, b := range payload {
		if b == cmdIAC {
			dst = append(dst, cmdIAC)
		}
		dst = append(dst, b)
	}
	return append(dst, cmdIAC, cmdSE)
}

// nawsPayload is the NAWS subnegotiation payload: width and height, 16 bits each.
func nawsPayload(cols, rows int) []byte {
	c, r := clamp16(cols), clamp16(rows)
	return []byte{byte(c >> 8), byte(c), byte(r >> 8), byte(r)}
}

func clamp16(n int) int {
	if n < 1 {
		return 1
	}
	if n > 0xFFFF {
		return 0xFFFF
	}
	return n
}
