package main

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/cluster"
)

// Config is the gateway's whole configuration, filled from the environment
// and then from flags (a flag wins). It is the only place env is read.
type Config struct {
	ListenAddr           string
	JWTSecret            string
	JWTPublicKeyFile     string
	JWTJWKSURL           string
	JWTIssuer            string
	JWTAudience          string
	PublishAPIKey        string
	AdminAPIKey          string
	FaultInjection       bool
	PingInterval         time.Duration
	PingTimeout          time.Duration
	MaxConnectionsPerIP  int
	MaxMessagesPerMinute int
	MaxMessageBytes      int
	OutboundQueueBytes   int
	AllowedOrigins       []string
	TrustedProxies       []netip.Prefix
	RoomIdleTimeout      time.Duration
	TokenExpiryWarning   time.Duration
	RecoveryWindow       time.Duration
	RecoveryMaxMessages  int
	PresenceMaxUsers     int
	ShutdownTimeout      time.Duration
	RBACPolicyFile       string
	ActionWebhookURL     string
	ActionWebhookTimeout time.Duration
	LogLevel             string
	LogFormat            string
	NATSURL              string
	NATSListen           string
	NATSClusterListen    string
	NATSRoutes           []string
	NATSStoreDir         string
	NodeID               string
	NATSRequiredForReady bool
	NATSRecipientsWait   time.Duration
	PprofAddr            string
	HTTPReadTimeout      time.Duration
	HTTPIdleTimeout      time.Duration
	MaxHeaderBytes       int
	MaxOpenConnections   int
	MaxTokenBytes        int
	ConnectTimeout       time.Duration
}

// setting is one configuration variable: its environment name, flag, default
// and meaning. settings is the single table behind env parsing, flags, the
// usage text and the README's configuration table (a test keeps them in step).
type setting struct {
	env, def, doc string
	secret        bool
	set           func(c *Config, v string) error
}

