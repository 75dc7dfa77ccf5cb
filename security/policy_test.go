package security

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultPolicy(t *testing.T) {
	p := DefaultPolicy()
	tests := []struct {
		role, action string
		want         bool
	}{
		{"owner", "approve", true},
		{"owner", "admin.delete", true},
		{"admin", "admin.delete", true},
		{"admin", "anything", true},
		{"member", "approve", true},
		{"member", "reports.export", true},
		{"member", "admin.delete", false},
		{"member", "admin.", false},
		{"member", "admin", true}, // not "admin." prefixed
		{"member", "administer", true},
		{"viewer", "approve", false},
		{"viewer", "admin.delete", false},
		{"guest", "approve", false},
		{"", "approve", false},
		{"Owner", "approve", false}, // roles are case-sensitive
		{"owner", "", false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.role, tt.action); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.role, tt.action, got, tt.want)
		}
	}
	var nilPolicy *Policy
	if nilPolicy.Allows("owner", "x") {
		t.Error("nil policy allows")
	}
}

func writePolicy(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rbac.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadPolicy(t *testing.T) {
	path := writePolicy(t, `{"roles": {
		"owner": ["*"],
		"editor": ["reports.*", "approve"],
		"auditor": ["audit.log.*"],
		"nobody": [],
		"nulled": null
	}}`)
	p, err := LoadPolicy(path)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		role, action string
		want         bool
	}{
		{"owner", "anything", true},
		{"owner", "admin.delete", true},
		{"editor", "approve", true},
		{"editor", "approve.all", false}, // exact match only
		{"editor", "reports.export", true},
		{"editor", "reports.", true},
		{"editor", "reports", false}, // "prefix.*" needs the dot
		{"editor", "reportsx", false},
		{"auditor", "audit.log.read", true},
		{"auditor", "audit.read", false},
		{"nobody", "approve", false},
		{"nulled", "approve", false},
		{"member", "approve", false}, // absent from the file: nothing
		{"admin", "approve", false},
	}
	for _, tt := range tests {
		if got := p.Allows(tt.role, tt.action); got != tt.want {
			t.Errorf("Allows(%q, %q) = %v, want %v", tt.role, tt.action, got, tt.want)
		}
	}
}

func TestLoadPolicyErrors(t *testing.T) {
	tests := []struct {
		name    string
		content string // "" with missing means no file
		missing bool
		want    string
	}{
		{"missing file", "", true, "no such file"},
		{"empty file", "", false, "invalid policy JSON"},
		{"not JSON", "roles: owner", false, "invalid policy JSON"},
		{"truncated", `{"roles": {"owner": ["*"]}`, false, "invalid policy JSON"},
		{"no roles", `{}`, false, `missing "roles"`},
		{"roles null", `{"roles": null}`, false, `missing "roles"`},
		{"unknown key", `{"roles": {}, "rules": {}}`, false, "unknown field"},
		{"misspelt roles", `{"role": {"owner": ["*"]}}`, false, "unknown field"},
		{"roles is a list", `{"roles": ["owner"]}`, false, "invalid policy JSON"},
		{"actions not a list", `{"roles": {"owner": "*"}}`, false, "invalid policy JSON"},
		{"action not a string", `{"roles": {"owner": [1]}}`, false, "invalid policy JSON"},
		{"empty action", `{"roles": {"owner": [""]}}`, false, "invalid action pattern"},
		{"star in the middle", `{"roles": {"owner": ["a*b"]}}`, false, "invalid action pattern"},
		{"star without dot", `{"roles": {"owner": ["admin*"]}}`, false, "invalid action pattern"},
		{"bare dot star", `{"roles": {"owner": [".*"]}}`, false, "invalid action pattern"},
		{"two stars", `{"roles": {"owner": ["a.*.*"]}}`, false, "invalid action pattern"},
		{"empty role", `{"roles": {"": ["*"]}}`, false, "empty role"},
		{"trailing data", `{"roles": {}} {}`, false, "data after"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "absent.json")
			if !tt.missing {
				path = writePolicy(t, tt.content)
			}
			p, err := LoadPolicy(path)
			if err == nil {
				t.Fatalf("LoadPolicy succeeded: %+v", p)
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %q, want it to name %s and contain %q", err, path, tt.want)
			}
		})
	}
	if _, err := LoadPolicy(writePolicy(t, `{"roles": {}}`)); err != nil {
		t.Fatalf("deny-all policy refused: %v", err)
	}
}
