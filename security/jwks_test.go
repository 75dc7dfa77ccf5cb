package security

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hyvve/gateway/messages"
)

// jwksServer is a JWKS endpoint whose key set and status the test changes,
// counting the requests it serves.
type jwksServer struct {
	*httptest.Server
	requests atomic.Int64
	mu       sync.Mutex
	keys     []map[string]any
	status   int
}

func newJWKSServer(t *testing.T, keys ...map[string]any) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys, status: http.StatusOK}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		s.mu.Lock()
		status, body := s.status, map[string]any{"keys": s.keys}
		s.mu.Unlock()
		if status != http.StatusOK {
			http.Error(w, "down", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) set(status int, keys ...map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.keys = status, keys
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(t testing.TB, kid string, pub *ecdsa.PublicKey) map[string]any {
	t.Helper()
	e, err := pub.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	raw := e.Bytes() // 0x04 || X || Y
	n := (len(raw) - 1) / 2
	crv := map[int]string{32: "P-256", 48: "P-384"}[n]
	return map[string]any{"kty": "EC", "kid": kid, "crv": crv, "x": b64(raw[1 : 1+n]), "y": b64(raw[1+n:])}
}

func octJWK(kid string, secret []byte) map[string]any {
	return map[string]any{"kty": "oct", "kid": kid, "k": b64(secret)}
}

// newJWKSVerifier returns the verifier and its key set, with a fake clock
// for the unknown-kid rate limit.
func newJWKSVerifier(t *testing.T, srv *jwksServer, cfg VerifierConfig) (Verifier, *jwksKeys, *fakeClock) {
	t.Helper()
	cfg.JWKSURL = srv.URL + "/jwks.json"
	cfg.HTTPClient = srv.Client()
	v, closer, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	ks := closer.(*jwksKeys)
	clock := &fakeClock{t: time.Unix(1_700_000_000, 0)}
	ks.now = clock.Now // set before any Verify, so no goroutine reads it yet
	return v, ks, clock
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func kidHeader(kid string) map[string]any { return map[string]any{"kid": kid} }

func randomKID(t testing.TB) string {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func TestJWKSVerify(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t,
		rsaJWK("r1", &rsaKey.PublicKey),
		ecJWK(t, "e1", &ecKey.PublicKey),
		ecJWK(t, "p384", &ecKeyP384.PublicKey),
		octJWK("o1", testSecret),
	)
	v, _, _ := newJWKSVerifier(t, srv, VerifierConfig{JWKSRefreshMinInterval: time.Hour})

	tests := []struct {
		name  string
		token func(t testing.TB) string
		ok    bool
	}{
		{"RS256 kid r1", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r1"))
		}, true},
		{"ES256 kid e1", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodES256, ecKey, claims(nil), kidHeader("e1"))
		}, true},
		{"RS256 without kid tries the RSA keys", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), nil)
		}, true},
		{"ES256 without kid tries the P-256 keys", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodES256, ecKey, claims(nil), nil)
		}, true},
		{"HS256 with the oct key of the set", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodHS256, testSecret, claims(nil), kidHeader("o1"))
		}, false},
		{"HS256 signed with the RSA key's modulus, kid r1", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodHS256, rsaKey.N.Bytes(), claims(nil), kidHeader("r1"))
		}, false},
		{"alg none kid r1", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claims(nil), kidHeader("r1"))
		}, false},
		{"RS256 naming the EC key", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("e1"))
		}, false},
		{"ES256 naming the RSA key", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodES256, ecKey, claims(nil), kidHeader("r1"))
		}, false},
		{"ES384 with the P-384 key of the set", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodES384, ecKeyP384, claims(nil), kidHeader("p384"))
		}, false},
		{"RS256 by another key under kid r1", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey2, claims(nil), kidHeader("r1"))
		}, false},
		{"numeric kid", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), map[string]any{"kid": 7})
		}, false},
		{"expired RS256", func(t testing.TB) string {
			return sign(t, jwt.SigningMethodRS256, rsaKey, claims(map[string]any{"exp": time.Now().Add(-time.Hour).Unix()}), kidHeader("r1"))
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(context.Background(), tt.token(t))
			if tt.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tt.ok && code(err) != messages.CodeInvalidToken {
				t.Fatalf("err = %v, want INVALID_TOKEN", err)
			}
		})
	}
	// Every kid above but p384 and o1 is in the set, and those two are only
	// named by algorithms refused before any key lookup: no refresh happened.
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("JWKS requests = %d, want 1 (the start-up fetch)", n)
	}
}

