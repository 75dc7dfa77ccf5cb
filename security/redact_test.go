package security

import (
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

func TestRedact(t *testing.T) {
	keys(t)
	hs := sign(t, jwt.SigningMethodHS256, testSecret, claims(nil), nil)
	rs := sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), nil)
	none := sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), nil)
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain text", "plain text"},
		{hs, Redacted},
		{rs, Redacted},
		{none, Redacted}, // ends in a dot: empty signature
		{"Bearer " + hs, "Bearer " + Redacted},
		{"a " + hs + " and " + rs + ".", "a " + Redacted + " and " + Redacted + "."},
		{`{"token":"` + hs + `"}`, `{"token":"` + Redacted + `"}`},
		{"token=" + hs + "&x=1", "token=" + Redacted + "&x=1"},
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.", Redacted},                        // truncated token
		{"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln.ZW5j.dGFn", Redacted},          // five segments (JWE)
		{"abcdefghijklmnopqrstu.abcdefghijklmnopqrstu.abcdefghijklmnop", Redacted}, // opaque, non-JSON header
		{"origin https://app.example.com rejected", "origin https://app.example.com rejected"},
		{"workspace:ws-1:dashboard", "workspace:ws-1:dashboard"},
		{"10.0.0.1", "10.0.0.1"},
		{"v1.2.3", "v1.2.3"},
		{"admin.reports.export", "admin.reports.export"},
	}
	for _, tt := range tests {
		if got := Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
