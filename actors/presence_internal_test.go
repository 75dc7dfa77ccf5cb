package actors

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPresenceSetRules: the join/leave/last-session rules, step by step.
func TestPresenceSetRules(t *testing.T) {
	type step struct {
		op         string // join, leave, keep, drop, remote, gone
		user, sid  string
		token      any
		node       string
		n          int
		wantJoin   bool // the user became present
		wantLeave  bool // the user is no longer present
		wantTotal  int  // users present afterwards
		wantSesses int  // the user's sessions afterwards
	}
	t1, t2 := new(int), new(int)
	tests := []struct {
		name  string
		steps []step
	}{
		{"two tabs count once", []step{
			{op: "join", user: "a", sid: "s1", wantJoin: true, wantTotal: 1, wantSesses: 1},
			{op: "join", user: "a", sid: "s2", wantTotal: 1, wantSesses: 2},
			{op: "leave", user: "a", sid: "s1", wantTotal: 1, wantSesses: 1},
			{op: "leave", user: "a", sid: "s2", wantLeave: true, wantTotal: 0},
		}},
		{"a kept session is present; its recovery is neither", []step{
			{op: "join", user: "a", sid: "s1", wantJoin: true, wantTotal: 1, wantSesses: 1},
			{op: "keep", user: "a", sid: "s1", token: t1, wantTotal: 1, wantSesses: 1},
			{op: "join", user: "a", sid: "s1", wantTotal: 1, wantSesses: 1},
			{op: "drop", sid: "s1", token: t1, user: "a", wantTotal: 1, wantSesses: 1}, // recovered: nothing to drop
		}},
		{"a kept session that expires is a leave", []step{
			{op: "join", user: "a", sid: "s1", wantJoin: true, wantTotal: 1, wantSesses: 1},
			{op: "keep", user: "a", sid: "s1", token: t1, wantTotal: 1, wantSesses: 1},
			{op: "drop", sid: "s1", token: t1, user: "a", wantLeave: true, wantTotal: 0},
		}},
		{"a stale drop of an earlier keep does nothing", []step{
			{op: "join", user: "a", sid: "s1", wantJoin: true, wantTotal: 1, wantSesses: 1},
			{op: "keep", user: "a", sid: "s1", token: t1, wantTotal: 1, wantSesses: 1},
			{op: "join", user: "a", sid: "s1", wantTotal: 1, wantSesses: 1},
			{op: "keep", user: "a", sid: "s1", token: t2, wantTotal: 1, wantSesses: 1},
			{op: "drop", sid: "s1", token: t1, user: "a", wantTotal: 1, wantSesses: 1},
			{op: "drop", sid: "s1", token: t2, user: "a", wantLeave: true, wantTotal: 0},
		}},
		{"another node's sessions keep a user present", []step{
			{op: "remote", node: "n2", user: "a", n: 1, wantJoin: true, wantTotal: 1, wantSesses: 1},
			{op: "join", user: "a", sid: "s1", wantTotal: 1, wantSesses: 2},
			{op: "leave", user: "a", sid: "s1", wantTotal: 1, wantSesses: 1},
			{op: "remote", node: "n2", user: "a", n: 0, wantLeave: true, wantTotal: 0},
		}},
		{"a gone node's users leave unless present elsewhere", []step{
			{op: "remote", node: "n2", user: "a", n: 2, wantJoin: true, wantTotal: 1, wantSesses: 2},
			{op: "remote", node: "n3", user: "b", n: 1, wantJoin: true, wantTotal: 2, wantSesses: 1},
			{op: "join", user: "a", sid: "s1", wantTotal: 2, wantSesses: 3},
			{op: "gone", node: "n2", user: "a", wantTotal: 2, wantSesses: 1},
			{op: "gone", node: "n3", user: "b", wantLeave: true, wantTotal: 1},
		}},
		{"a leave of a user never counted does nothing", []step{
			{op: "leave", user: "z", wantTotal: 0},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p presenceSet
			for i, s := range tt.steps {
				var joined, left bool
				switch s.op {
				case "join":
					joined = p.join(s.user, s.sid)
				case "leave":
					left = p.leave(s.user)
				case "keep":
					p.keep(s.user, s.sid, s.token)
				case "drop":
					var u string
					u, left = p.drop(s.sid, s.token)
					if left && u != s.user {
						t.Fatalf("step %d: drop's user %q", i, u)
					}
				case "remote":
					joined, left = p.setRemote(s.node, s.user, s.n)
				case "gone":
					j, l := p.replaceRemote(s.node, nil)
					joined, left = slices.Contains(j, s.user), slices.Contains(l, s.user)
				}
				if joined != s.wantJoin || left != s.wantLeave {
					t.Fatalf("step %d %s %s: joined %v left %v, want %v %v", i, s.op, s.user, joined, left, s.wantJoin, s.wantLeave)
				}
				if got := len(p.present()); got != s.wantTotal || p.count() != s.wantTotal {
					t.Fatalf("step %d: %d present, want %d", i, got, s.wantTotal)
				}
				if got := p.total(s.user); got != s.wantSesses {
					t.Fatalf("step %d: %s has %d sessions, want %d", i, s.user, got, s.wantSesses)
				}
			}
		})
	}
}