var settings = []setting{
	{"LISTEN_ADDR", ":8080", "address of the one HTTP listener (Socket.IO, publish API, metrics, health)", false, str(func(c *Config) *string { return &c.ListenAddr })},
	{"JWT_SECRET", "", "HS256 secret; with no JWT key at all the gateway runs in insecure development mode", true, str(func(c *Config) *string { return &c.JWTSecret })},
	{"JWT_PUBLIC_KEY_FILE", "", "PEM file of an RSA (RS256) or P-256 (ES256) public key", false, str(func(c *Config) *string { return &c.JWTPublicKeyFile })},
	{"JWT_JWKS_URL", "", "JWKS endpoint (RS256/ES256 keys by kid, cached, refreshed on an unknown kid at a bounded rate)", false, str(func(c *Config) *string { return &c.JWTJWKSURL })},
	{"JWT_ISSUER", "", "required iss claim, when set", false, str(func(c *Config) *string { return &c.JWTIssuer })},
	{"JWT_AUDIENCE", "", "required aud claim, when set", false, str(func(c *Config) *string { return &c.JWTAudience })},
	{"PUBLISH_API_KEY", "", "bearer key of POST /v1/publish; empty turns the endpoint off (404)", true, str(func(c *Config) *string { return &c.PublishAPIKey })},
	{"ADMIN_API_KEY", "", "bearer key of the operator console (/admin) and of POST /debug/faults; empty turns both off (404)", true, str(func(c *Config) *string { return &c.AdminAPIKey })},
	{"FAULT_INJECTION", "0", "1 enables POST /debug/faults (needs ADMIN_API_KEY)", false, boolean(func(c *Config) *bool { return &c.FaultInjection })},
	{"PING_INTERVAL", dur(transport.DefaultPingInterval), "Engine.IO ping interval", false, duration(func(c *Config) *time.Duration { return &c.PingInterval })},
	{"PING_TIMEOUT", dur(transport.DefaultPingTimeout), "time a client has to answer a ping", false, duration(func(c *Config) *time.Duration { return &c.PingTimeout })},
	{"MAX_CONNECTIONS_PER_IP", strconv.Itoa(actors.DefaultMaxConnectionsPerIP), "live connections per client IP (TOO_MANY_CONNECTIONS past it)", false, integer(func(c *Config) *int { return &c.MaxConnectionsPerIP })},
	{"MAX_MESSAGES_PER_MINUTE", strconv.Itoa(actors.DefaultMaxMessagesPerMinute), "client events per connection per minute (RATE_LIMITED past it)", false, integer(func(c *Config) *int { return &c.MaxMessagesPerMinute })},
	{"MAX_MESSAGE_BYTES", strconv.Itoa(transport.DefaultMaxMessageBytes), "largest frame (close 1009 past it) and publish body (413), advertised as maxPayload", false, integer(func(c *Config) *int { return &c.MaxMessageBytes })},
	{"OUTBOUND_QUEUE_BYTES", strconv.Itoa(transport.DefaultOutboundQueueBytes), "unwritten bytes queued per connection before it is dropped as a slow client", false, integer(func(c *Config) *int { return &c.OutboundQueueBytes })},
	{"ALLOWED_ORIGINS", "http://localhost:3000", "comma-separated Origin values allowed to upgrade; * allows any", false, list(func(c *Config) *[]string { return &c.AllowedOrigins })},
	{"TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is believed", false, prefixes},
	{"ROOM_IDLE_TIMEOUT", dur(actors.DefaultRoomIdleTimeout), "how long an empty room lives", false, duration(func(c *Config) *time.Duration { return &c.RoomIdleTimeout })},
	{"TOKEN_EXPIRY_WARNING", dur(actors.DefaultTokenExpiryWarning), "how long before exp the token_expiring event is sent", false, duration(func(c *Config) *time.Duration { return &c.TokenExpiryWarning })},
	{"RECOVERY_WINDOW", dur(actors.DefaultRecoveryWindow), "how long a session that lost its transport is kept for the client to recover it, and how long room broadcasts are kept for its replay; 0 turns recovery off", false, duration(func(c *Config) *time.Duration { return &c.RecoveryWindow })},
	{"RECOVERY_MAX_MESSAGES", strconv.Itoa(actors.DefaultRecoveryMaxMessages), "most broadcasts kept per room for recovery (a client that missed more gets a fresh session)", false, integer(func(c *Config) *int { return &c.RecoveryMaxMessages })},
	{"PRESENCE_MAX_USERS", strconv.Itoa(actors.DefaultPresenceMaxUsers), "most users a presence answer lists (\"truncated\":true past it)", false, integer(func(c *Config) *int { return &c.PresenceMaxUsers })},
	{"SHUTDOWN_TIMEOUT", "10s", "longest SIGTERM drain before exit", false, duration(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
	{"RBAC_POLICY_FILE", "", "JSON role policy replacing the default one", false, str(func(c *Config) *string { return &c.RBACPolicyFile })},
	{"ACTION_WEBHOOK_URL", "", "when set, allowed dashboard actions are POSTed here and its answer is the ack", false, str(func(c *Config) *string { return &c.ActionWebhookURL })},
	{"ACTION_WEBHOOK_TIMEOUT", dur(actors.DefaultActionWebhookTimeout), "timeout of one webhook call (UPSTREAM_UNAVAILABLE past it)", false, duration(func(c *Config) *time.Duration { return &c.ActionWebhookTimeout })},
	{"LOG_LEVEL", "info", "debug, info, warn or error", false, str(func(c *Config) *string { return &c.LogLevel })},
	{"LOG_FORMAT", "json", "json or text", false, str(func(c *Config) *string { return &c.LogFormat })},
	{"NATS_URL", "", "join an external NATS (cluster) to share rooms with other gateway nodes", false, str(func(c *Config) *string { return &c.NATSURL })},
	{"NATS_LISTEN", "", "run an embedded NATS server on this host:port (port 0: any) to share rooms with other nodes", false, str(func(c *Config) *string { return &c.NATSListen })},
	{"NATS_CLUSTER_LISTEN", "", "route listener of the embedded NATS server, for the other nodes' NATS_ROUTES", false, str(func(c *Config) *string { return &c.NATSClusterListen })},
	{"NATS_ROUTES", "", "comma-separated route URLs of the other nodes' embedded servers (nats-route://host:port)", false, list(func(c *Config) *[]string { return &c.NATSRoutes })},
	{"NATS_STORE_DIR", "", "where the embedded NATS server's JetStream keeps the recovery history and sessions, on file; empty: in memory, replicated across the routed nodes", false, str(func(c *Config) *string { return &c.NATSStoreDir })},
	{"NODE_ID", "", "this node's name in logs and metrics; empty: random", false, str(func(c *Config) *string { return &c.NodeID })},
	{"NATS_REQUIRED_FOR_READY", "0", "1: /readyz answers 503 while the NATS link is down", false, boolean(func(c *Config) *bool { return &c.NATSRequiredForReady })},
	{"PPROF_ADDR", "", "serve net/http/pprof on this separate address (e.g. 127.0.0.1:6060); empty: off", false, str(func(c *Config) *string { return &c.PprofAddr })},
	{"NATS_RECIPIENTS_WAIT", dur(cluster.DefaultRecipientsWait), "how long a publish waits for the other nodes' recipient counts before answering partial", false, duration(func(c *Config) *time.Duration { return &c.NATSRecipientsWait })},
	{"HTTP_READ_TIMEOUT", dur(transport.DefaultReadTimeout), "longest time to read one HTTP request, body included (a WebSocket drops it at the upgrade)", false, duration(func(c *Config) *time.Duration { return &c.HTTPReadTimeout })},
	{"HTTP_IDLE_TIMEOUT", dur(transport.DefaultIdleTimeout), "an idle HTTP keep-alive connection is closed after it", false, duration(func(c *Config) *time.Duration { return &c.HTTPIdleTimeout })},
	{"MAX_HEADER_BYTES", strconv.Itoa(transport.DefaultMaxHeaderBytes), "largest request header block (431 past it), the upgrade's included", false, integer(func(c *Config) *int { return &c.MaxHeaderBytes })},
	{"CONNECT_TIMEOUT", dur(transport.DefaultConnectTimeout), "a socket that has not sent its Socket.IO CONNECT within it is closed", false, duration(func(c *Config) *time.Duration { return &c.ConnectTimeout })},
	{"MAX_TOKEN_BYTES", strconv.Itoa(security.DefaultMaxTokenBytes), "longest token accepted (CONNECT or token_refresh); a longer one is INVALID_TOKEN before any decoding", false, integer(func(c *Config) *int { return &c.MaxTokenBytes })},
	{"MAX_OPEN_CONNECTIONS", "0", "TCP connections open at once (closed at accept past it, /healthz and /metrics keep 16 more); 0: the file limit minus 64", false, integer(func(c *Config) *int { return &c.MaxOpenConnections })},
}

// dur writes a default duration as docs/PROTOCOL.md and the README show it: 5m
// and 60s, not 5m0s and 1m0s.
func dur(d time.Duration) string {
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d > time.Minute && d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}

// flagName turns PING_INTERVAL into ping-interval.
func flagName(env string) string { return strings.ReplaceAll(strings.ToLower(env), "_", "-") }

// loadConfig reads the defaults, then the environment, then the flags in
// args. Every bad value is reported, not just the first.
func loadConfig(args []string, getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range settings {
		if err := s.set(&c, s.def); err != nil {
			errs = append(errs, fmt.Errorf("default of %s: %w", s.env, err))
		}
		if v := getenv(s.env); v != "" {
			if err := s.set(&c, v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", s.env, redactIf(s, v), err))
			}
		}
	}
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	for _, s := range settings {
		s := s
		fs.Func(flagName(s.env), s.doc+" (env "+s.env+", default "+strconv.Quote(s.def)+")", func(v string) error {
			return s.set(&c, v)
		})
	}
	if err := fs.Parse(args); err != nil {
		errs = append(errs, err)
	}
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments: %q", fs.Args()))
	}
	errs = append(errs, c.validate()...)
	return c, errors.Join(errs...)
}

func (c *Config) validate() []error {
	var errs []error
	keys := 0
	for _, k := range []string{c.JWTSecret, c.JWTPublicKeyFile, c.JWTJWKSURL} {
		if k != "" {
			keys++
		}
	}
	if keys > 1 {
		errs = append(errs, errors.New("set only one of JWT_SECRET, JWT_PUBLIC_KEY_FILE and JWT_JWKS_URL"))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < 16 {
		errs = append(errs, errors.New("JWT_SECRET must be at least 16 bytes"))
	}
	positive := map[string]time.Duration{"PING_INTERVAL": c.PingInterval, "PING_TIMEOUT": c.PingTimeout,
		"ROOM_IDLE_TIMEOUT": c.RoomIdleTimeout, "TOKEN_EXPIRY_WARNING": c.TokenExpiryWarning,
		"SHUTDOWN_TIMEOUT": c.ShutdownTimeout, "ACTION_WEBHOOK_TIMEOUT": c.ActionWebhookTimeout,
		"HTTP_READ_TIMEOUT": c.HTTPReadTimeout, "HTTP_IDLE_TIMEOUT": c.HTTPIdleTimeout, "CONNECT_TIMEOUT": c.ConnectTimeout}
	for name, d := range positive {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive", name))
		}
	}
	if c.RecoveryWindow < 0 {
		errs = append(errs, errors.New("RECOVERY_WINDOW must not be negative (0 turns recovery off)"))
	}
	for name, n := range map[string]int{"MAX_CONNECTIONS_PER_IP": c.MaxConnectionsPerIP, "MAX_MESSAGES_PER_MINUTE": c.MaxMessagesPerMinute,
		"MAX_MESSAGE_BYTES": c.MaxMessageBytes, "OUTBOUND_QUEUE_BYTES": c.OutboundQueueBytes, "MAX_HEADER_BYTES": c.MaxHeaderBytes,
		"MAX_TOKEN_BYTES": c.MaxTokenBytes, "RECOVERY_MAX_MESSAGES": c.RecoveryMaxMessages, "PRESENCE_MAX_USERS": c.PresenceMaxUsers} {
		if n <= 0 {
			errs = append(errs, fmt.Errorf("%s must be a positive integer", name))
		}
	}
	if c.MaxOpenConnections < 0 {
		errs = append(errs, errors.New("MAX_OPEN_CONNECTIONS must be 0 (from the file limit) or positive"))
	}
	if c.OutboundQueueBytes > 0 && c.OutboundQueueBytes < c.MaxMessageBytes {
		errs = append(errs, errors.New("OUTBOUND_QUEUE_BYTES must be at least MAX_MESSAGE_BYTES"))
	}
	if err := c.clusterConfig().Validate(); err != nil {
		errs = append(errs, err)
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("LOG_LEVEL=%q: want debug, info, warn or error", c.LogLevel))
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		errs = append(errs, fmt.Errorf("LOG_FORMAT=%q: want json or text", c.LogFormat))
	}
	return errs
}

