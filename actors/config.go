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
	DefaultRecoveryWindow       = 2 * time.Minute
	DefaultRecoveryMaxMessages  = 1000
	DefaultPresenceMaxUsers     = 1000
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
	// RecoveryWindow is how long a session that ended for a recoverable
	// reason is kept, and how long room broadcasts are kept for its replay
	// (docs/PROTOCOL.md "Connection state recovery"). Zero means 2m; negative turns recovery off, which
	// costs the broadcast path nothing (no lock, no offset, no history).
	RecoveryWindow time.Duration
	// RecoveryMaxMessages is the most broadcasts kept per room. Zero means
	// 1000.
	RecoveryMaxMessages int
	// PresenceMaxUsers is the most users a presence answer lists
	// (docs/PROTOCOL.md "Presence"). Zero means 1000.
	PresenceMaxUsers int
	// Console lets the actors answer System.Snapshot (the operator
	// console); off, they carry no snapshot middleware at all.
	Console bool
}

// recovery reports whether connection state recovery is on.
func (c Config) recovery() bool { return c.RecoveryWindow > 0 }

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
	if c.RecoveryWindow == 0 {
		c.RecoveryWindow = DefaultRecoveryWindow
	}
	if c.PresenceMaxUsers <= 0 {
		c.PresenceMaxUsers = DefaultPresenceMaxUsers
	}
	if c.RecoveryMaxMessages <= 0 {
		c.RecoveryMaxMessages = DefaultRecoveryMaxMessages
	}
	if c.AuthTimeout <= 0 {
		c.AuthTimeout = transport.DefaultAuthTimeout
	}
	if c.ActionWebhookTimeout <= 0 {
		c.ActionWebhookTimeout = DefaultActionWebhookTimeout
	}
	return c
}
