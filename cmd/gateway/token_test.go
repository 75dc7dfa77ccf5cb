package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hyvve/gateway/security"
)

func TestTokenCommand(t *testing.T) {
	const secret = "0123456789abcdef0123"
	var out, errOut bytes.Buffer
	code := runToken([]string{"--sub", "u1", "--workspace", "w1", "--role", "admin", "--ttl", "2h", "--workspaces", "w2,w3"},
		env(map[string]string{"JWT_SECRET": secret}), &out, &errOut)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	v, closer, err := security.NewVerifier(context.Background(), security.VerifierConfig{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	c, err := v.Verify(context.Background(), strings.TrimSpace(out.String()))
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "u1" || c.WorkspaceID != "w1" || c.Role != "admin" || len(c.Workspaces) != 2 ||
		time.Until(c.ExpiresAt) < 119*time.Minute {
		t.Fatalf("claims %+v", c)
	}

	for _, args := range [][]string{{"--workspace", "w"}, {"--sub", "u"}, {"--sub", "u", "--workspace", "w", "--ttl", "-1s"}} {
		if code := runToken(args, env(map[string]string{"JWT_SECRET": secret}), &out, &errOut); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
	if code := runToken([]string{"--sub", "u", "--workspace", "w"}, env(map[string]string{"JWT_PUBLIC_KEY_FILE": "key.pem"}), &out, &errOut); code != 2 {
		t.Errorf("with a public key and no secret: exit %d, want 2", code)
	}
}