// transportConfig and actorsConfig split Config for the two packages.
func (c *Config) transportConfig() transport.Config {
	return transport.Config{
		PingInterval: c.PingInterval, PingTimeout: c.PingTimeout, MaxMessageBytes: c.MaxMessageBytes,
		AllowedOrigins: c.AllowedOrigins, TrustedProxies: c.TrustedProxies,
		OutboundQueueBytes: c.OutboundQueueBytes, PublishAPIKey: c.PublishAPIKey,
		ReadTimeout: c.HTTPReadTimeout, IdleTimeout: c.HTTPIdleTimeout, MaxHeaderBytes: c.MaxHeaderBytes,
		ConnectTimeout: c.ConnectTimeout, MaxPendingPerIP: c.MaxConnectionsPerIP,
	}
}

func (c *Config) clusterConfig() cluster.Config {
	return cluster.Config{
		URL: c.NATSURL, Listen: c.NATSListen, ClusterListen: c.NATSClusterListen, Routes: c.NATSRoutes,
		NodeID: c.NodeID, RecipientsWait: c.NATSRecipientsWait, RequireForReady: c.NATSRequiredForReady,
		RecoveryWindow: c.RecoveryWindow, RecoveryMaxMessages: c.RecoveryMaxMessages, StoreDir: c.NATSStoreDir,
	}
}

