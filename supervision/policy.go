package supervision

import (
	"net/url"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Kind names a kind of actor; it is the label of the supervision metrics and
// the "kind" of a fault injection.
type Kind string

// Actor kinds.
const (
	KindConnection  Kind = "connection"
	KindRoom        Kind = "room"
	KindRateLimiter Kind = "ratelimiter"
	KindIPLimiter   Kind = "iplimiter"
	KindWorkspace   Kind = "workspace"
	KindUsers       Kind = "users"
	KindIPs         Kind = "ips"
	KindGateway     Kind = "gateway"
	KindSession     Kind = "session"
	KindUnknown     Kind = "unknown"
)

// Policy is how a kind of actor is supervised by its parent.
type Policy struct {
	Kind Kind
	// Directive is applied when the actor panics.
	Directive actor.Directive
	// MaxRestarts within Within is the restart budget; one more failure in
	// that window stops the actor instead.
	MaxRestarts int
	Within      time.Duration
}

// Restart budgets, named.
const (
	roomRestartBudget    = 3
	roomRestartWindow    = 10 * time.Second
	limiterRestartBudget = 10
	limiterRestartWindow = time.Minute
)

// Policies lists the policy of every kind.
var Policies = map[Kind]Policy{
	KindConnection:  {Kind: KindConnection, Directive: actor.StopDirective},
	KindRoom:        {Kind: KindRoom, Directive: actor.RestartDirective, MaxRestarts: roomRestartBudget, Within: roomRestartWindow},
	KindRateLimiter: {Kind: KindRateLimiter, Directive: actor.RestartDirective, MaxRestarts: limiterRestartBudget, Within: limiterRestartWindow},
	KindIPLimiter:   {Kind: KindIPLimiter, Directive: actor.RestartDirective, MaxRestarts: limiterRestartBudget, Within: limiterRestartWindow},
	KindWorkspace:   {Kind: KindWorkspace, Directive: actor.ResumeDirective},
	KindUsers:       {Kind: KindUsers, Directive: actor.ResumeDirective},
	KindIPs:         {Kind: KindIPs, Directive: actor.ResumeDirective},
	KindGateway:     {Kind: KindGateway, Directive: actor.ResumeDirective},
	// A detached session that fails is gone: its client gets a fresh session.
	KindSession: {Kind: KindSession, Directive: actor.StopDirective},
}

// Actor name prefixes, shared with the actors package, which names its
// actors with them so the kind of any PID can be told from its id.
const (
	PrefixConnection = "conn:"
	PrefixRoom       = "room:"
	PrefixIPLimiter  = "ip:"
	PrefixWorkspace  = "workspace:"
	PrefixSession    = "session:"
	NameRateLimiter  = "limiter"
	NameUsers        = "users"
	NameIPs          = "ips"
	NameGateway      = "gateway"
)

// ChildName is the actor name of the child with the given prefix and raw
// name (a room name, workspace id or IP). The raw name is path-escaped so the
// actor id's last '/'-separated segment is always the child's own name.
func ChildName(prefix, raw string) string { return prefix + url.PathEscape(raw) }

// KindOf tells an actor's kind from its PID id (the last path segment).
func KindOf(pid *actor.PID) Kind {
	if pid == nil {
		return KindUnknown
	}
	id := pid.Id
	if i := strings.LastIndexByte(id, '/'); i >= 0 {
		id = id[i+1:]
	}
	switch {
	case strings.HasPrefix(id, PrefixConnection):
		return KindConnection
	case strings.HasPrefix(id, PrefixRoom):
		return KindRoom
	case strings.HasPrefix(id, PrefixIPLimiter):
		return KindIPLimiter
	case strings.HasPrefix(id, PrefixWorkspace):
		return KindWorkspace
	case strings.HasPrefix(id, PrefixSession):
		return KindSession
	case id == NameRateLimiter:
		return KindRateLimiter
	case id == NameUsers:
		return KindUsers
	case id == NameIPs:
		return KindIPs
	case id == NameGateway:
		return KindGateway
	}
	return KindUnknown
}
