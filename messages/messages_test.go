package messages

import (
	"errors"
	"fmt"
	"testing"
)

func TestCloseReasons(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range AllCloseReasons() {
		if r.String() == "unknown" || seen[r.String()] {
			t.Errorf("reason %d: label %q missing or repeated", r, r.String())
		}
		seen[r.String()] = true
		if c := r.Code(); c < 1000 || c > 4999 {
			t.Errorf("%s: close code %d out of range", r, c)
		}
	}
	tests := []struct {
		r                       CloseReason
		code                    int
		disconnect, recoverable bool
	}{
		{CloseServerShutdown, 1001, false, true}, // docs/PROTOCOL.md "Close codes": no DISCONNECT, the client reconnects and recovers
		{CloseTransportClosed, 1000, false, true},
		{ClosePingTimeout, 1000, false, true},
		{CloseSlowClient, 1013, false, true},
		{CloseClientLeft, 1000, false, false}, // the client's own 41
		{CloseMessageTooBig, 1009, false, false},
		{CloseActorFailure, 1011, false, false},
		{CloseTokenExpired, 1008, true, false},
		{CloseInvalidToken, 1008, true, false},
		{CloseKicked, 1008, true, false},
		{CloseMalformed, 1002, false, false},
		{CloseConnectRefused, 1008, false, false},
		{CloseHandshakeTimeout, 1002, false, false},
	}
	for _, tt := range tests {
		if tt.r.Code() != tt.code || tt.r.SendsDisconnect() != tt.disconnect || tt.r.Recoverable() != tt.recoverable {
			t.Errorf("%s: code %d disconnect %v recoverable %v", tt.r, tt.r.Code(), tt.r.SendsDisconnect(), tt.r.Recoverable())
		}
	}
	if CloseReason(200).String() != "unknown" || CloseReason(200).Code() != 1011 {
		t.Error("out-of-range reason")
	}
}

func TestErrorMatchesByCode(t *testing.T) {
	cause := errors.New("signature is invalid")
	err := fmt.Errorf("connect: %w", &Error{Code: CodeInvalidToken, Cause: cause})
	if !errors.Is(err, NewError(CodeInvalidToken)) || errors.Is(err, NewError(CodeAuthRequired)) {
		t.Fatal("errors.Is by code")
	}
	if !errors.Is(err, cause) {
		t.Fatal("cause not unwrapped")
	}
	if got := NewError(CodeValidationFailed, "action: too long", "unknown field \"x\"").Error(); got != `VALIDATION_FAILED: action: too long; unknown field "x"` {
		t.Fatalf("message %q", got)
	}
}

func TestErrorBodies(t *testing.T) {
	tests := []struct {
		err        *Error
		event, ack string
	}{
		{NewError(CodeRateLimited), `{"code":"RATE_LIMITED"}`, `{"error":"RATE_LIMITED"}`},
		{NewError(CodeValidationFailed, "action: too long"), `{"code":"VALIDATION_FAILED","details":["action: too long"]}`,
			`{"error":"VALIDATION_FAILED","details":["action: too long"]}`},
		{&Error{Code: CodeRoomFailed, Room: "workspace:w:dashboard"}, `{"code":"ROOM_FAILED","room":"workspace:w:dashboard"}`,
			`{"error":"ROOM_FAILED","room":"workspace:w:dashboard"}`},
	}
	for _, tt := range tests {
		if got := string(tt.err.EventBody()); got != tt.event {
			t.Errorf("event body %s, want %s", got, tt.event)
		}
		if got := string(tt.err.AckBody()); got != tt.ack {
			t.Errorf("ack body %s, want %s", got, tt.ack)
		}
	}
}
