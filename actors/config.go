package actors

import (
	"time"

	"github.com/hyvve/gateway/transport"
)

// Defaults of Config, as docs/PROTOCOL.md "Limits" lists them.
const (
	DefaultMaxConnectionsPerIP  = 10
	DefaultMaxMessagesPerMinute = 60
	DefaultRoomIdleTimeout      = 5 * time.Minute
	DefaultTokenExpiryWarning   = 60 * time.Second
	DefaultActionWebhookTimeout = 5 * time.Second
)

// Config is the actor tree's configuration. The zero value of each field
// means its default.
type Config struct {
	// MaxConnectionsPerIP is how many live connections one client IP may
	// hold. Zero means 10; negative means no limit.
	MaxConnectionsPerIP int
	// MaxMessagesPerMinute is each connection's budget of client events.
	// Zero means 60; negative means no limit.
	MaxMessagesPerMinute int
	// RoomIdleTimeout is how long an empty room lives. Zero means 5m.
	RoomIdleTimeout time.Duration
	// TokenExpiryWarning is how long before exp token_expiring is sent.
	// Zero means 60s.
	TokenExpiryWarning time.Duration
	// ActionWebhookURL, when set, receives allowed dashboard actions instead
	// of the dashboard room.
	ActionWebhookURL string
	// ActionWebhookTimeout bounds one webhook call. Zero means 5s.
	ActionWebhookTimeout time.Duration
	// AuthTimeout bounds a token_refresh's verification (a JWKS fetch).
	// Zero means transport.DefaultAuthTimeout, as at CONNECT.
	AuthTimeout time.Duration
	// FaultInjection installs the fault-injection middleware on every actor.
	FaultInjection bool
	// Console lets the actors answer System.Snapshot (the operator
	// console); off, they carry no snapshot middleware at all.
	Console bool
}

func (c Config) withDefaults() Config {
	if c.MaxConnectionsPerIP == 0 {
		c.MaxConnectionsPerIP = DefaultMaxConnectionsPerIP
	}
	if c.MaxMessagesPerMinute == 0 {
		c.MaxMessagesPerMinute = DefaultMaxMessagesPerMinute
	}
	if c.RoomIdleTimeout <= 0 {
		c.RoomIdleTimeout = DefaultRoomIdleTimeout
	}
	if c.TokenExpiryWarning <= 0 {
		c.TokenExpiryWarning = DefaultTokenExpiryWarning
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = transport.DefaultAuthTimeout
	}
	if c.ActionWebhookTimeout <= 0 {
		c.ActionWebhookTimeout = DefaultActionWebhookTimeout
	}
	return c
}
