package guacgw

import "strconv"

// Status is a Guacamole protocol status code, as carried by the "error" and
// "ack" instructions and understood by Guacamole.Status in
// guacamole-common-js. On the wire it is written in decimal.
type Status int

// The status codes guacgw sends or interprets (Guacamole protocol reference,
// "Status codes").
const (
	StatusSuccess          Status = 0x0000
	StatusServerError      Status = 0x0200 // an internal error in Portcullis
	StatusUpstreamError    Status = 0x0203 // guacd failed, sent garbage or went away
	StatusResourceNotFound Status = 0x0204 // guacd's answer to "select" of an unknown connection ID
	StatusSessionTimeout   Status = 0x020A // the session ended because it was idle
	StatusSessionClosed    Status = 0x020B // the session was forcibly terminated: killed, max duration, shutdown
	StatusClientBadRequest Status = 0x0300 // the browser sent a malformed instruction
	StatusClientForbidden  Status = 0x0303 // a stream the policy forbids (clipboard, upload, download)
	StatusClientOverrun    Status = 0x030D // the browser sent more than the limits allow
)

// String returns the status's name in the Guacamole protocol reference, or
// its hexadecimal value.
func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "SUCCESS"
	case StatusServerError:
		return "SERVER_ERROR"
	case StatusUpstreamError:
		return "UPSTREAM_ERROR"
	case StatusResourceNotFound:
		return "RESOURCE_NOT_FOUND"
	case StatusSessionTimeout:
		return "SESSION_TIMEOUT"
	case StatusSessionClosed:
		return "SESSION_CLOSED"
	case StatusClientBadRequest:
		return "CLIENT_BAD_REQUEST"
	case StatusClientForbidden:
		return "CLIENT_FORBIDDEN"
	case StatusClientOverrun:
		return "CLIENT_OVERRUN"
	}
	return "0x" + strconv.FormatInt(int64(s), 16)
}

// ErrorInstruction returns the "error" instruction that tells
// guacamole-common-js why the session ends: Guacamole.Client calls its
// onerror handler with the message and code, then disconnects.
func ErrorInstruction(message string, code Status) Instruction {
	return NewInstruction("error", message, strconv.Itoa(int(code)))
}
