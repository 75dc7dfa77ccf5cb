package security

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// nestedBadToken is an attacker's token of about size bytes: an HS256
// header, claims that are one deeply nested array, and a wrong signature.
func nestedBadToken(size int) string {
	b64 := base64.RawURLEncoding
	header := b64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	depth := (size*3/4 - 16) / 2
	claims := b64.EncodeToString([]byte(`{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`))
	return header + "." + claims + "." + b64.EncodeToString(make([]byte, 32))
}

func benchVerify(b *testing.B, token string) {
	v, _, err := NewVerifier(context.Background(), VerifierConfig{Secret: testSecret})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.SetBytes(int64(len(token)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = v.Verify(ctx, token)
	}
}

func BenchmarkVerify_NestedBadToken24KB(b *testing.B) { benchVerify(b, nestedBadToken(24<<10)) }
func BenchmarkVerify_NestedBadToken7KB(b *testing.B)  { benchVerify(b, nestedBadToken(7<<10)) }
func BenchmarkVerify_ValidSmallToken(b *testing.B) {
	tok, err := MintHS256(testSecret, Claims{Subject: "u", WorkspaceID: "w", ExpiresAt: time.Now().Add(time.Hour)})
	if err != nil {
		b.Fatal(err)
	}
	benchVerify(b, tok)
}
