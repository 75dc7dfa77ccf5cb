package security

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hyvve/gateway/messages"
)

// FuzzDecodeAction checks DecodeAction never panics, answers either a valid
// Action or a VALIDATION_FAILED with details, and that the other decoders
// survive the same bytes.
func FuzzDecodeAction(f *testing.F) {
	for _, seed := range []string{
		`{"action":"approve"}`,
		`{"action":"approve","payload":"x"}`,
		`{"action":"a","payload":null}`,
		`{"action":"` + strings.Repeat("é", 101) + `"}`,
		`{"action":"\ud83d\ude00","payload":"\u0000"}`,
		`{"action":1,"x":[{}],"payload":{"a":[1,2,{"b":null}]}}`,
		`{"action":"a","action":"b"}`,
		`{"room":"user:u","token":"t","state":{}}`,
		`{"action":"a"} trailing`,
		`{"action":"a"`,
		`[1,2,3]`, `null`, `""`, ``, `{`, `}`, `{"":""}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		raw := json.RawMessage(data)
		a, err := DecodeAction(raw)
		if err != nil {
			var e *messages.Error
			if !errors.As(err, &e) || e.Code != messages.CodeValidationFailed || len(e.Details) == 0 {
				t.Fatalf("DecodeAction error %v is not VALIDATION_FAILED with details", err)
			}
		} else {
			if n := utf8.RuneCountInString(a.Action); n < 1 || n > MaxActionChars {
				t.Fatalf("accepted action of %d characters", n)
			}
			if a.Payload != nil && utf8.RuneCountInString(*a.Payload) > MaxPayloadChars {
				t.Fatalf("accepted payload of %d characters", utf8.RuneCountInString(*a.Payload))
			}
			if !json.Valid(data) {
				t.Fatalf("accepted invalid JSON %q", data)
			}
		}
		if _, err := DecodeRoomRequest(raw); err != nil {
			if c := code(err); c != messages.CodeInvalidRoom && c != messages.CodeValidationFailed {
				t.Fatalf("DecodeRoomRequest code %q", c)
			}
		}
		if _, err := DecodeTokenRefresh(raw); err != nil && code(err) != messages.CodeInvalidToken {
			t.Fatalf("DecodeTokenRefresh code %q", code(err))
		}
		if state, err := DecodeStateSync(raw); err == nil && !json.Valid(state) {
			t.Fatalf("DecodeStateSync returned invalid JSON %q", state)
		} else if err != nil && code(err) != messages.CodeValidationFailed {
			t.Fatalf("DecodeStateSync code %q", code(err))
		}
	})
}

// FuzzParseRoom checks ParseRoom never panics, that what it accepts is
// bounded and round-trips through the name builders, and that CanJoin and
// Redact survive any name.
func FuzzParseRoom(f *testing.F) {
	for _, seed := range []string{
		"workspace:ws-1:dashboard", "workspace:ws-1:approvals", "user:u-1", "user:urn:x:1",
		"workspace::dashboard", "workspace:a:b:dashboard", "user:", "workspace:日本:approvals",
		strings.Repeat("a", 201), "workspace:" + strings.Repeat("é", 90) + ":dashboard", "\xff", "user:\x00",
	} {
		f.Add(seed)
	}
	alice := &Claims{Subject: "u-1", WorkspaceID: "ws-1", Workspaces: []string{"ws-2"}}
	f.Fuzz(func(t *testing.T, name string) {
		r, err := ParseRoom(name)
		_ = Redact(name)
		if err != nil {
			if code(err) != messages.CodeInvalidRoom {
				t.Fatalf("ParseRoom error %v is not INVALID_ROOM", err)
			}
			if CanJoin(alice, r) == nil {
				t.Fatalf("zero Room of a refused name %q is joinable", name)
			}
			return
		}
		if len(name) > MaxRoomNameBytes || r.Name != name || !utf8.ValidString(name) {
			t.Fatalf("accepted %q as %+v", name, r)
		}
		switch r.Kind {
		case RoomUser:
			if r.UserID == "" || UserRoom(r.UserID) != name {
				t.Fatalf("user room %q parsed as %+v", name, r)
			}
		case RoomWorkspace:
			rebuilt := DashboardRoom(r.WorkspaceID)
			if r.Channel == ChannelApprovals {
				rebuilt = ApprovalsRoom(r.WorkspaceID)
			}
			if r.WorkspaceID == "" || strings.Contains(r.WorkspaceID, ":") || rebuilt != name {
				t.Fatalf("workspace room %q parsed as %+v", name, r)
			}
		default:
			t.Fatalf("accepted %q with kind %v", name, r.Kind)
		}
		if err := CanJoin(alice, r); (err == nil) != (name == "user:u-1" || r.WorkspaceID == "ws-1" || r.WorkspaceID == "ws-2") {
			t.Fatalf("CanJoin(alice, %q) = %v", name, err)
		}
	})
}
