package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
)

var (
	errNotObject = errors.New("must be a JSON object")
	errDuplicate = errors.New("duplicate field")
)

// jsonObject is one client payload split into its top-level fields.
type jsonObject map[string]json.RawMessage

// decodeObject splits raw, which must be exactly one JSON object, into its
// fields. A duplicate field is refused rather than silently resolved, so no
// two readers of the same bytes can disagree about what was sent.
func decodeObject(raw json.RawMessage) (jsonObject, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	tok, err := dec.Token()
	if err != nil {
		return nil, errNotObject
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errNotObject
	}
	obj := jsonObject{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, errNotObject
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("invalid JSON: %w", err)
		}
		if _, dup := obj[key]; dup {
			return nil, fmt.Errorf("%w %s", errDuplicate, quoteField(key))
		}
		obj[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("invalid JSON: data after the object")
	}
	return obj, nil
}

// unknown returns the fields not in allowed, sorted.
func (o jsonObject) unknown(allowed ...string) []string {
	var extra []string
	for k := range o {
		if !slices.Contains(allowed, k) {
			extra = append(extra, k)
		}
	}
	slices.Sort(extra)
	return extra
}

// stringField returns field name as a string; ok is false when the field is
// absent or not a JSON string. present tells the two apart.
func (o jsonObject) stringField(name string) (s string, present, ok bool) {
	v, present := o[name]
	if !present {
		return "", false, false
	}
	if len(v) == 0 || v[0] != '"' {
		return "", true, false
	}
	if err := json.Unmarshal(v, &s); err != nil {
		return "", true, false
	}
	return s, true, true
}

// isNull reports whether a raw value is JSON null.
func isNull(v json.RawMessage) bool { return string(v) == "null" }
