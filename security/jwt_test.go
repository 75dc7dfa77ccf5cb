package security

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hyvve/gateway/messages"
)

func TestVerify(t *testing.T) {
	keys(t)
	rsaPEM := pemPKIX(t, &rsaKey.PublicKey)
	verifiers := map[string]Verifier{
		"hs":      newTestVerifier(t, VerifierConfig{Secret: testSecret}),
		"rs":      newTestVerifier(t, VerifierConfig{PublicKeyPEM: rsaPEM}),
		"es":      newTestVerifier(t, VerifierConfig{PublicKeyPEM: pemPKIX(t, &ecKey.PublicKey)}),
		"issaud":  newTestVerifier(t, VerifierConfig{Secret: testSecret, Issuer: "https://issuer", Audience: "gateway"}),
		"leeway":  newTestVerifier(t, VerifierConfig{Secret: testSecret, Leeway: time.Minute}),
		"hsOther": newTestVerifier(t, VerifierConfig{Secret: []byte("another secret entirely")}),
	}
	hs := func(c jwt.MapClaims) func(t testing.TB) string {
		return func(t testing.TB) string { return sign(t, jwt.SigningMethodHS256, testSecret, c, nil) }
	}
	none := func(t testing.TB) string {
		return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), nil)
	}
	now := time.Now()

	tests := []struct {
		name     string
		verifier string
		token    func(t testing.TB) string
		want     messages.Code // "" for success
		expired  bool
		check    func(t *testing.T, c *Claims)
	}{
		{name: "hs256 valid with role and workspaces", verifier: "hs",
			token: hs(claims(map[string]any{"role": "admin", "workspaces": []string{"ws-2", "ws-3"}})),
			check: func(t *testing.T, c *Claims) {
				if c.Subject != "user-1" || c.WorkspaceID != "ws-1" || c.Role != "admin" ||
					!slices.Equal(c.Workspaces, []string{"ws-2", "ws-3"}) || c.ExpiresAt.IsZero() {
					t.Fatalf("claims = %+v", c)
				}
			}},
		{name: "hs256 role defaults to member", verifier: "hs", token: hs(claims(nil)),
			check: func(t *testing.T, c *Claims) {
				if c.Role != DefaultRole || c.Workspaces != nil {
					t.Fatalf("claims = %+v", c)
				}
			}},
		{name: "null role and workspaces are absent", verifier: "hs",
			token: hs(claims(map[string]any{"role": nil, "workspaces": nil})),
			check: func(t *testing.T, c *Claims) {
				if c.Role != DefaultRole || c.Workspaces != nil {
					t.Fatalf("claims = %+v", c)
				}
			}},
		{name: "empty token", verifier: "hs", token: func(testing.TB) string { return "" }, want: messages.CodeAuthRequired},
		{name: "garbage", verifier: "hs", token: func(testing.TB) string { return "not.a.token" }, want: messages.CodeInvalidToken},
		{name: "too long", verifier: "hs", token: func(testing.TB) string { return strings.Repeat("a", DefaultMaxTokenBytes+1) }, want: messages.CodeInvalidToken},
		{name: "hs256 wrong secret", verifier: "hsOther", token: hs(claims(nil)), want: messages.CodeInvalidToken},
		{name: "alg none on hs", verifier: "hs", token: none, want: messages.CodeInvalidToken},
		{name: "alg none on rs", verifier: "rs", token: none, want: messages.CodeInvalidToken},
		{name: "alg none on es", verifier: "es", token: none, want: messages.CodeInvalidToken},
		{name: "HS/RS confusion: HS256 signed with the RSA public key PEM", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodHS256, rsaPEM, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "HS384 refused", verifier: "hs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodHS384, testSecret, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "rs256 valid", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), nil) }},
		{name: "rs256 other key", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodRS256, rsaKey2, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "RS512 with the right key refused", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodRS512, rsaKey, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "PS256 with the right key refused", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodPS256, rsaKey, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "rs256 token on hs verifier", verifier: "hs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "es256 valid", verifier: "es",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodES256, ecKey, claims(nil), nil) }},
		{name: "es256 token on rs verifier", verifier: "rs",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodES256, ecKey, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "es256 other key", verifier: "es",
			token: func(t testing.TB) string { return sign(t, jwt.SigningMethodES256, ecKey2, claims(nil), nil) },
			want:  messages.CodeInvalidToken},
		{name: "missing exp", verifier: "hs", token: hs(claims(map[string]any{"exp": deleteClaim})), want: messages.CodeInvalidToken},
		{name: "exp not a number", verifier: "hs", token: hs(claims(map[string]any{"exp": "tomorrow"})), want: messages.CodeInvalidToken},
		{name: "expired", verifier: "hs", token: hs(claims(map[string]any{"exp": now.Add(-time.Minute).Unix()})),
			want: messages.CodeInvalidToken, expired: true},
		{name: "expired within leeway", verifier: "leeway", token: hs(claims(map[string]any{"exp": now.Add(-10 * time.Second).Unix()}))},
		{name: "nbf in the future", verifier: "hs", token: hs(claims(map[string]any{"nbf": now.Add(time.Hour).Unix()})), want: messages.CodeInvalidToken},
		{name: "nbf in the past", verifier: "hs", token: hs(claims(map[string]any{"nbf": now.Add(-time.Hour).Unix()}))},
		{name: "missing sub", verifier: "hs", token: hs(claims(map[string]any{"sub": deleteClaim})), want: messages.CodeInvalidToken},
		{name: "empty sub", verifier: "hs", token: hs(claims(map[string]any{"sub": ""})), want: messages.CodeInvalidToken},
		{name: "numeric sub", verifier: "hs", token: hs(claims(map[string]any{"sub": 42})), want: messages.CodeInvalidToken},
		{name: "missing workspaceId", verifier: "hs", token: hs(claims(map[string]any{"workspaceId": deleteClaim})), want: messages.CodeInvalidToken},
		{name: "empty workspaceId", verifier: "hs", token: hs(claims(map[string]any{"workspaceId": ""})), want: messages.CodeInvalidToken},
		{name: "workspaceId array", verifier: "hs", token: hs(claims(map[string]any{"workspaceId": []string{"ws-1"}})), want: messages.CodeInvalidToken},
		{name: "role number", verifier: "hs", token: hs(claims(map[string]any{"role": 1})), want: messages.CodeInvalidToken},
		{name: "role array", verifier: "hs", token: hs(claims(map[string]any{"role": []string{"admin"}})), want: messages.CodeInvalidToken},
		{name: "workspaces string", verifier: "hs", token: hs(claims(map[string]any{"workspaces": "ws-2"})), want: messages.CodeInvalidToken},
		{name: "workspaces numbers", verifier: "hs", token: hs(claims(map[string]any{"workspaces": []int{1, 2}})), want: messages.CodeInvalidToken},
		{name: "workspaces mixed", verifier: "hs", token: hs(claims(map[string]any{"workspaces": []any{"ws-2", true}})), want: messages.CodeInvalidToken},
		{name: "workspaces object", verifier: "hs", token: hs(claims(map[string]any{"workspaces": map[string]any{"a": "b"}})), want: messages.CodeInvalidToken},
		{name: "issuer and audience match", verifier: "issaud",
			token: hs(claims(map[string]any{"iss": "https://issuer", "aud": []string{"other", "gateway"}}))},
		{name: "wrong issuer", verifier: "issaud",
			token: hs(claims(map[string]any{"iss": "https://evil", "aud": "gateway"})), want: messages.CodeInvalidToken},
		{name: "missing issuer", verifier: "issaud", token: hs(claims(map[string]any{"aud": "gateway"})), want: messages.CodeInvalidToken},
		{name: "wrong audience", verifier: "issaud",
			token: hs(claims(map[string]any{"iss": "https://issuer", "aud": "other"})), want: messages.CodeInvalidToken},
		{name: "missing audience", verifier: "issaud", token: hs(claims(map[string]any{"iss": "https://issuer"})), want: messages.CodeInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := verifiers[tt.verifier].Verify(context.Background(), tt.token(t))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if tt.check != nil {
					tt.check(t, c)
				}
				return
			}
			if err == nil {
				t.Fatalf("Verify succeeded with %+v, want %s", c, tt.want)
			}
			if got := code(err); got != tt.want {
				t.Fatalf("code = %q (%v), want %q", got, err, tt.want)
			}
			if tt.want == messages.CodeInvalidToken && errors.Unwrap(err) == nil {
				t.Errorf("INVALID_TOKEN without a cause: %v", err)
			}
			if IsExpired(err) != tt.expired {
				t.Errorf("IsExpired = %v, want %v (%v)", !tt.expired, tt.expired, err)
			}
		})
	}
}

