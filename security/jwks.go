package security

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
)

// maxJWKSBytes bounds the key set document read from the JWKS endpoint.
const maxJWKSBytes = 1 << 20

var (
	errUnknownKID = errors.New("security: unknown key id")
	errBadKID     = errors.New("security: kid header must be a non-empty string")
	errNoKey      = errors.New("security: no key in the key set fits the token's algorithm")
)

// jwksKeys holds the key set of a JWKS endpoint and refreshes it: every
// refreshInterval in the background, and when a token names a kid the set
// does not hold, at most once per minInterval however many such tokens
// arrive (concurrent callers share the one fetch in flight). Parsing and key
// lookup go through keyfunc; fetching and refresh policy live here so the
// rate limit never makes a connecting goroutine wait for a token bucket.
type jwksKeys struct {
	url         string
	logURL      string // url without query or password, for logs
	client      *http.Client
	log         *slog.Logger
	minInterval time.Duration
	now         func() time.Time

	set atomic.Pointer[jwksSet] // the current key set, swapped whole by a refresh

	// mu guards the fields below; it is never held during a fetch.
	mu       sync.Mutex
	last     time.Time     // start of the last unknown-kid refresh
	inflight chan struct{} // closed when the refresh in flight ends; nil when none
	closed   bool

	ctx    context.Context // cancelled by Close; parent of every background fetch
	cancel context.CancelFunc
	wg     sync.WaitGroup // background refresher and unknown-kid fetches
}

// jwksSet is one immutable snapshot of the usable keys.
type jwksSet struct {
	kf   keyfunc.Keyfunc
	kids map[string]struct{}
}

func newJWKSKeys(ctx context.Context, cfg VerifierConfig) (*jwksKeys, error) {
	u, err := url.Parse(cfg.JWKSURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("security: JWKS URL %q is not an http(s) URL", cfg.JWKSURL)
	}
	logURL := *u
	logURL.User, logURL.RawQuery, logURL.Fragment = nil, "", ""

	k := &jwksKeys{
		url:         cfg.JWKSURL,
		logURL:      logURL.String(),
		client:      cfg.HTTPClient,
		log:         cfg.Logger,
		minInterval: cfg.JWKSRefreshMinInterval,
		now:         time.Now,
	}
	if k.client == nil {
		k.client = &http.Client{Timeout: DefaultJWKSHTTPTimeout}
	}
	if k.log == nil {
		k.log = slog.New(slog.DiscardHandler)
	}
	if k.minInterval <= 0 {
		k.minInterval = DefaultJWKSRefreshMinInterval
	}
	interval := cfg.JWKSRefreshInterval
	if interval <= 0 {
		interval = DefaultJWKSRefreshInterval
	}

	fetchCtx, cancel := context.WithTimeout(ctx, DefaultJWKSHTTPTimeout)
	set, err := k.fetch(fetchCtx)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("security: JWKS %s: %w", k.logURL, err)
	}
	k.set.Store(set)

	// Background work outlives the start-up ctx: only Close ends it.
	k.ctx, k.cancel = context.WithCancel(context.WithoutCancel(ctx))
	k.wg.Add(1)
	go k.refreshEvery(interval)
	return k, nil
}

// Close stops the background refresher and waits for every fetch to end.
// Verify keeps working afterwards with the last key set.
func (k *jwksKeys) Close() error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil
	}
	k.closed = true
	k.mu.Unlock()
	k.cancel()
	k.wg.Wait()
	return nil
}

// key is the verifier's key lookup: the key for the token's kid (refreshing
// the set once, rate-limited, when the kid is unknown), or every key of the
// token's algorithm when the token names no kid.
func (k *jwksKeys) key(ctx context.Context, t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	set := k.set.Load()
	kidValue, hasKID := t.Header["kid"]
	if !hasKID {
		all, err := set.kf.VerificationKeySet(ctx)
		if err != nil {
			return nil, err
		}
		var fit jwt.VerificationKeySet
		for _, key := range all.Keys {
			if keyMatchesAlg(key, alg) {
				fit.Keys = append(fit.Keys, key)
			}
		}
		if len(fit.Keys) == 0 {
			return nil, errNoKey
		}
		return fit, nil
	}
	kid, ok := kidValue.(string)
	if !ok || kid == "" {
		return nil, errBadKID
	}
	if _, known := set.kids[kid]; !known {
		set = k.refreshForUnknownKID(ctx)
		if _, known = set.kids[kid]; !known {
			return nil, errUnknownKID
		}
	}
	key, err := set.kf.KeyfuncCtx(ctx)(t)
	if err != nil {
		return nil, err
	}
	if !keyMatchesAlg(key, alg) {
		return nil, fmt.Errorf("%w (kid names a key of another type)", errNoKey)
	}
	return key, nil
}

