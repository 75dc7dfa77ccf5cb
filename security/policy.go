package security

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// Roles of the default policy.
const (
	// RoleOwner may perform any action.
	RoleOwner = "owner"
	// RoleAdmin may perform any action.
	RoleAdmin = "admin"
	// RoleMember may perform any action not starting with "admin.".
	RoleMember = "member"
	// RoleViewer may perform no action.
	RoleViewer = "viewer"
)

// adminActionPrefix marks the actions the default policy keeps from members.
const adminActionPrefix = "admin."

// maxPolicyFileBytes bounds the policy file LoadPolicy reads.
const maxPolicyFileBytes = 1 << 20

// Policy says which role may perform which dashboard_action. A Policy is
// immutable after construction and safe for concurrent use.
type Policy struct {
	roles map[string]rule
}

// rule is what one role may do.
type rule struct {
	all      bool                // "*"
	exact    map[string]struct{} // "action"
	prefixes []string            // "prefix.*" stored as "prefix."
	except   []string            // prefixes denied even when all is set (default policy only)
}

func (r rule) allows(action string) bool {
	for _, p := range r.except {
		if strings.HasPrefix(action, p) {
			return false
		}
	}
	if r.all {
		return true
	}
	if _, ok := r.exact[action]; ok {
		return true
	}
	for _, p := range r.prefixes {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// DefaultPolicy is the policy without RBAC_POLICY_FILE: owner and admin may
// do any action, member any action not starting with "admin.", viewer and
// unknown roles none.
func DefaultPolicy() *Policy {
	return &Policy{roles: map[string]rule{
		RoleOwner:  {all: true},
		RoleAdmin:  {all: true},
		RoleMember: {all: true, except: []string{adminActionPrefix}},
	}}
}

// LoadPolicy reads a policy file (RBAC_POLICY_FILE) that replaces the
// default: JSON {"roles": {"role": ["action", "prefix.*", "*"]}}. "prefix.*"
// matches actions starting with "prefix."; "*" matches every action; any
// other entry matches itself. Roles absent from the file may do nothing. An
// unreadable file, invalid JSON, unknown keys, a missing "roles" object or a
// malformed entry is an error naming the path and the problem.
func LoadPolicy(path string) (*Policy, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("security: RBAC policy %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPolicyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("security: RBAC policy %s: %w", path, err)
	}
	if len(data) > maxPolicyFileBytes {
		return nil, fmt.Errorf("security: RBAC policy %s: larger than %d bytes", path, maxPolicyFileBytes)
	}
	p, err := parsePolicy(data)
	if err != nil {
		return nil, fmt.Errorf("security: RBAC policy %s: %w", path, err)
	}
	return p, nil
}

func parsePolicy(data []byte) (*Policy, error) {
	var doc struct {
		Roles *map[string][]string `json:"roles"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("invalid policy JSON (want {\"roles\": {\"role\": [\"action\", \"prefix.*\", \"*\"]}}): %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("invalid policy JSON: data after the policy object")
	}
	if doc.Roles == nil {
		return nil, errors.New(`missing "roles" object`)
	}
	p := &Policy{roles: make(map[string]rule, len(*doc.Roles))}
	for role, patterns := range *doc.Roles {
		if role == "" {
			return nil, errors.New("empty role name")
		}
		r := rule{exact: map[string]struct{}{}}
		for _, pat := range patterns {
			switch {
			case pat == "*":
				r.all = true
			case strings.HasSuffix(pat, ".*") && len(pat) > 2 && !strings.Contains(pat[:len(pat)-2], "*"):
				r.prefixes = append(r.prefixes, pat[:len(pat)-1])
			case pat != "" && !strings.Contains(pat, "*"):
				r.exact[pat] = struct{}{}
			default:
				return nil, fmt.Errorf("role %q: invalid action pattern %q (want \"action\", \"prefix.*\" or \"*\")", role, pat)
			}
		}
		p.roles[role] = r
	}
	return p, nil
}

// Allows reports whether role may perform action. An empty action and a
// role the policy does not name are never allowed.
func (p *Policy) Allows(role, action string) bool {
	if p == nil || action == "" {
		return false
	}
	r, ok := p.roles[role]
	return ok && r.allows(action)
}
