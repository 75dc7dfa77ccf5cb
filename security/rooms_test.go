package security

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hyvve/gateway/messages"
)

func TestParseRoom(t *testing.T) {
	// "workspace:" + id + ":dashboard" is 20 bytes plus the id.
	id180 := strings.Repeat("é", 90)  // 180 bytes, 90 characters
	id181 := id180 + "x"              // 181 bytes
	euro := strings.Repeat("€", 100)  // 300 bytes, 100 characters
	sub194 := strings.Repeat("ü", 97) // 194 bytes; "user:" + it + "a" = 200
	tests := []struct {
		name string
		in   string
		want Room // zero for INVALID_ROOM
	}{
		{"dashboard", "workspace:ws-1:dashboard", Room{Name: "workspace:ws-1:dashboard", Kind: RoomWorkspace, WorkspaceID: "ws-1", Channel: ChannelDashboard}},
		{"approvals", "workspace:ws-1:approvals", Room{Name: "workspace:ws-1:approvals", Kind: RoomWorkspace, WorkspaceID: "ws-1", Channel: ChannelApprovals}},
		{"user", "user:u-1", Room{Name: "user:u-1", Kind: RoomUser, UserID: "u-1"}},
		{"user sub with colon", "user:urn:u:1", Room{Name: "user:urn:u:1", Kind: RoomUser, UserID: "urn:u:1"}},
		{"multibyte id", "workspace:日本:dashboard", Room{Name: "workspace:日本:dashboard", Kind: RoomWorkspace, WorkspaceID: "日本", Channel: ChannelDashboard}},
		{"200 bytes multibyte", "workspace:" + id180 + ":dashboard", Room{Name: "workspace:" + id180 + ":dashboard", Kind: RoomWorkspace, WorkspaceID: id180, Channel: ChannelDashboard}},
		{"201 bytes multibyte", "workspace:" + id181 + ":dashboard", Room{}},
		{"user 200 bytes", "user:" + sub194 + "a", Room{Name: "user:" + sub194 + "a", Kind: RoomUser, UserID: sub194 + "a"}},
		{"user 201 bytes", "user:" + sub194 + "ab", Room{}},
		{"few characters but over 200 bytes", "workspace:" + euro + ":dashboard", Room{}},
		{"empty", "", Room{}},
		{"empty workspace id", "workspace::dashboard", Room{}},
		{"colon in workspace id", "workspace:a:b:dashboard", Room{}},
		{"colon in workspace id (approvals)", "workspace:a:approvals:approvals", Room{}},
		{"unknown channel", "workspace:ws-1:chat", Room{}},
		{"no channel", "workspace:ws-1", Room{}},
		{"trailing colon", "workspace:ws-1:dashboard:", Room{}},
		{"channel case", "workspace:ws-1:Dashboard", Room{}},
		{"empty sub", "user:", Room{}},
		{"bare user", "user", Room{}},
		{"prefix case", "User:u-1", Room{}},
		{"public room", "lobby", Room{}},
		{"broadcast", "*", Room{}},
		{"leading space", " user:u-1", Room{}},
		{"control character", "user:u\n1", Room{}},
		{"NUL", "workspace:w\x00:dashboard", Room{}},
		{"invalid UTF-8", "user:\xff", Room{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseRoom(tt.in)
			if tt.want == (Room{}) {
				if code(err) != messages.CodeInvalidRoom {
					t.Fatalf("ParseRoom(%q) = %+v, %v; want INVALID_ROOM", tt.in, got, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseRoom(%q): %v (%d bytes, %d chars)", tt.in, err, len(tt.in), utf8.RuneCountInString(tt.in))
			}
			if got != tt.want {
				t.Fatalf("ParseRoom(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestCanJoin(t *testing.T) {
	alice := &Claims{Subject: "alice", WorkspaceID: "ws-1", Workspaces: []string{"ws-2"}, Role: "member"}
	tests := []struct {
		name   string
		claims *Claims
		room   string
		ok     bool
	}{
		{"own workspace dashboard", alice, "workspace:ws-1:dashboard", true},
		{"own workspace approvals", alice, "workspace:ws-1:approvals", true},
		{"other workspace via workspaces claim", alice, "workspace:ws-2:dashboard", true},
		{"foreign workspace", alice, "workspace:ws-3:dashboard", false},
		{"own user room", alice, "user:alice", true},
		{"other user's room", alice, "user:bob", false},
		{"user room named like a workspace", alice, "user:ws-1", false},
		{"no claims", nil, "workspace:ws-1:dashboard", false},
		{"no claims user room", nil, "user:alice", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := ParseRoom(tt.room)
			if err != nil {
				t.Fatal(err)
			}
			err = CanJoin(tt.claims, r)
			if tt.ok && err != nil {
				t.Fatalf("CanJoin: %v", err)
			}
			if !tt.ok && code(err) != messages.CodeAccessDenied {
				t.Fatalf("CanJoin = %v, want ACCESS_DENIED", err)
			}
		})
	}
	if err := CanJoin(alice, Room{}); code(err) != messages.CodeAccessDenied {
		t.Errorf("zero Room: %v, want ACCESS_DENIED", err)
	}
	if err := CanJoin(&Claims{}, Room{Kind: RoomUser}); code(err) != messages.CodeAccessDenied {
		t.Errorf("empty subject, empty user room: %v, want ACCESS_DENIED", err)
	}
}

func TestRoomNames(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{UserRoom("u-1"), "user:u-1"},
		{DashboardRoom("ws-1"), "workspace:ws-1:dashboard"},
		{ApprovalsRoom("ws-1"), "workspace:ws-1:approvals"},
	} {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
		if _, err := ParseRoom(tt.got); err != nil {
			t.Errorf("ParseRoom(%q): %v", tt.got, err)
		}
	}
	for k, want := range map[RoomKind]string{RoomWorkspace: "workspace", RoomUser: "user", 0: "invalid"} {
		if k.String() != want {
			t.Errorf("RoomKind(%d).String() = %q, want %q", k, k.String(), want)
		}
	}
}