// refreshForUnknownKID joins the refresh in flight, or starts one unless one
// started less than minInterval ago, and returns the key set after it.
// It never waits longer than ctx allows.
func (k *jwksKeys) refreshForUnknownKID(ctx context.Context) *jwksSet {
	k.mu.Lock()
	ch := k.inflight
	if ch == nil {
		now := k.now()
		if k.closed || (!k.last.IsZero() && now.Sub(k.last) < k.minInterval) {
			k.mu.Unlock()
			return k.set.Load()
		}
		k.last = now
		ch = make(chan struct{})
		k.inflight = ch
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			k.refresh("unknown kid")
			k.mu.Lock()
			k.inflight = nil
			close(ch)
			k.mu.Unlock()
		}()
	}
	k.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
	}
	return k.set.Load()
}

func (k *jwksKeys) refreshEvery(interval time.Duration) {
	defer k.wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-k.ctx.Done():
			return
		case <-t.C:
			k.refresh("periodic")
		}
	}
}

// refresh fetches the set and swaps it in; on failure the old set stays.
func (k *jwksKeys) refresh(reason string) {
	ctx, cancel := context.WithTimeout(k.ctx, DefaultJWKSHTTPTimeout)
	defer cancel()
	set, err := k.fetch(ctx)
	if err != nil {
		if k.ctx.Err() == nil {
			k.log.Warn("jwks refresh failed", "url", k.logURL, "reason", reason, "err", err)
		}
		return
	}
	k.set.Store(set)
}

// fetch downloads the key set and keeps the keys the allow-list can use:
// RSA keys of at least MinRSAKeyBits (RS256) and EC P-256 keys (ES256), with
// no "use" but "sig" and no "alg" but the key's own. Symmetric ("oct") keys
// and everything else are dropped. A set with no usable key is an error.
func (k *jwksKeys) fetch(ctx context.Context) (*jwksSet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("key set larger than %d bytes", maxJWKSBytes)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode key set: %w", err)
	}

	usable := make([]json.RawMessage, 0, len(doc.Keys))
	kids := make(map[string]struct{}, len(doc.Keys))
	for i, raw := range doc.Keys {
		kid, err := usableJWK(ctx, raw)
		if err != nil {
			k.log.Debug("jwks key skipped", "url", k.logURL, "index", i, "err", err)
			continue
		}
		usable = append(usable, raw)
		if kid != "" {
			kids[kid] = struct{}{}
		}
	}
	if len(usable) == 0 {
		return nil, errors.New("key set holds no RSA or P-256 signing key")
	}
	setJSON, err := json.Marshal(map[string][]json.RawMessage{"keys": usable})
	if err != nil {
		return nil, err
	}
	kf, err := keyfunc.NewJWKSetJSON(setJSON)
	if err != nil {
		return nil, fmt.Errorf("load key set: %w", err)
	}
	return &jwksSet{kf: kf, kids: kids}, nil
}

// usableJWK checks one JWK against the allow-list and returns its kid.
func usableJWK(ctx context.Context, raw json.RawMessage) (string, error) {
	var meta struct {
		Kty string `json:"kty"`
		Kid string `json:"kid"`
		Use string `json:"use"`
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		return "", err
	}
	if meta.Kty != "RSA" && meta.Kty != "EC" {
		return "", fmt.Errorf("key type %q not allowed", meta.Kty)
	}
	if meta.Use != "" && meta.Use != "sig" {
		return "", fmt.Errorf("key use %q is not \"sig\"", meta.Use)
	}
	one, err := json.Marshal(map[string][]json.RawMessage{"keys": {raw}})
	if err != nil {
		return "", err
	}
	kf, err := keyfunc.NewJWKSetJSON(one)
	if err != nil {
		return "", err
	}
	vks, err := kf.VerificationKeySet(ctx)
	if err != nil {
		return "", err
	}
	if len(vks.Keys) != 1 {
		return "", errors.New("key did not load")
	}
	_, alg, err := publicKeyAlg(vks.Keys[0])
	if err != nil {
		return "", err
	}
	if meta.Alg != "" && meta.Alg != alg {
		return "", fmt.Errorf("key alg %q is not %s", meta.Alg, alg)
	}
	return meta.Kid, nil
}
