package security

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hyvve/gateway/messages"
)

// MaxRoomNameBytes is the longest room name, in bytes (not characters).
const MaxRoomNameBytes = 200

// Room name parts (docs/PROTOCOL.md "Rooms").
const (
	roomUserPrefix      = "user:"
	roomWorkspacePrefix = "workspace:"

	// ChannelDashboard is the channel of workspace:{id}:dashboard.
	ChannelDashboard = "dashboard"
	// ChannelApprovals is the channel of workspace:{id}:approvals.
	ChannelApprovals = "approvals"
)

// RoomKind says which access rule a room follows.
type RoomKind int

// Room kinds. The zero RoomKind is no kind, so a zero Room admits no one.
const (
	// RoomWorkspace is workspace:{id}:{channel}: members of workspace id.
	RoomWorkspace RoomKind = iota + 1
	// RoomUser is user:{sub}: only the user sub.
	RoomUser
)

// String returns "workspace", "user" or "invalid".
func (k RoomKind) String() string {
	switch k {
	case RoomWorkspace:
		return "workspace"
	case RoomUser:
		return "user"
	default:
		return "invalid"
	}
}

// Room is a parsed room name. Build one with ParseRoom; a Room literal is
// only as valid as its fields.
type Room struct {
	// Name is the full room name as given.
	Name string
	// Kind is RoomWorkspace or RoomUser.
	Kind RoomKind
	// WorkspaceID is the workspace of a RoomWorkspace room.
	WorkspaceID string
	// Channel is ChannelDashboard or ChannelApprovals for a RoomWorkspace room.
	Channel string
	// UserID is the user (sub) of a RoomUser room.
	UserID string
}

// ParseRoom parses a room name. Only workspace:{id}:dashboard,
// workspace:{id}:approvals and user:{sub} exist; anything else, a name over
// MaxRoomNameBytes, an empty id or sub, a workspace id containing ':', and
// names with control characters or invalid UTF-8 are INVALID_ROOM. A sub may
// contain ':' (user:{sub} is unambiguous and some issuers use URN subjects).
func ParseRoom(name string) (Room, error) {
	if name == "" || len(name) > MaxRoomNameBytes || !printable(name) {
		return Room{}, messages.NewError(messages.CodeInvalidRoom)
	}
	if sub, ok := strings.CutPrefix(name, roomUserPrefix); ok {
		if sub == "" {
			return Room{}, messages.NewError(messages.CodeInvalidRoom)
		}
		return Room{Name: name, Kind: RoomUser, UserID: sub}, nil
	}
	if rest, ok := strings.CutPrefix(name, roomWorkspacePrefix); ok {
		id, channel, ok := strings.Cut(rest, ":")
		if !ok || id == "" || (channel != ChannelDashboard && channel != ChannelApprovals) {
			return Room{}, messages.NewError(messages.CodeInvalidRoom)
		}
		return Room{Name: name, Kind: RoomWorkspace, WorkspaceID: id, Channel: channel}, nil
	}
	return Room{}, messages.NewError(messages.CodeInvalidRoom)
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// CanJoin reports (as nil) whether the user of c may join r: a workspace
// room needs membership of its workspace (workspaceId or workspaces claim),
// a user room must be the user's own. Anything else is ACCESS_DENIED; no room
// is open to everyone.
func CanJoin(c *Claims, r Room) error {
	if c != nil {
		switch r.Kind {
		case RoomWorkspace:
			if c.BelongsTo(r.WorkspaceID) {
				return nil
			}
		case RoomUser:
			if r.UserID != "" && r.UserID == c.Subject {
				return nil
			}
		}
	}
	return messages.NewError(messages.CodeAccessDenied)
}

// UserRoom returns the name of sub's own room, "user:" + sub.
func UserRoom(sub string) string { return roomUserPrefix + sub }

// DashboardRoom returns "workspace:{id}:dashboard".
func DashboardRoom(workspaceID string) string {
	return roomWorkspacePrefix + workspaceID + ":" + ChannelDashboard
}

// ApprovalsRoom returns "workspace:{id}:approvals".
func ApprovalsRoom(workspaceID string) string {
	return roomWorkspacePrefix + workspaceID + ":" + ChannelApprovals
}
