package socketio

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a small allocation-free JSON scanner. It accepts exactly
// what json.Valid accepts (RFC 8259, whitespace around tokens) with nesting
// capped at MaxJSONDepth, and lets Decode split arrays into sub-slices without
// unmarshalling. It is iterative with a 64-bit container stack, so hostile
// nesting can neither recurse nor allocate.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// wholeValue validates that b is exactly one JSON value plus optional trailing
// whitespace and returns the value without the whitespace.
func wholeValue(b []byte) (json.RawMessage, error) {
	end, err := scanValue(b, 0, 0)
	if err != nil {
		return nil, err
	}
	if skipSpace(b, end) != len(b) {
		return nil, malformed("trailing data after JSON payload")
	}
	return b[:end:end], nil
}

// scanValue validates the JSON value starting exactly at b[i] (no leading
// whitespace) and returns the index just past it. depth is the number of
// containers already open around the value.
func scanValue(b []byte, i, depth int) (int, error) {
	var objects uint64 // bit k set: the k-th open container is an object
	n := 0             // containers opened by this call
	for {
		// Expect a value at b[i].
		if i >= len(b) {
			return 0, malformed("truncated JSON")
		}
		switch c := b[i]; {
		case c == '{' || c == '[':
			if depth+n >= MaxJSONDepth {
				return 0, malformed("JSON nested too deeply")
			}
			if c == '{' {
				objects |= 1 << uint(n)
			} else {
				objects &^= 1 << uint(n)
			}
			n++
			i = skipSpace(b, i+1)
			if i < len(b) && (b[i] == '}' && c == '{' || b[i] == ']' && c == '[') {
				n--
				i++
				break // empty container is a complete value
			}
			if c == '{' {
				var err error
				if i, err = scanKey(b, i); err != nil {
					return 0, err
				}
			}
			continue // expect the first element / member value
		case c == '"':
			var err error
			if i, err = scanString(b, i); err != nil {
				return 0, err
			}
		case c == '-' || isDigit(c):
			var err error
			if i, err = scanNumber(b, i); err != nil {
				return 0, err
			}
		case c == 't':
			if !hasLiteral(b, i, "true") {
				return 0, malformed("invalid JSON literal")
			}
			i += 4
		case c == 'f':
			if !hasLiteral(b, i, "false") {
				return 0, malformed("invalid JSON literal")
			}
			i += 5
		case c == 'n':
			if !hasLiteral(b, i, "null") {
				return 0, malformed("invalid JSON literal")
			}
			i += 4
		default:
			return 0, malformed("invalid JSON value")
		}

		// A value just ended: close containers or move to the next element.
		for {
			if n == 0 {
				return i, nil
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return 0, malformed("truncated JSON")
			}
			isObj := objects&(1<<uint(n-1)) != 0
			if b[i] == ',' {
				i = skipSpace(b, i+1)
				if isObj {
					var err error
					if i, err = scanKey(b, i); err != nil {
						return 0, err
					}
				}
				break
			}
			if isObj && b[i] == '}' || !isObj && b[i] == ']' {
				n--
				i++
				continue
			}
			return 0, malformed("expected ',' or end of JSON container")
		}
	}
}

// scanKey validates `"key" :` starting at b[i] and returns the index of the
// member value (whitespace skipped).
func scanKey(b []byte, i int) (int, error) {
	if i >= len(b) || b[i] != '"' {
		return 0, malformed("expected JSON object key")
	}
	i, err := scanString(b, i)
	if err != nil {
		return 0, err
	}
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return 0, malformed("expected ':' after JSON object key")
	}
	return skipSpace(b, i+1), nil
}

