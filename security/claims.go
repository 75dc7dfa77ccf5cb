package security

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// DefaultRole is the role of a token that carries no "role" claim.
const DefaultRole = RoleMember

// Claim names of a gateway token (docs/PROTOCOL.md "Tokens").
const (
	claimSubject     = "sub"
	claimWorkspaceID = "workspaceId"
	claimRole        = "role"
	claimWorkspaces  = "workspaces"
)

// Claims are the verified claims of a gateway token. A *Claims returned by a
// Verifier is never mutated by this package; treat it as read-only.
type Claims struct {
	// Subject is the user id ("sub"), a non-empty string.
	Subject string
	// WorkspaceID is the user's home workspace ("workspaceId"), a non-empty string.
	WorkspaceID string
	// Role is the "role" claim; DefaultRole when the token has none. It is kept
	// as issued, so an empty role stays empty and the policy grants it nothing.
	Role string
	// Workspaces are further workspace ids the user belongs to ("workspaces").
	Workspaces []string
	// ExpiresAt is the token's "exp", always set on verified claims.
	ExpiresAt time.Time
}

// BelongsTo reports whether the user is a member of workspaceID, through the
// workspaceId claim or the workspaces claim. An empty id belongs to no one.
func (c *Claims) BelongsTo(workspaceID string) bool {
	if c == nil || workspaceID == "" {
		return false
	}
	return c.WorkspaceID == workspaceID || slices.Contains(c.Workspaces, workspaceID)
}

// errClaim is the cause of an INVALID_TOKEN for a claim of the wrong shape.
var errClaim = errors.New("security: invalid claim")

// claimsFromMap checks the gateway's own claims in an already signature- and
// time-verified token and copies them out. The registered claims (exp, nbf,
// iss, aud) have been checked by the jwt parser.
func claimsFromMap(m jwt.MapClaims) (*Claims, error) {
	c := &Claims{Role: DefaultRole}

	var err error
	if c.Subject, err = requiredString(m, claimSubject); err != nil {
		return nil, err
	}
	if c.WorkspaceID, err = requiredString(m, claimWorkspaceID); err != nil {
		return nil, err
	}

	// A JSON null is treated as an absent optional claim.
	if v, ok := m[claimRole]; ok && v != nil {
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%w: %q must be a string", errClaim, claimRole)
		}
		c.Role = s
	}
	if v, ok := m[claimWorkspaces]; ok && v != nil {
		list, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%w: %q must be an array of strings", errClaim, claimWorkspaces)
		}
		c.Workspaces = make([]string, 0, len(list))
		for _, item := range list {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%w: %q must be an array of strings", errClaim, claimWorkspaces)
			}
			c.Workspaces = append(c.Workspaces, s)
		}
	}

	exp, err := m.GetExpirationTime()
	if err != nil || exp == nil {
		// Unreachable after jwt.WithExpirationRequired, kept as a guard.
		return nil, fmt.Errorf("%w: %q is required", errClaim, "exp")
	}
	c.ExpiresAt = exp.Time
	return c, nil
}

func requiredString(m jwt.MapClaims, name string) (string, error) {
	s, ok := m[name].(string)
	if !ok || s == "" {
		return "", fmt.Errorf("%w: %q must be a non-empty string", errClaim, name)
	}
	return s, nil
}
