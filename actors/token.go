package actors

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport/socketio"
)

// A connection's token: the warning before exp, the expiry, token_refresh
// (verified off the mailbox) and what a refresh that drops a workspace revokes.

// tokenWarning and tokenExpired come from the connection's own token timers.
type tokenWarning struct{ gen uint64 }
type tokenExpired struct{ gen uint64 }

// tokenVerified carries the outcome of a token_refresh verification, done off
// the actor's goroutine since a JWKS lookup may take a while.
type tokenVerified struct {
	claims *security.Claims
	err    error
	ackID  int64
}

func (a *connectionActor) tokenRefresh(ctx actor.Context, data json.RawMessage, ackID int64) error {
	token, err := security.DecodeTokenRefresh(data)
	if err != nil {
		a.refuseRefresh(ctx, err)
		return nil // answered with the error event and a disconnect
	}
	self, root, verifier, timeout := ctx.Self(), a.d.root, a.d.verifier, a.d.cfg.AuthTimeout
	a.d.tasks.goTask(func(tctx context.Context) {
		vctx, cancel := context.WithTimeout(tctx, timeout)
		defer cancel()
		claims, err := verifier.Verify(vctx, token)
		root.Send(self, &tokenVerified{claims: claims, err: err, ackID: ackID})
	})
	return nil
}

func (a *connectionActor) onTokenVerified(ctx actor.Context, m *tokenVerified) {
	if m.err != nil {
		a.refuseRefresh(ctx, m.err)
		return
	}
	if m.claims.Subject != a.claims.Subject || m.claims.WorkspaceID != a.claims.WorkspaceID {
		a.refuseRefresh(ctx, errors.New("token_refresh for another sub or workspaceId"))
		return
	}
	a.claims = m.claims
	a.armTokenTimers(ctx)
	a.revokeRooms(ctx)
	a.ack(m.ackID, expOKBody(m.claims.ExpiresAt))
}

// revokeRooms leaves the rooms the refreshed claims no longer admit (a
// workspace dropped from the workspaces claim) and tells the client.
func (a *connectionActor) revokeRooms(ctx actor.Context) {
	for name, pid := range a.rooms {
		room, err := security.ParseRoom(name)
		if err != nil || security.CanJoin(a.claims, room) == nil {
			continue
		}
		ctx.Send(pid, &messages.LeaveRoom{Room: name, Conn: ctx.Self(), AckID: socketio.NoAck})
		a.emit("error", (&messages.Error{Code: messages.CodeAccessDenied, Room: name}).EventBody())
	}
}

// refuseRefresh answers a refused token_refresh as docs/PROTOCOL.md
// "Client events" says: the error event INVALID_TOKEN, then the connection
// is closed.
func (a *connectionActor) refuseRefresh(ctx actor.Context, err error) {
	a.securityEvent(security.EventAuthInvalid, security.Redact(err.Error()), "")
	a.emit("error", messages.NewError(messages.CodeInvalidToken).EventBody())
	a.end(ctx, messages.CloseInvalidToken)
}

// armTokenTimers arms one timer for the current token: it fires the
// token_expiring warning, and handling the warning arms it for the expiry.
func (a *connectionActor) armTokenTimers(ctx actor.Context) {
	a.stopTokenTimers()
	if warnIn := time.Until(a.claims.ExpiresAt) - a.d.cfg.TokenExpiryWarning; warnIn > 0 {
		gen, self, root := a.tokenGen, ctx.Self(), a.d.root
		a.tokenTimer = time.AfterFunc(warnIn, func() { root.Send(self, &tokenWarning{gen: gen}) })
		return
	}
	a.emit("token_expiring", expBody(a.claims.ExpiresAt))
	a.armExpiry(ctx)
}

// armExpiry arms the token timer for the token's expiry.
func (a *connectionActor) armExpiry(ctx actor.Context) {
	gen, self, root := a.tokenGen, ctx.Self(), a.d.root
	a.tokenTimer = time.AfterFunc(time.Until(a.claims.ExpiresAt), func() { root.Send(self, &tokenExpired{gen: gen}) })
}

func (a *connectionActor) stopTokenTimers() {
	a.tokenGen++
	if a.tokenTimer != nil {
		a.tokenTimer.Stop()
		a.tokenTimer = nil
	}
}

func expBody(exp time.Time) json.RawMessage {
	return json.RawMessage(`{"exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`)
}

func expOKBody(exp time.Time) json.RawMessage {
	return json.RawMessage(`{"ok":true,"exp":` + strconv.FormatInt(exp.Unix(), 10) + `}`)
}
