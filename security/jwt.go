package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/hyvve/gateway/messages"
)

// Defaults of VerifierConfig.
const (
	// DefaultJWKSRefreshMinInterval bounds refreshes triggered by unknown key ids.
	DefaultJWKSRefreshMinInterval = 30 * time.Second
	// DefaultJWKSRefreshInterval is how often the key set is refetched anyway,
	// so a key the issuer revoked stops verifying.
	DefaultJWKSRefreshInterval = time.Hour
	// DefaultJWKSHTTPTimeout is the timeout of the default JWKS HTTP client.
	DefaultJWKSHTTPTimeout = 10 * time.Second
)

// DefaultMaxTokenBytes is the longest token Verify parses unless
// VerifierConfig.MaxTokenBytes says otherwise; a longer one is INVALID_TOKEN
// without being decoded.
const DefaultMaxTokenBytes = 8 << 10

// Verifier checks a raw token. Errors are *messages.Error with
// CodeInvalidToken (the cause wrapped for logs); an empty token is
// CodeAuthRequired. Implementations are safe for concurrent use: Verify is
// called from many connecting goroutines at once.
type Verifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// VerifierConfig says where the verification key comes from and which
// registered claims are checked. Exactly one key source must be set.
type VerifierConfig struct {
	// Secret is the HS256 shared secret (JWT_SECRET).
	Secret []byte
	// PublicKeyPEM is an RSA or ECDSA P-256 public key (the contents of
	// JWT_PUBLIC_KEY_FILE) as PKIX, PKCS#1 or an X.509 certificate. Its type
	// decides the algorithm: RS256 for RSA (at least MinRSAKeyBits), ES256
	// for P-256.
	PublicKeyPEM []byte
	// JWKSURL is a JSON Web Key Set endpoint (JWT_JWKS_URL). Its RSA keys
	// verify RS256 and its P-256 keys ES256; symmetric keys are ignored.
	JWKSURL string
	// Issuer, when set, must equal the token's "iss" (JWT_ISSUER).
	Issuer string
	// Audience, when set, must be in the token's "aud" (JWT_AUDIENCE).
	Audience string
	// Leeway is the clock skew allowed on exp and nbf. Zero means none.
	Leeway time.Duration
	// JWKSRefreshMinInterval is the least time between two refreshes of the
	// key set triggered by a token whose kid is unknown, so random kids
	// cannot hammer the endpoint. Zero means 30s.
	JWKSRefreshMinInterval time.Duration
	// JWKSRefreshInterval is how often the key set is refetched in the
	// background. Zero means 1h.
	JWKSRefreshInterval time.Duration
	// HTTPClient fetches the key set. Nil means a client with a 10s timeout.
	HTTPClient *http.Client
	// Logger receives JWKS refresh failures (never a token). Nil discards them.
	Logger *slog.Logger
	// MaxTokenBytes bounds a token's length (MAX_TOKEN_BYTES); a longer one
	// is refused before any decoding. Zero means 8 KiB.
	MaxTokenBytes int
}

// NewVerifier builds the verifier for exactly the configured key source;
// none or more than one is an error. For JWKS the first fetch happens here
// (bounded by ctx) and a failure is returned, so a wrong URL is found at
// start-up; the background refresher then lives until Close, which releases
// it and waits for it. Close is a no-op for the other sources.
func NewVerifier(ctx context.Context, cfg VerifierConfig) (Verifier, io.Closer, error) {
	sources := 0
	for _, set := range []bool{len(cfg.Secret) > 0, len(cfg.PublicKeyPEM) > 0, cfg.JWKSURL != ""} {
		if set {
			sources++
		}
	}
	switch sources {
	case 0:
		return nil, nil, errors.New("security: no JWT key configured (set a secret, a public key or a JWKS URL)")
	case 1:
	default:
		return nil, nil, errors.New("security: more than one JWT key source configured (set exactly one of secret, public key, JWKS URL)")
	}

	v := &verifier{maxBytes: cfg.MaxTokenBytes}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	var closer io.Closer = nopCloser{}
	switch {
	case len(cfg.Secret) > 0:
		secret := append([]byte(nil), cfg.Secret...)
		v.methods = []string{algHS256}
		v.keyFunc = func(context.Context, *jwt.Token) (any, error) { return secret, nil }
	case len(cfg.PublicKeyPEM) > 0:
		key, alg, err := parsePublicKeyPEM(cfg.PublicKeyPEM)
		if err != nil {
			return nil, nil, fmt.Errorf("security: JWT public key: %w", err)
		}
		v.methods = []string{alg}
		v.keyFunc = func(context.Context, *jwt.Token) (any, error) { return key, nil }
	default:
		ks, err := newJWKSKeys(ctx, cfg)
		if err != nil {
			return nil, nil, err
		}
		v.methods = []string{algRS256, algES256}
		v.keyFunc = ks.key
		closer = ks
	}

	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithStrictDecoding(),
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	v.parser = jwt.NewParser(opts...)
	v.validator = jwt.NewValidator(opts...)
	return v, closer, nil
}

// verifier is the one Verifier: a jwt.Parser and Validator (stateless, safe
// to share) with a fixed method allow-list and a key lookup per source.
type verifier struct {
	parser    *jwt.Parser
	validator *jwt.Validator
	methods   []string
	keyFunc   func(ctx context.Context, t *jwt.Token) (any, error)
	maxBytes  int
}