// TestVerifyBoundsTheWorkOfABadToken: a token over MaxTokenBytes is refused
// whatever it holds, and a forged token is refused on its signature before
// its claims are decoded (broken claims JSON under a bad signature reads as
// a bad signature, not a malformed token).
func TestVerifyBoundsTheWorkOfABadToken(t *testing.T) {
	valid := sign(t, jwt.SigningMethodHS256, testSecret, claims(map[string]any{"pad": strings.Repeat("p", 600)}), nil)
	small := newTestVerifier(t, VerifierConfig{Secret: testSecret, MaxTokenBytes: len(valid) - 1})
	if _, err := small.Verify(context.Background(), valid); code(err) != messages.CodeInvalidToken || !errors.Is(err, errTokenTooLong) {
		t.Fatalf("a valid token over MaxTokenBytes: %v, want INVALID_TOKEN for its length", err)
	}
	fits := newTestVerifier(t, VerifierConfig{Secret: testSecret, MaxTokenBytes: len(valid)})
	if _, err := fits.Verify(context.Background(), valid); err != nil {
		t.Fatalf("a valid token of exactly MaxTokenBytes: %v", err)
	}

	hs := newTestVerifier(t, VerifierConfig{Secret: testSecret})
	forged := nestedBadToken(4 << 10)
	head, _, _ := strings.Cut(forged, ".")
	brokenClaims := head + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":`)) + ".c2ln"
	for name, tok := range map[string]string{"nested claims": forged, "broken claims JSON": brokenClaims} {
		_, err := hs.Verify(context.Background(), tok)
		if code(err) != messages.CodeInvalidToken || !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
			t.Errorf("%s under a bad signature: %v, want a signature error", name, err)
		}
	}
}

