package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigDefaults(t *testing.T) {
	c, err := loadConfig(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.ListenAddr != ":8080" || c.PingInterval != 25*time.Second || c.PingTimeout != 20*time.Second ||
		c.MaxConnectionsPerIP != 10 || c.MaxMessagesPerMinute != 60 || c.MaxMessageBytes != 100000 ||
		len(c.AllowedOrigins) != 1 || c.AllowedOrigins[0] != "http://localhost:3000" ||
		c.RoomIdleTimeout != 5*time.Minute || c.TokenExpiryWarning != 60*time.Second ||
		c.ShutdownTimeout != 10*time.Second || c.TrustedProxies != nil ||
		c.RecoveryWindow != 2*time.Minute || c.RecoveryMaxMessages != 1000 {
		t.Fatalf("defaults: %+v", c)
	}
	if a := c.actorsConfig(); a.RecoveryWindow != 2*time.Minute || a.RecoveryMaxMessages != 1000 {
		t.Fatalf("actors config: %+v", a)
	}
}

func TestRecoveryWindowZeroTurnsRecoveryOff(t *testing.T) {
	c, err := loadConfig([]string{"-recovery-max-messages", "5"}, env(map[string]string{"RECOVERY_WINDOW": "0"}))
	if err != nil {
		t.Fatal(err)
	}
	if a := c.actorsConfig(); a.RecoveryWindow >= 0 || a.RecoveryMaxMessages != 5 {
		t.Fatalf("RECOVERY_WINDOW=0: actors config %+v, want recovery off", a)
	}
}

func TestConfigFromEnvAndFlags(t *testing.T) {
	c, err := loadConfig([]string{"-ping-interval", "5s", "-max-messages-per-minute", "7"}, env(map[string]string{
		"PING_INTERVAL":     "1000", // milliseconds, overridden by the flag
		"PING_TIMEOUT":      "1500",
		"ALLOWED_ORIGINS":   "https://a.example, https://b.example",
		"TRUSTED_PROXIES":   "10.0.0.0/8,192.168.1.1",
		"FAULT_INJECTION":   "1",
		"ADMIN_API_KEY":     "adm",
		"JWT_SECRET":        "0123456789abcdef",
		"ROOM_IDLE_TIMEOUT": "2m",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.PingInterval != 5*time.Second || c.PingTimeout != 1500*time.Millisecond || c.MaxMessagesPerMinute != 7 ||
		len(c.AllowedOrigins) != 2 || c.AllowedOrigins[1] != "https://b.example" || len(c.TrustedProxies) != 2 ||
		c.TrustedProxies[1].String() != "192.168.1.1/32" || !c.FaultInjection || c.RoomIdleTimeout != 2*time.Minute {
		t.Fatalf("config: %+v", c)
	}
}

func TestConfigErrorsAreReportedTogether(t *testing.T) {
	tests := []struct {
		env  map[string]string
		args []string
		want []string
	}{
		{map[string]string{"PING_INTERVAL": "soon", "MAX_CONNECTIONS_PER_IP": "ten"}, nil, []string{"PING_INTERVAL", "MAX_CONNECTIONS_PER_IP"}},
		{map[string]string{"JWT_SECRET": "0123456789abcdef", "JWT_JWKS_URL": "http://x"}, nil, []string{"only one of"}},
		{map[string]string{"JWT_SECRET": "short"}, nil, []string{"at least 16 bytes"}},
		{map[string]string{"TRUSTED_PROXIES": "not-a-cidr"}, nil, []string{"TRUSTED_PROXIES"}},
		{map[string]string{"MAX_MESSAGE_BYTES": "0"}, nil, []string{"MAX_MESSAGE_BYTES must be a positive"}},
		{map[string]string{"LOG_LEVEL": "loud"}, nil, []string{"LOG_LEVEL"}},
		{map[string]string{"RECOVERY_WINDOW": "-1s", "RECOVERY_MAX_MESSAGES": "0"}, nil, []string{"RECOVERY_WINDOW must not be negative", "RECOVERY_MAX_MESSAGES must be a positive"}},
		{map[string]string{"NATS_ROUTES": "nats-route://127.0.0.1:6222"}, nil, []string{"NATS_LISTEN"}},
		{map[string]string{"NATS_URL": "nats://127.0.0.1:4222", "NATS_LISTEN": "127.0.0.1:0"}, nil, []string{"exclusive"}},
		{nil, []string{"-no-such-flag"}, []string{"no-such-flag"}},
	}
	for _, tt := range tests {
		_, err := loadConfig(tt.args, env(tt.env))
		if err == nil {
			t.Errorf("%v %v: no error", tt.env, tt.args)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q does not mention %q", tt.env, err, w)
			}
		}
	}
}

func TestConfigErrorNeverEchoesSecrets(t *testing.T) {
	_, err := loadConfig(nil, env(map[string]string{"PUBLISH_API_KEY": "", "FAULT_INJECTION": "maybe", "ADMIN_API_KEY": "super-secret-admin"}))
	if err == nil || strings.Contains(err.Error(), "super-secret-admin") {
		t.Fatalf("err %v", err)
	}
}

// TestREADMEDocumentsEveryVariable keeps the README's configuration table in
// step with the settings table.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "—"
		}
		row := "| `" + s.env + "` | `" + def + "` |"
		if s.def == "" {
			row = "| `" + s.env + "` | — |"
		}
		if !strings.Contains(string(readme), row) {
			t.Errorf("README.md has no row starting %q", row)
		}
	}
}