// TestPresenceSetChurn: random joins, leaves, keeps, recoveries, expiries
// and remote reports against a plain model; every join and leave the set
// reports is a real transition of the model, and none is missed.
func TestPresenceSetChurn(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	users := []string{"a", "b", "c", "d"}
	nodes := []string{"n2", "n3"}
	type sess struct {
		user  string
		kept  bool
		token *int
	}
	var p presenceSet
	live := map[string]*sess{} // sid → session here
	remote := map[string]map[string]int{}
	sessions := func(user string) int {
		n := 0
		for _, s := range live {
			if s.user == user {
				n++
			}
		}
		for _, us := range remote {
			n += us[user]
		}
		return n
	}
	nextSID := 0
	for i := range 20000 {
		before := map[string]int{}
		for _, u := range users {
			before[u] = sessions(u)
		}
		var joined, left []string
		switch op := rng.IntN(6); {
		case op == 0: // a new session joins
			nextSID++
			sid := "s" + string(rune('A'+nextSID%26)) + string(rune('0'+nextSID/26%10)) + string(rune('0'+nextSID/260))
			u := users[rng.IntN(len(users))]
			live[sid] = &sess{user: u}
			if p.join(u, sid) {
				joined = append(joined, u)
			}
		case op == 1 || op == 2: // a session leaves (unrecoverably) or is kept, or a kept one recovers or expires
			for sid, s := range live {
				switch {
				case !s.kept && op == 1:
					delete(live, sid)
					if p.leave(s.user) {
						left = append(left, s.user)
					}
				case !s.kept:
					s.kept, s.token = true, new(int)
					p.keep(s.user, sid, s.token)
				case op == 1: // recovered
					s.kept = false
					if p.join(s.user, sid) {
						joined = append(joined, s.user)
					}
					if u, gone := p.drop(sid, s.token); u != "" || gone {
						t.Fatalf("op %d: a recovered session's drop did something", i)
					}
				default: // its window ran out
					delete(live, sid)
					if u, gone := p.drop(sid, s.token); gone {
						left = append(left, u)
					}
				}
				break
			}
		case op == 3 || op == 4: // another node reports a count
			n, u, c := nodes[rng.IntN(len(nodes))], users[rng.IntN(len(users))], rng.IntN(3)
			if remote[n] == nil {
				remote[n] = map[string]int{}
			}
			if c == 0 {
				delete(remote[n], u)
			} else {
				remote[n][u] = c
			}
			j, l := p.setRemote(n, u, c)
			if j {
				joined = append(joined, u)
			}
			if l {
				left = append(left, u)
			}
		default: // a node is gone
			n := nodes[rng.IntN(len(nodes))]
			delete(remote, n)
			joined, left = p.replaceRemote(n, nil)
		}
		for _, u := range users {
			now := sessions(u)
			if got := p.total(u); got != now {
				t.Fatalf("op %d: %s has %d sessions, model %d", i, u, got, now)
			}
			wantJoin, wantLeave := before[u] == 0 && now > 0, before[u] > 0 && now == 0
			if slices.Contains(joined, u) != wantJoin || slices.Contains(left, u) != wantLeave {
				t.Fatalf("op %d: %s %d→%d sessions; joined %v left %v", i, u, before[u], now, joined, left)
			}
		}
	}
}

// TestPresenceBody: sorted, truncated past the limit, total counts all.
func TestPresenceBody(t *testing.T) {
	var p presenceSet
	for _, u := range []string{"c", "a", "b"} {
		p.join(u, "s-"+u)
	}
	p.join("a", "s-a2")
	tests := []struct {
		max  int
		want string
	}{
		{10, `{"room":"r","users":[{"userId":"a","sessions":2},{"userId":"b","sessions":1},{"userId":"c","sessions":1}],"total":3}`},
		{2, `{"room":"r","users":[{"userId":"a","sessions":2},{"userId":"b","sessions":1}],"total":3,"truncated":true}`},
		{3, `{"room":"r","users":[{"userId":"a","sessions":2},{"userId":"b","sessions":1},{"userId":"c","sessions":1}],"total":3}`},
	}
	for _, tt := range tests {
		if got := string(presenceBody("r", p.present(), tt.max)); got != tt.want {
			t.Errorf("max %d:\n got %s\nwant %s", tt.max, got, tt.want)
		}
	}
	if got := string(presenceBody("r", nil, 5)); got != `{"room":"r","users":[],"total":0}` {
		t.Errorf("empty: %s", got)
	}
}
