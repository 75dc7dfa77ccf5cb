package messages

import "encoding/json"

// Code is an error code that crosses the wire: in a CONNECT_ERROR, in an error
// ack {"error": CODE} or in an `error` event {"code": CODE}.
type Code string

// Wire error codes (docs/PROTOCOL.md "Error codes").
const (
	CodeAuthRequired        Code = "AUTH_REQUIRED"
	CodeInvalidToken        Code = "INVALID_TOKEN"
	CodeTokenExpired        Code = "TOKEN_EXPIRED"
	CodeAccessDenied        Code = "ACCESS_DENIED"
	CodeInvalidRoom         Code = "INVALID_ROOM"
	CodePermissionDenied    Code = "PERMISSION_DENIED"
	CodeValidationFailed    Code = "VALIDATION_FAILED"
	CodeUnknownEvent        Code = "UNKNOWN_EVENT"
	CodeRateLimited         Code = "RATE_LIMITED"
	CodeTooManyConnections  Code = "TOO_MANY_CONNECTIONS"
	CodeUpstreamUnavailable Code = "UPSTREAM_UNAVAILABLE"
	CodeRoomFailed          Code = "ROOM_FAILED"
	CodeBinaryNotSupported  Code = "BINARY_NOT_SUPPORTED"
	CodeInvalidNamespace    Code = "INVALID_NAMESPACE"
	CodeServerShuttingDown  Code = "SERVER_SHUTTING_DOWN"
	CodeServerBusy          Code = "SERVER_BUSY" // the actor tree did not take the client in time
)

// Error is a wire error: one of the codes above, and for VALIDATION_FAILED the details
// a client needs to fix its input. It wraps the cause for logs, never for the wire.
type Error struct {
	Code    Code
	Details []string
	Room    string // the room the error is about (ROOM_FAILED, a revoked room), if any
	Cause   error
}

var _ error = (*Error)(nil)

// NewError returns an *Error with the given code and optional details.
func NewError(code Code, details ...string) *Error {
	return &Error{Code: code, Details: details}
}

// Error implements error.
func (e *Error) Error() string {
	msg := string(e.Code)
	if len(e.Details) > 0 {
		msg += ": " + e.Details[0]
		for _, d := range e.Details[1:] {
			msg += "; " + d
		}
	}
	if e.Cause != nil {
		msg += ": " + e.Cause.Error()
	}
	return msg
}

// EventBody is the error as the data of an `error` event:
// {"code": CODE, "room"?: …, "details"?: […]}.
func (e *Error) EventBody() json.RawMessage {
	b, _ := json.Marshal(struct {
		Code    Code     `json:"code"`
		Room    string   `json:"room,omitempty"`
		Details []string `json:"details,omitempty"`
	}{e.Code, e.Room, e.Details})
	return b
}

// AckBody is the error as the data of an error ack:
// {"error": CODE, "room"?: …, "details"?: […]}.
func (e *Error) AckBody() json.RawMessage {
	b, _ := json.Marshal(struct {
		Error   Code     `json:"error"`
		Room    string   `json:"room,omitempty"`
		Details []string `json:"details,omitempty"`
	}{e.Code, e.Room, e.Details})
	return b
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Is matches another *Error by code, so errors.Is(err, NewError(CodeX)) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}