// scanString validates the JSON string starting at the quote b[i] and returns
// the index just past the closing quote. UTF-8 validity is checked by the
// caller on the whole frame. Event payloads are mostly string bytes, so runs
// of ordinary bytes are skipped eight at a time.
func scanString(b []byte, i int) (int, error) {
	i++
	for {
		for i+8 <= len(b) && !hasSpecial(binary.LittleEndian.Uint64(b[i:])) {
			i += 8
		}
		for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
			i++
		}
		if i >= len(b) {
			return 0, malformed("truncated JSON string")
		}
		switch b[i] {
		case '"':
			return i + 1, nil
		case '\\':
			i++
			if i >= len(b) {
				return 0, malformed("truncated JSON string")
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				if i+4 >= len(b) || !isHex(b[i+1]) || !isHex(b[i+2]) || !isHex(b[i+3]) || !isHex(b[i+4]) {
					return 0, malformed("invalid \\u escape in JSON string")
				}
				i += 5
			default:
				return 0, malformed("invalid escape in JSON string")
			}
		default:
			return 0, malformed("control character in JSON string")
		}
	}
}

// hasSpecial reports whether any of the 8 bytes in x is '"', '\\' or < 0x20,
// using the classic exact "has zero byte" / "has byte less than" bit tricks.
func hasSpecial(x uint64) bool {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	q := x ^ (lo * '"')
	bs := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x|(q-lo)&^q|(bs-lo)&^bs)&hi != 0
}

// scanNumber validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at b[i].
func scanNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return 0, malformed("invalid JSON number")
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return 0, malformed("invalid JSON number")
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return 0, malformed("invalid JSON number")
		}
		i = j
	}
	return i, nil
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && isDigit(b[i]) {
		i++
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

func isHex(c byte) bool {
	return isDigit(c) || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// arrayIter walks the elements of a top-level JSON array (depth 1), yielding
// each element as a sub-slice of b without surrounding whitespace.
type arrayIter struct {
	b       []byte
	i       int // index just past '[' initially, then just past the last element
	started bool
	done    bool
}

// next returns the next element; ok is false once the closing ']' is consumed.
func (it *arrayIter) next() (elem json.RawMessage, ok bool, err error) {
	if it.done {
		return nil, false, nil
	}
	i := skipSpace(it.b, it.i)
	if i >= len(it.b) {
		return nil, false, malformed("truncated JSON array")
	}
	if it.started {
		switch it.b[i] {
		case ']':
			it.done, it.i = true, i+1
			return nil, false, nil
		case ',':
			i = skipSpace(it.b, i+1)
		default:
			return nil, false, malformed("expected ',' or ']' in JSON array")
		}
	} else if it.b[i] == ']' {
		it.done, it.i = true, i+1
		return nil, false, nil
	}
	it.started = true
	end, err := scanValue(it.b, i, 1)
	if err != nil {
		return nil, false, err
	}
	it.i = end
	// Cap the slice so an append by the caller cannot scribble on the frame.
	return it.b[i:end:end], true, nil
}

// rest appends the remaining elements to dst and checks that nothing but
// whitespace follows the closing bracket.
func (it *arrayIter) rest(dst []json.RawMessage) ([]json.RawMessage, error) {
	for {
		e, ok, err := it.next()
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		if dst == nil {
			// Most frames carry 1–4 args: one allocation covers them.
			dst = make([]json.RawMessage, 0, 4)
		}
		dst = append(dst, e)
	}
	if skipSpace(it.b, it.i) != len(it.b) {
		return nil, malformed("trailing data after JSON payload")
	}
	return dst, nil
}

// unquote decodes a JSON string token already validated by scanString, with
// the same results as json.Unmarshal into a string (lone surrogates become
// U+FFFD).
func unquote(q []byte) string {
	s := q[1 : len(q)-1]
	esc := bytes.IndexByte(s, '\\')
	if esc < 0 {
		return string(s)
	}
	out := make([]byte, esc, len(s))
	copy(out, s[:esc])
	for i := esc; i < len(s); {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			i++
			continue
		}
		e := s[i+1]
		i += 2
		switch e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r := hex4(s[i:])
			i += 4
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if dec := utf16.DecodeRune(r, hex4(s[i+2:])); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			out = utf8.AppendRune(out, r)
		default: // '"', '\\', '/'
			out = append(out, e)
		}
	}
	return string(out)
}

// hex4 decodes four validated hex digits.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case c <= '9':
			c -= '0'
		case c <= 'F':
			c -= 'A' - 10
		default:
			c -= 'a' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