var errTokenTooLong = errors.New("security: token longer than MAX_TOKEN_BYTES")

// Verify implements Verifier. The signature is checked before the claims
// are decoded (golang-jwt's Parse decodes them first), so a forged token
// costs its header and one signature check, whatever its claims hold.
func (v *verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if token == "" {
		return nil, messages.NewError(messages.CodeAuthRequired)
	}
	if len(token) > v.maxBytes {
		return nil, invalidToken(errTokenTooLong)
	}
	if err := v.verifySignature(ctx, token); err != nil {
		return nil, invalidToken(err)
	}
	m := jwt.MapClaims{}
	if _, _, err := v.parser.ParseUnverified(token, m); err != nil {
		return nil, invalidToken(err)
	}
	if err := v.validator.Validate(m); err != nil {
		return nil, invalidToken(fmt.Errorf("%w: %w", jwt.ErrTokenInvalidClaims, err))
	}
	c, err := claimsFromMap(m)
	if err != nil {
		return nil, invalidToken(err)
	}
	return c, nil
}

// verifySignature checks token's algorithm against the allow-list and its
// signature with the source's key, decoding only the header and the
// signature.
func (v *verifier) verifySignature(ctx context.Context, token string) error {
	header, rest, ok := strings.Cut(token, ".")
	if !ok {
		return errMalformedToken
	}
	claims, sig, ok := strings.Cut(rest, ".")
	if !ok || strings.Contains(sig, ".") {
		return errMalformedToken
	}
	t := &jwt.Token{Raw: token}
	hb, err := v.parser.DecodeSegment(header)
	if err != nil {
		return fmt.Errorf("%w: header: %w", jwt.ErrTokenMalformed, err)
	}
	if err := json.Unmarshal(hb, &t.Header); err != nil {
		return fmt.Errorf("%w: header: %w", jwt.ErrTokenMalformed, err)
	}
	alg, _ := t.Header["alg"].(string)
	if !slices.Contains(v.methods, alg) {
		return fmt.Errorf("%w: signing method %q is not allowed", jwt.ErrTokenSignatureInvalid, alg)
	}
	t.Method = jwt.GetSigningMethod(alg)
	if t.Signature, err = v.parser.DecodeSegment(sig); err != nil {
		return fmt.Errorf("%w: signature: %w", jwt.ErrTokenMalformed, err)
	}
	key, err := v.keyFunc(ctx, t)
	if err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenUnverifiable, err)
	}
	signed := token[:len(header)+1+len(claims)]
	if set, ok := key.(jwt.VerificationKeySet); ok {
		if len(set.Keys) == 0 {
			return jwt.ErrTokenUnverifiable
		}
		for _, k := range set.Keys {
			if err = t.Method.Verify(signed, t.Signature, k); err == nil {
				return nil
			}
		}
	} else {
		err = t.Method.Verify(signed, t.Signature, key)
	}
	if err != nil {
		return fmt.Errorf("%w: %w", jwt.ErrTokenSignatureInvalid, err)
	}
	return nil
}

var errMalformedToken = fmt.Errorf("%w: not three segments", jwt.ErrTokenMalformed)

func invalidToken(cause error) *messages.Error {
	e := messages.NewError(messages.CodeInvalidToken)
	e.Cause = cause
	return e
}

// IsExpired reports whether err (typically from Verify) says the token is
// past its exp, so the caller can log token_expired instead of auth_invalid.
// The wire code is INVALID_TOKEN either way.
func IsExpired(err error) bool {
	return errors.Is(err, jwt.ErrTokenExpired)
}

// MintOptions are the registered claims MintHS256WithOptions adds to a token.
type MintOptions struct {
	// Issuer is the "iss" claim; set it to the verifier's Issuer.
	Issuer string
	// Audience is the "aud" claim; set it to the verifier's Audience.
	Audience string
	// IssuedAt is the "iat" claim. Zero means now.
	IssuedAt time.Time
}

// MintHS256 signs c with secret (HS256), for `gateway token`, the dev token
// and tests. exp comes from c.ExpiresAt; role and workspaces are left out
// when empty.
func MintHS256(secret []byte, c Claims) (string, error) {
	return MintHS256WithOptions(secret, c, MintOptions{})
}

// MintHS256WithOptions is MintHS256 with iss, aud and iat.
func MintHS256WithOptions(secret []byte, c Claims, o MintOptions) (string, error) {
	switch {
	case len(secret) == 0:
		return "", errors.New("security: mint: empty secret")
	case c.Subject == "":
		return "", errors.New("security: mint: empty subject")
	case c.WorkspaceID == "":
		return "", errors.New("security: mint: empty workspace id")
	case c.ExpiresAt.IsZero():
		return "", errors.New("security: mint: no expiry")
	}
	iat := o.IssuedAt
	if iat.IsZero() {
		iat = time.Now()
	}
	m := jwt.MapClaims{
		claimSubject:     c.Subject,
		claimWorkspaceID: c.WorkspaceID,
		"exp":            c.ExpiresAt.Unix(),
		"iat":            iat.Unix(),
	}
	if c.Role != "" {
		m[claimRole] = c.Role
	}
	if len(c.Workspaces) > 0 {
		m[claimWorkspaces] = c.Workspaces
	}
	if o.Issuer != "" {
		m["iss"] = o.Issuer
	}
	if o.Audience != "" {
		m["aud"] = o.Audience
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, m).SignedString(secret)
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }
