package actors

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport/cluster"
	"github.com/hyvve/gateway/transport/socketio"
)

// connState is where a connection is in its life.
type connState uint8

const (
	connPending  connState = iota // waiting for its ip limiter's answer
	connResuming                  // admitted, recovering a kept session: CONNECT not answered yet
	connActive                    // admitted: CONNECT answered
	connRefused                   // CONNECT_ERROR sent; stopping
)

// maxPendingEvents bounds events a client sends before its CONNECT is
// answered (a well-behaved client sends none).
const maxPendingEvents = 32

// connectionActor is one client's session: it owns the client's claims and
// joined rooms, answers its events, and ends with its socket. Its end,
// however it happens, reaches its rooms and its ip limiter as Terminated.
type connectionActor struct {
	d          *deps
	conn       messages.Client
	claims     *security.Claims
	inbox      *inbox       // what the read side handed over and this actor has not taken
	log        *slog.Logger // built on first use: most connections never log
	state      connState
	limiter    *actor.PID
	rooms      map[string]*actor.PID // joined rooms by name
	pending    []any                 // EventAllowed/EventRateLimited that came before the CONNECT was answered
	admitTimer *time.Timer

	reason    messages.CloseReason
	reasonSet bool
	stopping  bool // its children's Terminated then are part of its own stop

	tokenGen   uint64
	tokenTimer *time.Timer // fires tokenWarning, then (armed again) tokenExpired

	// Connection state recovery (recovery on; session.go, history.go).
	sid      string          // the answered Socket.IO sid: the transport's, or the recovered session's
	pid      string          // the private session id; never logged
	resume   messages.Resume // what the CONNECT asked to recover
	joinedAt joinOffsets     // joined rooms → the offset each was joined at
	recovery *recoveryState  // while connResuming
	// leaveOnJoin lists rooms whose muted rejoin was still on its way when
	// a recovery failed: left as soon as they confirm.
	leaveOnJoin []string
}

// recoveryState is a connection's recovery of a kept session, from the ask
// to the replay.
type recoveryState struct {
	session *actor.PID
	from    uint64
	rec     *sessionRecord    // once taken
	rooms   map[string]uint64 // the rooms it rejoins (re-checked), with their join offsets
	denied  []string          // the rooms the new token no longer admits
	gates   map[string]*gatedOutbox
	waiting int // joins not yet confirmed
	timer   *time.Timer
	// clustered: the history comes from the cluster's stream (clustered.go),
	// read into kept once the rooms are rejoined (historyRead); session is
	// nil when the record came from the cluster's bucket.
	clustered, fetched, historyRead bool
	kept                            []cluster.Kept
}

// recoveryTimeout comes from the connection's own timer: a recovery that
// does not finish in time gives the client a fresh session.
type recoveryTimeout struct{}

// logger is the connection's logger, with its sid, user and workspace.
func (a *connectionActor) logger() *slog.Logger {
	if a.log == nil {
		a.log = a.d.log.With("sid", a.sid, "user_id", a.claims.Subject, "workspace", a.claims.WorkspaceID)
	}
	return a.log
}

// admitRetryInterval is how long a pending connection waits for its ip
// limiter before asking again: the ask is lost if the limiter fails on it.
const admitRetryInterval = time.Second

// admitRetry comes from the connection's own timer while it is pending.
type admitRetry struct{}

func newConnectionProps(d *deps, c messages.Client, claims *security.Claims, resume messages.Resume, in *inbox) *actor.Props {
	props := d.props(supervision.KindConnection, c.SID(), func() actor.Actor {
		a := &connectionActor{d: d, conn: c, claims: claims, inbox: in, rooms: map[string]*actor.PID{}, sid: c.SID()}
		if d.history != nil {
			a.resume = resume
		}
		return a
	}, actor.WithSupervisor(supervision.Strategy()))
	// The rate limiter is first on the inbound path (the transport hands
	// events to it), so it must exist before the spawn returns: it is
	// spawned at init, not at Started.
	sid := c.SID()
	return props.Configure(actor.WithOnInit(func(ctx actor.Context) {
		spawnNamed(ctx, newRateLimiterProps(d, sid), supervision.NameRateLimiter)
	}))
}

// limiterPID is the PID of the rate limiter of the connection conn.
func limiterPID(conn *actor.PID) *actor.PID {
	return actor.NewPID(conn.Address, conn.Id+"/"+supervision.NameRateLimiter)
}

func (a *connectionActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		a.onStarted(ctx)
	case *actor.Stopping:
		a.onStopping()
	case *actor.Stopped:
		a.onStopped(ctx)
	case *actor.Terminated:
		if a.recovery != nil && a.recovery.rec == nil && a.recovery.session != nil && m.Who.Id == a.recovery.session.Id && !a.stopping {
			a.recoveryFailed(ctx, recoveryExpired) // the session stopped before it answered
			return
		}
		if a.limiter != nil && m.Who.Id == a.limiter.Id && !a.stopping {
			// Its restart budget ran out: events could no longer be answered.
			a.logger().Error("rate limiter stopped for good; closing its connection")
			a.end(ctx, messages.CloseActorFailure)
			return
		}
		a.onRoomTerminated(m.Who)
	case *admitRetry:
		if a.state == connPending {
			a.askAdmission(ctx)
		}
	case *messages.ConnectionAdmitted:
		a.onAdmitted(ctx)
	case *sessionTaken:
		if !a.stopping { // a stopping connection still reads its mailbox: the session, watching it, is given back
			a.onSessionTaken(ctx, m)
		}
	case *sessionRefused:
		if a.recovery != nil && a.recovery.rec == nil && !a.stopping {
			ctx.Unwatch(a.recovery.session)
			if m.denied {
				a.recoveryFailed(ctx, recoveryDenied)
			} else {
				a.recoveryFailed(ctx, recoveryUnknown)
			}
		}
	case *clusterFetched:
		a.onClusterFetched(ctx, m)
	case *historyFetched:
		a.onHistoryFetched(ctx, m)
	case *recoveryTimeout:
		if a.recovery != nil && !a.stopping {
			a.recoveryFailed(ctx, recoveryUnknown)
		}
	case *messages.ConnectionRefused:
		a.onRefused(ctx, m)
	case *messages.EventAllowed:
		a.inbox.took(m.Event)
		a.onLimited(ctx, m)
	case *messages.EventRateLimited:
		a.inbox.took(m.Event)
		a.onLimited(ctx, m)
	case *messages.RoomJoined:
		a.onRoomJoined(ctx, m)
	case *messages.RoomLeft:
		a.onRoomLeft(ctx, m)
	case *messages.SocketClosed:
		a.end(ctx, m.Reason)
	case *messages.Kick:
		a.end(ctx, m.Reason)
	case *tokenWarning:
		if m.gen == a.tokenGen {
			a.emit("token_expiring", expBody(a.claims.ExpiresAt))
			a.armExpiry(ctx)
		}
	case *tokenExpired:
		if m.gen == a.tokenGen {
			a.securityEvent(security.EventTokenExpired, "", "")
			a.emit("error", messages.NewError(messages.CodeTokenExpired).EventBody())
			a.end(ctx, messages.CloseTokenExpired)
		}
	case *tokenVerified:
		a.onTokenVerified(ctx, m)
	case *messages.ActionAnswered:
		if m.Err != "" {
			a.fail(m.AckID, messages.NewError(m.Err))
		} else {
			a.ack(m.AckID, m.Result)
		}
	case *supervision.InjectFault:
		if m.Kind == supervision.KindRateLimiter {
			ctx.Send(a.limiter, m)
		} else {
			m.NotFound()
		}
	}
}

func (a *connectionActor) onStarted(ctx actor.Context) {
	a.limiter = limiterPID(ctx.Self()) // spawned at init
	a.d.conns.Store(a.conn.SID(), ctx.Self())
	a.askAdmission(ctx)
}

// askAdmission asks the ip limiter for a slot and arms the retry timer.
func (a *connectionActor) askAdmission(ctx actor.Context) {
	ctx.Send(a.d.gateway, &admitConnection{IP: a.conn.IP(), Conn: ctx.Self()})
	self, root := ctx.Self(), a.d.root
	a.admitTimer = time.AfterFunc(admitRetryInterval, func() { root.Send(self, &admitRetry{}) })
}

// end stops the connection for reason; the first reason given wins.
func (a *connectionActor) end(ctx actor.Context, reason messages.CloseReason) {
	if !a.reasonSet {
		a.reason, a.reasonSet = reason, true
	}
	ctx.Stop(ctx.Self())
}

func (a *connectionActor) onStopping() {
	a.stopping = true
	a.stopTokenTimers()
	if a.admitTimer != nil {
		a.admitTimer.Stop()
	}
	if a.recovery != nil && a.recovery.timer != nil {
		a.recovery.timer.Stop()
	}
	if a.state == connRefused {
		return // the socket closes itself after the CONNECT_ERROR grace
	}
	reason := a.reason
	switch {
	case a.reasonSet:
	case a.d.shuttingDown.Load():
		reason = messages.CloseServerShutdown
	default:
		reason = messages.CloseActorFailure // stopped by its supervisor
	}
	a.conn.Close(reason)
	a.detach(reason)
	if a.d.log.Enabled(context.Background(), slog.LevelDebug) {
		a.logger().Debug("connection ended", "close_reason", reason.String())
	}
}

func (a *connectionActor) onStopped(ctx actor.Context) {
	a.d.conns.CompareAndDelete(a.sid, ctx.Self())
	// A watched actor keeps its watchers' PIDs until it stops, and a PID
	// holds the dead actor's process: a room that outlives its member (the
	// user's own room, while another tab is open) would keep every ended
	// connection alive.
	for _, pid := range a.rooms {
		ctx.Unwatch(pid)
	}
	if a.state == connActive || a.state == connResuming { // counted at admission
		a.d.metrics.connectionsActive.WithLabelValues(a.claims.WorkspaceID).Dec()
	}
}

func (a *connectionActor) onAdmitted(ctx actor.Context) {
	if a.state != connPending || a.stopping {
		return // a stopping connection still reads its mailbox; its limiter frees the slot at Terminated
	}
	a.state = connActive
	a.admitTimer.Stop()
	a.d.metrics.connectionsActive.WithLabelValues(a.claims.WorkspaceID).Inc()
	if a.resume.PID != "" && a.askSession(ctx) {
		return // answered once the kept session is recovered, or not
	}
	a.acceptFresh(ctx)
}

// acceptFresh answers the CONNECT with a new session: the transport's sid,
// a new pid when recovery is on, and the user's own room.
func (a *connectionActor) acceptFresh(ctx actor.Context) {
	if a.d.history != nil {
		a.pid = newPID()
	}
	a.conn.Accepted(a.sid, a.pid)
	// Sent after the CONNECT answer but through the same mailboxes as any
	// later publish, so a publish the client could have caused is ordered
	// after this join.
	ctx.Send(a.d.gateway, &messages.JoinRoom{Room: security.UserRoom(a.claims.Subject), Conn: ctx.Self(), Out: a.conn, AckID: socketio.NoAck, User: a.claims.Subject, SID: a.sid})
	a.activate(ctx)
}

// activate starts serving the client's events once the CONNECT is answered.
func (a *connectionActor) activate(ctx actor.Context) {
	a.state = connActive
	a.armTokenTimers(ctx)
	pending := a.pending
	a.pending = nil
	for _, m := range pending {
		a.onLimited(ctx, m)
	}
}

func (a *connectionActor) onRefused(ctx actor.Context, m *messages.ConnectionRefused) {
	if a.state != connPending {
		return
	}
	a.state = connRefused
	a.admitTimer.Stop()
	a.securityEvent(security.EventTooManyConnections, "", "")
	a.conn.Refuse(m.Code)
	ctx.Stop(ctx.Self())
}