func (c *Config) actorsConfig() actors.Config {
	window := c.RecoveryWindow
	if window == 0 {
		window = -1 // RECOVERY_WINDOW=0: off (actors.Config's zero means its default)
	}
	return actors.Config{
		RecoveryWindow: window, RecoveryMaxMessages: c.RecoveryMaxMessages, PresenceMaxUsers: c.PresenceMaxUsers,
		MaxConnectionsPerIP: c.MaxConnectionsPerIP, MaxMessagesPerMinute: c.MaxMessagesPerMinute,
		RoomIdleTimeout: c.RoomIdleTimeout, TokenExpiryWarning: c.TokenExpiryWarning,
		ActionWebhookURL: c.ActionWebhookURL, ActionWebhookTimeout: c.ActionWebhookTimeout,
		FaultInjection: c.FaultInjection && c.AdminAPIKey != "",
		Console:        c.AdminAPIKey != "",
	}
}

func redactIf(s setting, v string) string {
	if s.secret {
		return "[redacted]"
	}
	return v
}

func str(field func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *field(c) = v; return nil }
}

func boolean(field func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want 0 or 1")
		}
		*field(c) = b
		return nil
	}
}

func integer(field func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return errors.New("want an integer")
		}
		*field(c) = n
		return nil
	}
}

// duration accepts Go durations ("25s", "5m") and bare integers as
// milliseconds, the unit Socket.IO's own options use.
func duration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if ms, err := strconv.ParseInt(v, 10, 64); err == nil {
			*field(c) = time.Duration(ms) * time.Millisecond
			return nil
		}
		d, err := time.ParseDuration(v)
		if err != nil {
			return errors.New(`want a duration such as "25s" or milliseconds`)
		}
		*field(c) = d
		return nil
	}
}

func list(field func(*Config) *[]string) func(*Config, string) error {
	return func(c *Config, v string) error {
		*field(c) = splitList(v)
		return nil
	}
}

func prefixes(c *Config, v string) error {
	c.TrustedProxies = nil
	for _, item := range splitList(v) {
		p, err := netip.ParsePrefix(item)
		if err != nil {
			a, aerr := netip.ParseAddr(item)
			if aerr != nil {
				return fmt.Errorf("%q is not a CIDR or an address", item)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	return nil
}

func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