func TestJWKSRotationAndUnknownKIDFlood(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("r1", &rsaKey.PublicKey))
	v, _, clock := newJWKSVerifier(t, srv, VerifierConfig{JWKSRefreshMinInterval: time.Minute})
	ctx := context.Background()

	// The issuer rotates: r2 appears. The first token naming it triggers one
	// refresh and is verified.
	srv.set(http.StatusOK, rsaJWK("r1", &rsaKey.PublicKey), rsaJWK("r2", &rsaKey2.PublicKey))
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey2, claims(nil), kidHeader("r2"))); err != nil {
		t.Fatalf("token with the rotated-in kid: %v", err)
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests after rotation = %d, want 2", n)
	}

	// A flood of tokens with random kids, concurrently: within the interval
	// no further fetch happens.
	flood := func() {
		var wg sync.WaitGroup
		for range 200 {
			tok := sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader(randomKID(t)))
			wg.Go(func() {
				if _, err := v.Verify(ctx, tok); code(err) != messages.CodeInvalidToken {
					t.Errorf("random kid: err = %v, want INVALID_TOKEN", err)
				}
			})
		}
		wg.Wait()
	}
	flood()
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests after a flood inside the interval = %d, want 2", n)
	}

	// After the interval, a new flood costs exactly one more fetch, shared by
	// every concurrent caller.
	clock.Advance(time.Minute)
	flood()
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("JWKS requests after a flood past the interval = %d, want 3", n)
	}
	// Known kids never wait for, or cause, a fetch.
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r1"))); err != nil {
		t.Fatal(err)
	}
	if n := srv.requests.Load(); n != 3 {
		t.Fatalf("JWKS requests = %d, want 3", n)
	}
}

func TestJWKSFirstUnknownKIDFloodFetchesOnce(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("r1", &rsaKey.PublicKey))
	v, _, _ := newJWKSVerifier(t, srv, VerifierConfig{})
	var wg sync.WaitGroup
	for range 100 {
		tok := sign(t, jwt.SigningMethodES256, ecKey, claims(nil), kidHeader(randomKID(t)))
		wg.Go(func() { _, _ = v.Verify(context.Background(), tok) })
	}
	wg.Wait()
	if n := srv.requests.Load(); n > 2 {
		t.Fatalf("JWKS requests = %d, want at most 2 (start-up + one refresh)", n)
	}
}

func TestJWKSRefreshFailureKeepsKeys(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("r1", &rsaKey.PublicKey))
	v, _, _ := newJWKSVerifier(t, srv, VerifierConfig{})
	srv.set(http.StatusInternalServerError)
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("nope"))); err == nil {
		t.Fatal("unknown kid verified")
	}
	if n := srv.requests.Load(); n != 2 {
		t.Fatalf("JWKS requests = %d, want 2", n)
	}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r1"))); err != nil {
		t.Fatalf("known key lost after a failed refresh: %v", err)
	}
}

func TestJWKSPeriodicRefreshRevokes(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("r1", &rsaKey.PublicKey), rsaJWK("r2", &rsaKey2.PublicKey))
	v, _, _ := newJWKSVerifier(t, srv, VerifierConfig{JWKSRefreshInterval: 10 * time.Millisecond, JWKSRefreshMinInterval: time.Hour})
	tok := sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r1"))
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	srv.set(http.StatusOK, rsaJWK("r2", &rsaKey2.PublicKey)) // r1 revoked
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revoked key still verifies after periodic refreshes")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestJWKSStartup(t *testing.T) {
	keys(t)
	unusable := []map[string]any{
		octJWK("o1", testSecret),
		ecJWK(t, "p384", &ecKeyP384.PublicKey),
		rsaJWK("small", &rsaKey1024.PublicKey),
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": b64(rsaKey.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "ps", "alg": "PS256", "n": b64(rsaKey.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
		{"kty": "OKP", "kid": "ed", "crv": "Ed25519", "x": b64(make([]byte, 32))},
	}
	tests := []struct {
		name   string
		status int
		keys   []map[string]any
		ok     bool
	}{
		{"endpoint down", http.StatusServiceUnavailable, nil, false},
		{"empty set", http.StatusOK, nil, false},
		{"only unusable keys", http.StatusOK, unusable, false},
		{"unusable keys are skipped", http.StatusOK, append(slices.Clone(unusable), rsaJWK("r1", &rsaKey.PublicKey)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newJWKSServer(t)
			srv.set(tt.status, tt.keys...)
			_, closer, err := NewVerifier(context.Background(), VerifierConfig{JWKSURL: srv.URL, HTTPClient: srv.Client()})
			if !tt.ok {
				if err == nil {
					closer.Close()
					t.Fatal("NewVerifier succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewVerifier: %v", err)
			}
			defer closer.Close()
			kids := closer.(*jwksKeys).set.Load().kids
			if _, ok := kids["r1"]; !ok || len(kids) != 1 {
				t.Fatalf("usable kids = %v, want only r1", kids)
			}
		})
	}
}

func TestJWKSClose(t *testing.T) {
	keys(t)
	srv := newJWKSServer(t, rsaJWK("r1", &rsaKey.PublicKey))
	v, closer, err := NewVerifier(context.Background(), VerifierConfig{JWKSURL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	if err := closer.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	ctx := context.Background()
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r1"))); err != nil {
		t.Fatalf("Verify after Close: %v", err)
	}
	if _, err := v.Verify(ctx, sign(t, jwt.SigningMethodRS256, rsaKey, claims(nil), kidHeader("r9"))); err == nil {
		t.Fatal("unknown kid verified")
	}
	if n := srv.requests.Load(); n != 1 {
		t.Fatalf("JWKS requests after Close = %d, want 1", n)
	}
}
