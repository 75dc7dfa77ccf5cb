package actors

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// presenceSet is who is present in one room (docs/PROTOCOL.md "Presence"):
// per user, the sessions here (live members and sessions kept for recovery)
// and, clustered, the sessions each other node hosting the room reported.
// A user is present while the sum is positive. Its methods report the
// transitions of that sum across zero, which are the presence_join and
// presence_leave events. Owned by one room actor; not safe for concurrent use.
type presenceSet struct {
	local  map[string]int            // user → sessions on this node
	kept   map[string]keptSession    // sid → a session kept for recovery, counted in local
	remote map[string]map[string]int // node → user → sessions there
}

// keptSession is a session of a member that ended for a recoverable reason:
// its user stays present until the session is recovered (the same sid joins
// again) or dropped. token tells this keep from a later one of the same sid.
type keptSession struct {
	user  string
	token any
	since time.Time // when it was kept: a keep outliving its window is stale (keptBefore)
}

// total is user's sessions, everywhere.
func (p *presenceSet) total(user string) int {
	n := p.local[user]
	for _, users := range p.remote {
		n += users[user]
	}
	return n
}

// join counts a session of user joining here; it reports whether the user
// became present. A kept session of the same sid is taken over, not counted
// twice: a recovery is not a join.
func (p *presenceSet) join(user, sid string) (became bool) {
	if k, ok := p.kept[sid]; ok && k.user == user && sid != "" {
		delete(p.kept, sid)
		return false
	}
	if p.local == nil {
		p.local = map[string]int{}
	}
	p.local[user]++
	return p.total(user) == 1
}

// leave uncounts a session of user; it reports whether the user is no
// longer present.
func (p *presenceSet) leave(user string) (gone bool) {
	n, ok := p.local[user]
	if !ok {
		return false
	}
	if n <= 1 {
		delete(p.local, user)
	} else {
		p.local[user] = n - 1
	}
	return p.total(user) == 0
}

// keep turns a member that ended recoverably into a kept session: still
// counted, until drop with the same token or a join of the same sid.
func (p *presenceSet) keep(user, sid string, token any) {
	if p.kept == nil {
		p.kept = map[string]keptSession{}
	}
	if old, ok := p.kept[sid]; ok {
		p.leave(old.user) // cannot happen with unique sids; never leak a count
	}
	p.kept[sid] = keptSession{user: user, token: token, since: time.Now()}
}

// keptBefore lists the kept sessions kept before t, with their tokens: a
// room drops those whose session never said it ended (the message lost with
// an actor's failure, or the room missing from the session's list because
// it ended before its join was confirmed), so no keep outlives its window
// by much.
func (p *presenceSet) keptBefore(t time.Time) (sids []string, tokens []any) {
	for sid, k := range p.kept {
		if k.since.Before(t) {
			sids, tokens = append(sids, sid), append(tokens, k.token)
		}
	}
	return sids, tokens
}

// drop ends a kept session (its window ran out, or it was recovered and is
// done): it returns its user and whether the user is no longer present.
// A drop of another keep of the sid (token differs) does nothing.
func (p *presenceSet) drop(sid string, token any) (user string, gone bool) {
	k, ok := p.kept[sid]
	if !ok || k.token != token {
		return "", false
	}
	delete(p.kept, sid)
	return k.user, p.leave(k.user)
}

// keptLen is how many kept sessions hold the room.
func (p *presenceSet) keptLen() int { return len(p.kept) }

// setRemote records that node hosts n sessions of user; it reports whether
// the user became present (joined) or is no longer present (left).
func (p *presenceSet) setRemote(node, user string, n int) (joined, left bool) {
	before := p.total(user) > 0
	users := p.remote[node]
	if n > 0 {
		if users == nil {
			if p.remote == nil {
				p.remote = map[string]map[string]int{}
			}
			users = map[string]int{}
			p.remote[node] = users
		}
		users[user] = n
	} else if users != nil {
		delete(users, user)
		if len(users) == 0 {
			delete(p.remote, node)
		}
	}
	after := p.total(user) > 0
	return !before && after, before && !after
}

// replaceRemote sets node's whole report (nil: the node is gone) and returns
// the users who became present and those no longer present, each sorted.
func (p *presenceSet) replaceRemote(node string, users map[string]int) (joined, left []string) {
	for user := range p.remote[node] {
		if _, still := users[user]; !still {
			if _, l := p.setRemote(node, user, 0); l {
				left = append(left, user)
			}
		}
	}
	for user, n := range users {
		if j, l := p.setRemote(node, user, n); j {
			joined = append(joined, user)
		} else if l {
			left = append(left, user)
		}
	}
	slices.Sort(joined)
	slices.Sort(left)
	return joined, left
}

// userSessions is one entry of a presence answer.
type userSessions struct {
	UserID   string `json:"userId"`
	Sessions int    `json:"sessions"`
}

// present lists every present user with their sessions, sorted by user id.
func (p *presenceSet) present() []userSessions {
	all := map[string]int{}
	for u, n := range p.local {
		all[u] += n
	}
	for _, users := range p.remote {
		for u, n := range users {
			all[u] += n
		}
	}
	list := make([]userSessions, 0, len(all))
	for u, n := range all {
		list = append(list, userSessions{UserID: u, Sessions: n})
	}
	slices.SortFunc(list, func(a, b userSessions) int { return strings.Compare(a.UserID, b.UserID) })
	return list
}

// count is how many users are present (the operator console's figure).
func (p *presenceSet) count() int {
	if len(p.remote) == 0 {
		return len(p.local)
	}
	return len(p.present())
}

// presenceBody is the presence ack and GET /v1/presence body: at most max
// users listed, "truncated" past it.
func presenceBody(room string, users []userSessions, max int) json.RawMessage {
	body := struct {
		Room      string         `json:"room"`
		Users     []userSessions `json:"users"`
		Total     int            `json:"total"`
		Truncated bool           `json:"truncated,omitempty"`
	}{Room: room, Users: users, Total: len(users)}
	if body.Users == nil {
		body.Users = []userSessions{}
	}
	if max > 0 && len(users) > max {
		body.Users, body.Truncated = users[:max], true
	}
	b, _ := json.Marshal(body)
	return b
}

// presenceEventBody is the data of presence_join and presence_leave.
func presenceEventBody(room, user string) json.RawMessage {
	b, _ := json.Marshal(struct {
		Room   string `json:"room"`
		UserID string `json:"userId"`
	}{room, user})
	return b
}
