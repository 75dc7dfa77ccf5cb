package security

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hyvve/gateway/messages"
)

// wireErr asserts err is a *messages.Error with the code and, when given,
// exactly the details.
func wireErr(t *testing.T, err error, want messages.Code, details ...string) {
	t.Helper()
	if got := code(err); got != want {
		t.Fatalf("err = %v, want %s", err, want)
	}
	if details == nil {
		return
	}
	e := err.(*messages.Error)
	if !slices.Equal(e.Details, details) {
		t.Fatalf("details = %q, want %q", e.Details, details)
	}
}

func TestDecodeRoomRequest(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
		code messages.Code // "" for success
	}{
		{"room", `{"room":"workspace:ws-1:dashboard"}`, "workspace:ws-1:dashboard", ""},
		{"whitespace", " { \"room\" : \"user:u\" } ", "user:u", ""},
		{"escaped key", `{"\u0072oom":"user:u"}`, "user:u", ""},
		{"unparsed name is returned", `{"room":"anything"}`, "anything", ""},
		{"missing room", `{}`, "", messages.CodeInvalidRoom},
		{"room number", `{"room":5}`, "", messages.CodeInvalidRoom},
		{"room null", `{"room":null}`, "", messages.CodeInvalidRoom},
		{"room object", `{"room":{"name":"x"}}`, "", messages.CodeInvalidRoom},
		{"room array", `{"room":["user:u"]}`, "", messages.CodeInvalidRoom},
		{"not an object: string", `"user:u"`, "", messages.CodeInvalidRoom},
		{"not an object: array", `["user:u"]`, "", messages.CodeInvalidRoom},
		{"not an object: null", `null`, "", messages.CodeInvalidRoom},
		{"empty data", ``, "", messages.CodeInvalidRoom},
		{"truncated", `{"room":"user:u"`, "", messages.CodeInvalidRoom},
		{"trailing data", `{"room":"user:u"} {}`, "", messages.CodeInvalidRoom},
		{"duplicate room", `{"room":"user:u","room":"user:v"}`, "", messages.CodeInvalidRoom},
		{"unknown field", `{"room":"user:u","x":1}`, "", messages.CodeValidationFailed},
		{"misspelt room", `{"rooms":"user:u"}`, "", messages.CodeInvalidRoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRoomRequest(json.RawMessage(tt.raw))
			if tt.code != "" {
				wireErr(t, err, tt.code)
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	_, err := DecodeRoomRequest(json.RawMessage(`{"room":"user:u","x":1,"a":2}`))
	wireErr(t, err, messages.CodeValidationFailed, `unknown field "a"`, `unknown field "x"`)
}

func TestDecodeAction(t *testing.T) {
	str := func(s string) *string { return &s }
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	const (
		actionRule  = "action: must be a string of 1..100 characters"
		payloadRule = "payload: must be a string of at most 10000 characters"
	)
	tests := []struct {
		name    string
		raw     string
		want    Action
		details []string // nil for success
	}{
		{"action only", `{"action":"approve"}`, Action{Action: "approve"}, nil},
		{"with payload", `{"action":"approve","payload":"{\"id\":1}"}`, Action{Action: "approve", Payload: str(`{"id":1}`)}, nil},
		{"empty payload", `{"action":"a","payload":""}`, Action{Action: "a", Payload: str("")}, nil},
		{"null payload is absent", `{"action":"a","payload":null}`, Action{Action: "a"}, nil},
		{"100 multibyte characters", `{"action":` + quote(strings.Repeat("é", 100)) + `}`, Action{Action: strings.Repeat("é", 100)}, nil},
		{"100 characters of 4 bytes", `{"action":` + quote(strings.Repeat("😀", 100)) + `}`, Action{Action: strings.Repeat("😀", 100)}, nil},
		{"surrogate pair escape is one character", `{"action":"` + strings.Repeat(`\ud83d\ude00`, 100) + `"}`, Action{Action: strings.Repeat("😀", 100)}, nil},
		{"10000 character payload", `{"action":"a","payload":` + quote(strings.Repeat("ß", 10000)) + `}`, Action{Action: "a", Payload: str(strings.Repeat("ß", 10000))}, nil},
		{"101 characters", `{"action":` + quote(strings.Repeat("é", 101)) + `}`, Action{}, []string{actionRule}},
		{"empty action", `{"action":""}`, Action{}, []string{actionRule}},
		{"missing action", `{}`, Action{}, []string{"action: is required (a string of 1..100 characters)"}},
		{"action number", `{"action":1}`, Action{}, []string{actionRule}},
		{"action null", `{"action":null}`, Action{}, []string{actionRule}},
		{"action array", `{"action":["a"]}`, Action{}, []string{actionRule}},
		{"10001 character payload", `{"action":"a","payload":` + quote(strings.Repeat("ß", 10001)) + `}`, Action{}, []string{payloadRule}},
		{"payload object", `{"action":"a","payload":{"id":1}}`, Action{}, []string{payloadRule}},
		{"payload number", `{"action":"a","payload":1}`, Action{}, []string{payloadRule}},
		{"unknown field", `{"action":"a","x":1}`, Action{}, []string{`unknown field "x"`}},
		{"everything wrong", `{"z":1,"action":5,"payload":[],"b":2}`, Action{}, []string{`unknown field "b"`, `unknown field "z"`, actionRule, payloadRule}},
		{"long unknown field is cut", `{"action":"a",` + quote(strings.Repeat("k", 100)) + `:1}`, Action{}, []string{`unknown field "` + strings.Repeat("k", 64) + `"…`}},
		{"control characters in field are escaped", `{"action":"a","\n":1}`, Action{}, []string{`unknown field "\n"`}},
		{"duplicate action", `{"action":"a","action":"admin.x"}`, Action{}, []string{`data: duplicate field "action"`}},
		{"not an object", `"approve"`, Action{}, []string{"data: must be a JSON object"}},
		{"null", `null`, Action{}, []string{"data: must be a JSON object"}},
		{"empty", ``, Action{}, []string{"data: must be a JSON object"}},
		{"truncated", `{"action":"a"`, Action{}, []string{"data: must be a JSON object"}},
		{"invalid JSON", `{"action":'a'}`, Action{}, []string{"data: must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeAction(json.RawMessage(tt.raw))
			if tt.details != nil {
				wireErr(t, err, messages.CodeValidationFailed, tt.details...)
				return
			}
			if err != nil {
				t.Fatalf("DecodeAction: %v", err)
			}
			if got.Action != tt.want.Action || (got.Payload == nil) != (tt.want.Payload == nil) ||
				(got.Payload != nil && *got.Payload != *tt.want.Payload) {
				t.Fatalf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeTokenRefresh(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string // "" for INVALID_TOKEN
	}{
		{"token", `{"token":"a.b.c"}`, "a.b.c"},
		{"empty token", `{"token":""}`, ""},
		{"missing token", `{}`, ""},
		{"token number", `{"token":1}`, ""},
		{"token null", `{"token":null}`, ""},
		{"unknown field", `{"token":"a.b.c","sub":"x"}`, ""},
		{"not an object", `"a.b.c"`, ""},
		{"null", `null`, ""},
		{"empty data", ``, ""},
		{"duplicate", `{"token":"a","token":"b"}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeTokenRefresh(json.RawMessage(tt.raw))
			if tt.want == "" {
				wireErr(t, err, messages.CodeInvalidToken)
				if strings.Contains(err.Error(), "a.b.c") {
					t.Errorf("error repeats the token: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func TestDecodeStateSync(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		want    string
		details []string // nil for success
	}{
		{"object state", `{"state":{"tab":"x","n":[1,2]}}`, `{"tab":"x","n":[1,2]}`, nil},
		{"string state", `{"state":"é"}`, `"é"`, nil},
		{"null state", `{"state":null}`, `null`, nil},
		{"number state", `{"state":1.5e3}`, `1.5e3`, nil},
		{"missing state", `{}`, "", []string{"state: is required"}},
		{"unknown field", `{"state":1,"x":2}`, "", []string{`unknown field "x"`}},
		{"unknown field and missing state", `{"x":2}`, "", []string{`unknown field "x"`, "state: is required"}},
		{"not an object", `[1]`, "", []string{"data: must be a JSON object"}},
		{"truncated state", `{"state":{"a":}`, "", []string{"data: must be a JSON object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeStateSync(json.RawMessage(tt.raw))
			if tt.details != nil {
				wireErr(t, err, messages.CodeValidationFailed, tt.details...)
				return
			}
			if err != nil || string(got) != tt.want {
				t.Fatalf("got %s, %v; want %s", got, err, tt.want)
			}
		})
	}
}