func TestNewVerifierConfig(t *testing.T) {
	keys(t)
	selfSigned := func(t *testing.T) []byte {
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "issuer"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey.PublicKey, rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	privPEM := func(t *testing.T) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(rsaKey)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	tests := []struct {
		name    string
		cfg     func(t *testing.T) VerifierConfig
		wantErr string // substring; "" for success
	}{
		{"no source", func(*testing.T) VerifierConfig { return VerifierConfig{} }, "no JWT key"},
		{"secret and PEM", func(t *testing.T) VerifierConfig {
			return VerifierConfig{Secret: testSecret, PublicKeyPEM: pemPKIX(t, &rsaKey.PublicKey)}
		}, "more than one"},
		{"secret and JWKS", func(*testing.T) VerifierConfig {
			return VerifierConfig{Secret: testSecret, JWKSURL: "http://127.0.0.1:1/jwks"}
		}, "more than one"},
		{"not PEM", func(*testing.T) VerifierConfig { return VerifierConfig{PublicKeyPEM: []byte("hello")} }, "no PEM block"},
		{"private key PEM", func(t *testing.T) VerifierConfig { return VerifierConfig{PublicKeyPEM: privPEM(t)} }, "never the private"},
		{"RSA 1024", func(t *testing.T) VerifierConfig {
			return VerifierConfig{PublicKeyPEM: pemPKIX(t, &rsaKey1024.PublicKey)}
		}, "too small"},
		{"P-384", func(t *testing.T) VerifierConfig {
			return VerifierConfig{PublicKeyPEM: pemPKIX(t, &ecKeyP384.PublicKey)}
		}, "P-256"},
		{"PKCS1 RSA public key", func(*testing.T) VerifierConfig {
			return VerifierConfig{PublicKeyPEM: pem.EncodeToMemory(&pem.Block{
				Type: "RSA PUBLIC KEY", Bytes: x509.MarshalPKCS1PublicKey(&rsaKey.PublicKey)})}
		}, ""},
		{"certificate", func(t *testing.T) VerifierConfig { return VerifierConfig{PublicKeyPEM: selfSigned(t)} }, ""},
		{"JWKS not a URL", func(*testing.T) VerifierConfig { return VerifierConfig{JWKSURL: "ftp://x/keys"} }, "not an http(s) URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, closer, err := NewVerifier(context.Background(), tt.cfg(t))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("NewVerifier: %v", err)
				}
				defer closer.Close()
				tok := sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), nil)
				if _, err := v.Verify(context.Background(), tok); err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestMintHS256(t *testing.T) {
	exp := time.Now().Add(time.Hour).Truncate(time.Second)
	in := Claims{Subject: "u", WorkspaceID: "w", Role: "viewer", Workspaces: []string{"w2"}, ExpiresAt: exp}
	tok, err := MintHS256(testSecret, in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := newTestVerifier(t, VerifierConfig{Secret: testSecret}).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Subject != in.Subject || got.WorkspaceID != in.WorkspaceID || got.Role != in.Role ||
		!slices.Equal(got.Workspaces, in.Workspaces) || !got.ExpiresAt.Equal(exp) {
		t.Fatalf("round trip: got %+v, want %+v", got, in)
	}

	strict := newTestVerifier(t, VerifierConfig{Secret: testSecret, Issuer: "iss", Audience: "aud"})
	if _, err := strict.Verify(context.Background(), tok); err == nil {
		t.Fatal("token without iss/aud accepted by a verifier that requires them")
	}
	tok, err = MintHS256WithOptions(testSecret, in, MintOptions{Issuer: "iss", Audience: "aud"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := strict.Verify(context.Background(), tok); err != nil {
		t.Fatalf("MintHS256WithOptions token refused: %v", err)
	}

	for name, c := range map[string]Claims{
		"no subject":   {WorkspaceID: "w", ExpiresAt: exp},
		"no workspace": {Subject: "u", ExpiresAt: exp},
		"no expiry":    {Subject: "u", WorkspaceID: "w"},
	} {
		if _, err := MintHS256(testSecret, c); err == nil {
			t.Errorf("%s: minted", name)
		}
	}
	if _, err := MintHS256(nil, in); err == nil {
		t.Error("minted without a secret")
	}
}

func TestClaimsBelongsTo(t *testing.T) {
	c := &Claims{Subject: "u", WorkspaceID: "w1", Workspaces: []string{"w2", ""}}
	for id, want := range map[string]bool{"w1": true, "w2": true, "w3": false, "": false} {
		if got := c.BelongsTo(id); got != want {
			t.Errorf("BelongsTo(%q) = %v, want %v", id, got, want)
		}
	}
	var nilClaims *Claims
	if nilClaims.BelongsTo("w1") {
		t.Error("nil claims belong to a workspace")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newTestVerifier(t, VerifierConfig{Secret: testSecret})
	good := sign(t, jwt.SigningMethodHS256, testSecret, claims(nil), nil)
	bad := sign(t, jwt.SigningMethodHS256, []byte("wrong"), claims(nil), nil)
	done := make(chan error)
	for i := range 32 {
		go func() {
			tok, wantOK := good, true
			if i%2 == 1 {
				tok, wantOK = bad, false
			}
			_, err := v.Verify(context.Background(), tok)
			if (err == nil) != wantOK {
				done <- errors.New("wrong result under concurrency")
				return
			}
			done <- nil
		}()
	}
	for range 32 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}
