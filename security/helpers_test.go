package security

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hyvve/gateway/messages"
)

// Keys are generated once per test binary: RSA generation is slow under -race.
var (
	keysOnce        sync.Once
	rsaKey, rsaKey2 *rsa.PrivateKey
	rsaKey1024      *rsa.PrivateKey
	ecKey, ecKey2   *ecdsa.PrivateKey
	ecKeyP384       *ecdsa.PrivateKey
	testSecret      = []byte("0123456789abcdef0123456789abcdef")
)

func keys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		rsaKey = genRSA(2048)
		rsaKey2 = genRSA(2048)
		rsaKey1024 = genRSA(1024)
		ecKey = genEC(elliptic.P256())
		ecKey2 = genEC(elliptic.P256())
		ecKeyP384 = genEC(elliptic.P384())
	})
}

func genRSA(bits int) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		panic(err)
	}
	return k
}

func genEC(c elliptic.Curve) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

func pemPKIX(t testing.TB, pub any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// claims returns valid gateway claims expiring in an hour, with changes applied.
func claims(changes map[string]any) jwt.MapClaims {
	m := jwt.MapClaims{
		"sub":         "user-1",
		"workspaceId": "ws-1",
		"exp":         time.Now().Add(time.Hour).Unix(),
	}
	for k, v := range changes {
		if v == deleteClaim {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return m
}

// deleteClaim in a claims() change removes the claim.
var deleteClaim = &struct{}{}

func sign(t testing.TB, method jwt.SigningMethod, key any, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", method.Alg(), err)
	}
	return s
}

func newTestVerifier(t testing.TB, cfg VerifierConfig) Verifier {
	t.Helper()
	v, closer, err := NewVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	t.Cleanup(func() { _ = closer.Close() })
	return v
}

// code returns the wire code of err, or "" when err is not a *messages.Error.
func code(err error) messages.Code {
	var e *messages.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
