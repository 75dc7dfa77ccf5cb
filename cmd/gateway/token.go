package main

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/hyvve/gateway/security"
)

// runToken is `gateway token`: it prints a token signed with JWT_SECRET, or,
// with no JWT key configured, with the development secret the gateway keeps
// in the user's config directory (development mode).
func runToken(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("gateway token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "", "user id (sub claim), required")
	workspace := fs.String("workspace", "", "workspace id (workspaceId claim), required")
	role := fs.String("role", "member", "role claim: owner, admin, member, viewer or one of RBAC_POLICY_FILE")
	workspaces := fs.String("workspaces", "", "comma-separated further workspace ids")
	ttl := fs.Duration("ttl", time.Hour, "lifetime of the token")
	secret := fs.String("secret", "", "HS256 secret (default: JWT_SECRET, else the development secret)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *secret == "" {
		*secret = getenv("JWT_SECRET")
	}
	if *secret == "" && getenv("JWT_PUBLIC_KEY_FILE") == "" && getenv("JWT_JWKS_URL") == "" {
		path, err := devSecretPath(getenv)
		var dev []byte
		if err == nil {
			dev, err = loadDevSecret(path)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gateway token: no JWT_SECRET, and no development secret: %v\n", err)
			return 2
		}
		fmt.Fprintf(stderr, "gateway token: development mode: signed with the development secret in %s\n", path)
		*secret = string(dev)
	}
	switch {
	case *sub == "" || *workspace == "":
		fmt.Fprintln(stderr, "gateway token: --sub and --workspace are required")
		return 2
	case *secret == "":
		fmt.Fprintln(stderr, "gateway token: set JWT_SECRET (or --secret): a gateway with a public key or JWKS verifies tokens it cannot sign")
		return 2
	case *ttl <= 0:
		fmt.Fprintln(stderr, "gateway token: --ttl must be positive")
		return 2
	}
	token, err := security.MintHS256([]byte(*secret), security.Claims{
		Subject: *sub, WorkspaceID: *workspace, Role: *role, Workspaces: splitList(*workspaces),
		ExpiresAt: time.Now().Add(*ttl),
	})
	if err != nil {
		fmt.Fprintf(stderr, "gateway token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, strings.TrimSpace(token))
	return 0
}
