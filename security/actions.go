package security

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hyvve/gateway/messages"
)

// Limits of a dashboard_action, in characters (Unicode code points).
const (
	// MaxActionChars is the longest action name.
	MaxActionChars = 100
	// MaxPayloadChars is the longest action payload.
	MaxPayloadChars = 10000
)

// Field names of the client event payloads (docs/PROTOCOL.md "Client events").
const (
	fieldRoom    = "room"
	fieldAction  = "action"
	fieldPayload = "payload"
	fieldToken   = "token"
	fieldState   = "state"
)

// Action is a validated dashboard_action request.
type Action struct {
	// Action is the action name, 1..MaxActionChars characters.
	Action string
	// Payload is the optional payload, at most MaxPayloadChars characters;
	// nil when absent (or JSON null).
	Payload *string
}

// DecodeRoomRequest decodes the data of join_room and leave_room,
// {"room": string}, and returns the room name unparsed (see ParseRoom).
// Data that is not an object, or a room that is missing or not a string, is
// INVALID_ROOM; any other field is VALIDATION_FAILED.
func DecodeRoomRequest(raw json.RawMessage) (string, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		e := messages.NewError(messages.CodeInvalidRoom)
		e.Cause = err
		return "", e
	}
	room, _, ok := obj.stringField(fieldRoom)
	if !ok {
		return "", messages.NewError(messages.CodeInvalidRoom)
	}
	if extra := obj.unknown(fieldRoom); len(extra) > 0 {
		return "", validationFailed(unknownFieldDetails(extra)...)
	}
	return room, nil
}

// DecodeAction decodes the data of dashboard_action,
// {"action": string 1..100, "payload"?: string ≤ 10000}, counting
// characters as Unicode code points. Every violation is VALIDATION_FAILED
// with one detail per problem, naming the field and the rule.
func DecodeAction(raw json.RawMessage) (Action, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return Action{}, validationFailed(dataDetail(err))
	}
	var (
		details []string
		a       Action
	)
	for _, f := range obj.unknown(fieldAction, fieldPayload) {
		details = append(details, unknownFieldDetail(f))
	}

	action, present, ok := obj.stringField(fieldAction)
	switch n := utf8.RuneCountInString(action); {
	case !present:
		details = append(details, fmt.Sprintf("%s: is required (a string of 1..%d characters)", fieldAction, MaxActionChars))
	case !ok || n < 1 || n > MaxActionChars:
		details = append(details, fmt.Sprintf("%s: must be a string of 1..%d characters", fieldAction, MaxActionChars))
	default:
		a.Action = action
	}

	if v, present := obj[fieldPayload]; present && !isNull(v) {
		payload, _, ok := obj.stringField(fieldPayload)
		if !ok || utf8.RuneCountInString(payload) > MaxPayloadChars {
			details = append(details, fmt.Sprintf("%s: must be a string of at most %d characters", fieldPayload, MaxPayloadChars))
		} else {
			a.Payload = &payload
		}
	}

	if len(details) > 0 {
		return Action{}, validationFailed(details...)
	}
	return a, nil
}

// DecodeTokenRefresh decodes the data of token_refresh, {"token": string},
// and returns the token. Anything else (not an object, a missing, empty or
// non-string token, other fields) is INVALID_TOKEN.
func DecodeTokenRefresh(raw json.RawMessage) (string, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return "", invalidToken(err)
	}
	token, _, ok := obj.stringField(fieldToken)
	if !ok || token == "" {
		return "", invalidToken(errors.New("token: must be a non-empty string"))
	}
	if extra := obj.unknown(fieldToken); len(extra) > 0 {
		return "", invalidToken(errors.New(strings.Join(unknownFieldDetails(extra), "; ")))
	}
	return token, nil
}

// DecodeStateSync decodes the data of state_sync, {"state": any JSON}, and
// returns the raw state (which may be null). A missing state, other fields or
// data that is not an object are VALIDATION_FAILED.
func DecodeStateSync(raw json.RawMessage) (json.RawMessage, error) {
	obj, err := decodeObject(raw)
	if err != nil {
		return nil, validationFailed(dataDetail(err))
	}
	var details []string
	for _, f := range obj.unknown(fieldState) {
		details = append(details, unknownFieldDetail(f))
	}
	state, present := obj[fieldState]
	if !present {
		details = append(details, fieldState+": is required")
	}
	if len(details) > 0 {
		return nil, validationFailed(details...)
	}
	return state, nil
}

func validationFailed(details ...string) *messages.Error {
	return messages.NewError(messages.CodeValidationFailed, details...)
}

// unknownFieldDetail names a refused field.
func unknownFieldDetail(name string) string {
	return "unknown field " + quoteField(name)
}

// quoteField quotes a client-chosen field name for a detail: Go syntax, so
// control characters are escaped, and cut to keep details short.
func quoteField(name string) string {
	const maxShown = 64
	if len(name) > maxShown {
		cut := maxShown
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		return fmt.Sprintf("%q…", name[:cut])
	}
	return fmt.Sprintf("%q", name)
}

func unknownFieldDetails(names []string) []string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = unknownFieldDetail(n)
	}
	return out
}

// dataDetail describes a payload that is not a single JSON object.
func dataDetail(err error) string {
	if errors.Is(err, errDuplicate) {
		return "data: " + err.Error()
	}
	return "data: must be a JSON object"
}
