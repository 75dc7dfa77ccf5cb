package actors

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/supervision"
)

// Recovery results, the values of ws_recoveries_total{result}.
const (
	recoveryRecovered = "recovered"
	recoveryExpired   = "expired" // the session was kept, but its window ran out
	recoveryUnknown   = "unknown" // no such session (never, long ago, or not recoverable)
	recoveryTooOld    = "too_old" // the history no longer reaches back to the offset
	recoveryDenied    = "denied"  // another sub or workspaceId than the session's
)

var recoveryResults = []string{recoveryRecovered, recoveryExpired, recoveryUnknown, recoveryTooOld, recoveryDenied}

// sessionRecord is what a session that ended for a recoverable reason
// leaves to be recovered: its ids, its owner and its rooms with the offset
// each was joined at. The pid is a secret: never in a log line, a metric or
// an error. The clustered store would keep it in a key-value bucket, written
// when the session's rooms change.
type sessionRecord struct {
	pid, sid         string
	sub, workspaceID string
	rooms            map[string]uint64
	// inBucket: written to the cluster's session bucket too (clustered.go),
	// so a recovery here reads it there first (another node may have
	// recovered and changed it since).
	inBucket bool
}

// roomNames lists the record's rooms.
func (r *sessionRecord) roomNames() []string {
	names := make([]string, 0, len(r.rooms))
	for name := range r.rooms {
		names = append(names, name)
	}
	return names
}

// detachSession hands a session over to be kept (connection → gateway →
// workspace, which spawns its detached-session actor). The connection has
// retained its rooms' history; the session releases it when it stops.
type detachSession struct{ rec *sessionRecord }

// takeSession asks a kept session for its record (recovering connection →
// detached session). Sub and WorkspaceID are the new token's.
type takeSession struct {
	sub, workspaceID string
	conn             *actor.PID
}

// sessionTaken answers takeSession: the session is the connection's now
// (detached session → connection). The session stays, holding its rooms'
// history, until the connection says sessionDone or ends.
type sessionTaken struct{ rec *sessionRecord }

// sessionRefused answers takeSession for another owner, or a session some
// other connection took already (detached session → connection).
type sessionRefused struct{ denied bool }

// sessionDone tells a taken session the recovery is over (connection →
// detached session): it stops.
type sessionDone struct{}

// sessionExpiry comes from a detached session's own timer when its window ends.
type sessionExpiry struct{}

// sessionActor is a detached session: a session kept for RECOVERY_WINDOW
// after its connection ended for a recoverable reason. It stops itself when
// the window ends, so expiry is a lifecycle event; it is found by pid
// through deps.sessions, written at its Started and Stopped.
type sessionActor struct {
	d        *deps
	rec      *sessionRecord
	deadline time.Time // the end of its window
	timer    *time.Timer
	taken    *actor.PID // the connection recovering it, until sessionDone
	expired  bool
}

func newSessionProps(d *deps, rec *sessionRecord) *actor.Props {
	return d.props(supervision.KindSession, rec.sid, func() actor.Actor { return &sessionActor{d: d, rec: rec} })
}

func (s *sessionActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		s.d.metrics.sessionsKept.Inc()
		s.d.sessions.register(s.rec.pid, ctx.Self())
		s.deadline = time.Now().Add(s.d.cfg.RecoveryWindow)
		s.arm(ctx)
	case *actor.Stopping:
		if s.timer != nil {
			s.timer.Stop()
		}
	case *actor.Stopped:
		s.d.sessions.unregister(s.rec.pid, ctx.Self(), s.expired)
		s.d.metrics.sessionsKept.Dec()
		s.d.history.release(s.rec.roomNames()...)
		if s.d.detached.CompareAndDelete(s.rec.sid, s.rec) {
			s.d.presenceGoneRooms(s.rec) // expired, or recovered and done: no longer kept
		}
	case *sessionExpiry:
		if s.taken == nil && !time.Now().Before(s.deadline) {
			s.expired = true
			ctx.Stop(ctx.Self())
		}
	case *takeSession:
		switch {
		case s.taken != nil:
			ctx.Send(m.conn, &sessionRefused{})
		case m.sub != s.rec.sub || m.workspaceID != s.rec.workspaceID:
			// A stolen pid: the session stays for its owner.
			ctx.Send(m.conn, &sessionRefused{denied: true})
		default:
			s.taken = m.conn
			s.timer.Stop()
			ctx.Watch(m.conn) // a recovery that dies half-way gives the session back
			ctx.Send(m.conn, &sessionTaken{rec: s.rec})
		}
	case *sessionDone:
		ctx.Stop(ctx.Self())
	case *actor.Terminated:
		// The recovering connection ended before it was done (its transport
		// failed again): the session waits for its client again, for what
		// is left of its window.
		if s.taken != nil && m.Who.Id == s.taken.Id {
			s.taken = nil
			s.arm(ctx)
		}
	}
}

// arm sets the expiry timer for the rest of the window.
func (s *sessionActor) arm(ctx actor.Context) {
	self, root := ctx.Self(), s.d.root
	s.timer = time.AfterFunc(time.Until(s.deadline), func() { root.Send(self, &sessionExpiry{}) })
}

// sessionRegistry finds kept sessions by pid, and remembers, by hash, the
// pids whose window ran out lately, to tell "expired" from "unknown".
type sessionRegistry struct {
	live sync.Map // pid → *actor.PID

	mu      sync.Mutex
	expired map[[32]byte]struct{}
	order   [][32]byte // oldest first, at most expiredKept
}

// expiredKept bounds the expired pid hashes remembered.
const expiredKept = 4096

func (r *sessionRegistry) register(pid string, self *actor.PID) { r.live.Store(pid, self) }

func (r *sessionRegistry) find(pid string) (*actor.PID, bool) {
	p, ok := r.live.Load(pid)
	if !ok {
		return nil, false
	}
	return p.(*actor.PID), true
}

func (r *sessionRegistry) unregister(pid string, self *actor.PID, expired bool) {
	r.live.CompareAndDelete(pid, self)
	if !expired {
		return
	}
	h := sha256.Sum256([]byte(pid))
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.expired == nil {
		r.expired = map[[32]byte]struct{}{}
	}
	if len(r.order) == expiredKept {
		delete(r.expired, r.order[0])
		r.order = r.order[1:]
	}
	r.expired[h] = struct{}{}
	r.order = append(r.order, h)
}

func (r *sessionRegistry) wasExpired(pid string) bool {
	h := sha256.Sum256([]byte(pid))
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.expired[h]
	return ok
}

// newPID returns a private session id: 128 random bits, base64url.
func newPID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
