package security

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Signing algorithms the gateway accepts. Nothing else is ever on an
// allow-list: not "none", not HS384/512, not PS*, not EdDSA.
const (
	algHS256 = "HS256"
	algRS256 = "RS256"
	algES256 = "ES256"
)

// MinRSAKeyBits is the smallest RSA public key NewVerifier accepts.
const MinRSAKeyBits = 2048

// parsePublicKeyPEM reads one public key (PKIX "PUBLIC KEY", PKCS#1
// "RSA PUBLIC KEY" or an X.509 "CERTIFICATE") and returns it with the single
// algorithm it may verify: RS256 for RSA, ES256 for ECDSA P-256.
func parsePublicKeyPEM(data []byte) (any, string, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, "", errors.New("no PEM block found")
	}
	var (
		pub any
		err error
	)
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		if strings.Contains(block.Type, "PRIVATE") {
			return nil, "", fmt.Errorf("PEM block is a %q: give the public key, never the private one", block.Type)
		}
		return nil, "", fmt.Errorf("unsupported PEM block type %q", block.Type)
	}
	if err != nil {
		return nil, "", fmt.Errorf("parse %q: %w", block.Type, err)
	}
	return publicKeyAlg(pub)
}

// publicKeyAlg maps a public key to the one algorithm it may verify.
func publicKeyAlg(pub any) (any, string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < MinRSAKeyBits {
			return nil, "", fmt.Errorf("RSA key of %d bits is too small (minimum %d)", k.N.BitLen(), MinRSAKeyBits)
		}
		return k, algRS256, nil
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() {
			return nil, "", fmt.Errorf("ECDSA key on curve %s is not supported (ES256 needs P-256)", k.Curve.Params().Name)
		}
		return k, algES256, nil
	default:
		return nil, "", fmt.Errorf("unsupported public key type %T (want RSA or ECDSA P-256)", pub)
	}
}

// keyMatchesAlg reports whether key may verify a token signed with alg.
func keyMatchesAlg(key any, alg string) bool {
	switch alg {
	case algRS256:
		k, ok := key.(*rsa.PublicKey)
		return ok && k.N.BitLen() >= MinRSAKeyBits
	case algES256:
		k, ok := key.(*ecdsa.PublicKey)
		return ok && k.Curve == elliptic.P256()
	default:
		return false
	}
}