// onLimited takes a client event back from the rate limiter, which the
// transport handed it first: answered now, or kept in order until the
// CONNECT is answered.
func (a *connectionActor) onLimited(ctx actor.Context, m any) {
	switch a.state {
	case connActive:
		switch m := m.(type) {
		case *messages.EventAllowed:
			a.onEvent(ctx, m.Event)
		case *messages.EventRateLimited:
			a.d.metrics.clientEvents.WithLabelValues(eventLabel(m.Event.Event), "rate_limited").Inc()
			a.securityEvent(security.EventRateLimitExceeded, "event "+eventLabel(m.Event.Event), "")
			a.fail(m.Event.AckID, messages.NewError(messages.CodeRateLimited))
		}
	case connPending, connResuming:
		if len(a.pending) >= maxPendingEvents {
			a.securityEvent(security.EventMalformedPacket, "too many events before CONNECT was answered", "")
			a.end(ctx, messages.CloseMalformed)
			return
		}
		a.pending = append(a.pending, m)
	}
}

// onEvent answers one client event the rate limiter let through.
func (a *connectionActor) onEvent(ctx actor.Context, ev *messages.ClientEvent) {
	if a.state != connActive {
		return
	}
	var data json.RawMessage
	if len(ev.Args) > 0 {
		data = ev.Args[0]
	}
	var err error
	switch ev.Event {
	case "join_room":
		err = a.joinRoom(ctx, data, ev.AckID)
	case "leave_room":
		err = a.leaveRoom(ctx, data, ev.AckID)
	case "dashboard_action":
		err = a.dashboardAction(ctx, data, ev.AckID)
	case "token_refresh":
		err = a.tokenRefresh(ctx, data, ev.AckID)
	case "state_sync":
		err = a.stateSync(ctx, data, ev.AckID)
	case "presence":
		err = a.presence(ctx, data, ev.AckID)
	default:
		err = messages.NewError(messages.CodeUnknownEvent)
	}
	outcome := "ok"
	if err != nil {
		var we *messages.Error
		if !errors.As(err, &we) {
			we = &messages.Error{Code: messages.CodeValidationFailed, Cause: err}
		}
		outcome = string(we.Code)
		a.fail(ev.AckID, we)
	}
	a.d.metrics.clientEvents.WithLabelValues(eventLabel(ev.Event), outcome).Inc()
}

func (a *connectionActor) stateSync(ctx actor.Context, data json.RawMessage, ackID int64) error {
	state, err := security.DecodeStateSync(data)
	if err != nil {
		a.securityEvent(security.EventValidationFailed, err.Error(), "")
		return err
	}
	body := make([]byte, 0, len(state)+10)
	body = append(append(append(body, `{"state":`...), state...), '}')
	if err := a.relay(ctx, security.UserRoom(a.claims.Subject), "state_sync", body); err != nil {
		return err
	}
	a.ack(ackID, json.RawMessage(`{"ok":true}`))
	return nil
}

// relay broadcasts a client's event to the other members of room, here and
// on every other node hosting it, never back to this connection.
func (a *connectionActor) relay(ctx actor.Context, room, event string, data json.RawMessage) error {
	var off uint64
	if a.d.clusterNumbered() {
		actx, cancel := context.WithTimeout(context.Background(), relayTimeout)
		var err error
		off, err = a.d.appendOffset(actx, room, event, data, a.sid)
		cancel()
		if err != nil {
			return messages.NewError(messages.CodeUpstreamUnavailable)
		}
	}
	pub := &messages.Publish{Room: room, Event: event, Data: data, Except: ctx.Self(), ExceptSID: a.sid, Offset: off}
	if pid, ok := a.rooms[room]; ok {
		// A member goes straight to the room it knows: a room with a member
		// is not stopping idle, so its parent need not route this.
		pub.Direct = true
		ctx.Send(pid, pub)
	} else {
		ctx.Send(a.d.gateway, pub)
	}
	if err := a.d.cluster.BroadcastAt(room, event, data, off); err != nil {
		a.logger().Warn("cluster relay failed; delivered on this node only", "room", room, "err", err)
	}
	return nil
}
