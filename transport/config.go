package transport

import (
	"net/netip"
	"time"
)

// Defaults of Config, as docs/PROTOCOL.md "Limits" lists them.
const (
	DefaultPingInterval       = 25 * time.Second
	DefaultPingTimeout        = 20 * time.Second
	DefaultMaxMessageBytes    = 100000
	DefaultOutboundQueueBytes = 1 << 20
	DefaultConnectErrorGrace  = 2 * time.Second
	DefaultWriteTimeout       = 10 * time.Second
	DefaultAuthTimeout        = 10 * time.Second
	DefaultConnectTimeout     = 10 * time.Second
)

// Config is the transport's configuration. The zero value of each field means
// its default.
type Config struct {
	// PingInterval is how often the server sends an Engine.IO ping. Zero means 25s.
	PingInterval time.Duration
	// PingTimeout is how long a client has to answer a ping. Zero means 20s.
	PingTimeout time.Duration
	// MaxMessageBytes is the largest frame read, advertised as maxPayload, and
	// the largest publish body. Zero means 100000.
	MaxMessageBytes int
	// AllowedOrigins are the Origin header values allowed to upgrade; "*"
	// allows any. A request without Origin is allowed. Nil means
	// http://localhost:3000.
	AllowedOrigins []string
	// AllowLoopbackOrigins also allows any http://localhost:* and
	// http://127.0.0.1:* Origin (development mode).
	AllowLoopbackOrigins bool
	// TrustedProxies are the peers whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// OutboundQueueBytes bounds a connection's queued, unwritten frames; past
	// it the client is disconnected as slow. Zero means 1 MiB.
	OutboundQueueBytes int
	// ConnectErrorGrace is how long a refused client may keep its socket open
	// after CONNECT_ERROR. Zero means 2s.
	ConnectErrorGrace time.Duration
	// WriteTimeout bounds one socket write. Zero means 10s.
	WriteTimeout time.Duration
	// AuthTimeout bounds token verification (JWKS fetches). Zero means 10s.
	AuthTimeout time.Duration
	// PublishAPIKey enables POST /v1/publish; empty turns it off (404).
	PublishAPIKey string
	// ConnectTimeout is how long a socket may take to send its CONNECT
	// after the upgrade before it is closed. Zero means 10s.
	ConnectTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers. Zero means 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, body included; a
	// WebSocket keeps it only until the upgrade. Zero means 30s.
	ReadTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle for this long. Zero
	// means 60s.
	IdleTimeout time.Duration
	// MaxPendingPerIP bounds the sessions one client IP may hold before
	// their CONNECT is answered; past it a handshake or upgrade gets 429.
	// cmd/gateway sets it to MAX_CONNECTIONS_PER_IP. Zero means no limit.
	MaxPendingPerIP int
	// MaxHeaderBytes bounds a request's headers (431 past it). Zero means 16 KiB.
	MaxHeaderBytes int
}

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.PingInterval, DefaultPingInterval)
	def(&c.PingTimeout, DefaultPingTimeout)
	def(&c.ConnectErrorGrace, DefaultConnectErrorGrace)
	def(&c.WriteTimeout, DefaultWriteTimeout)
	def(&c.AuthTimeout, DefaultAuthTimeout)
	def(&c.ConnectTimeout, DefaultConnectTimeout)
	def(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&c.ReadTimeout, DefaultReadTimeout)
	def(&c.IdleTimeout, DefaultIdleTimeout)
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if c.OutboundQueueBytes <= 0 {
		c.OutboundQueueBytes = DefaultOutboundQueueBytes
	}
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = []string{"http://localhost:3000"}
	}
	return c
}
