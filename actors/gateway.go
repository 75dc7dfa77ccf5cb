package actors

import (
	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
)

// gatewayActor is the root of the tree: it parents ips, users and the
// workspaces, and routes by room name and workspace id. Everything that
// enters the tree from outside enters here.
type gatewayActor struct {
	d          *deps
	ips, users *actor.PID
	workspaces *lazyChildren
	ready      chan<- struct{}
}

func newGatewayProps(d *deps, ready chan<- struct{}) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		g := &gatewayActor{d: d, ready: ready}
		g.workspaces = newLazyChildren(supervision.PrefixWorkspace, func(id string) *actor.Props { return newWorkspaceProps(d, id) })
		g.workspaces.onSpawn = d.metrics.workspacesActive.Inc
		g.workspaces.onStop = d.metrics.workspacesActive.Dec
		return g
	}, actor.WithSupervisor(supervision.Strategy()),
		actor.WithGuardian(supervision.Strategy()),
		actor.WithReceiverMiddleware(d.middleware(supervision.KindGateway, supervision.NameGateway)...))
}

func (g *gatewayActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		if g.ips == nil { // a resumed gateway keeps its children
			g.ips = spawnNamed(ctx, newIPsProps(g.d), supervision.NameIPs)
			g.users = spawnNamed(ctx, newUsersProps(g.d), supervision.NameUsers)
		}
		if g.ready != nil {
			close(g.ready)
			g.ready = nil
		}
	case *actor.Terminated:
		if ws, ok := g.workspaces.terminated(ctx, m.Who); ok {
			// Every connection of the workspace has ended (a workspace
			// stops after its children), so its gauge reads 0: drop the
			// series, or one stays per workspace ever seen. A successor
			// spawned just now admits no connection before this returns
			// (admission passes through this actor).
			g.d.metrics.connectionsActive.DeleteLabelValues(ws)
		}
	case *spawnConnection:
		g.workspaces.route(ctx, m.Claims.WorkspaceID, m, true)
	case *detachSession:
		g.workspaces.route(ctx, m.rec.workspaceID, m, true)
	case *admitConnection:
		ctx.Send(g.ips, m)
	case *messages.JoinRoom:
		if ws, ok := roomWorkspace(m.Room); ok {
			g.workspaces.route(ctx, ws, m, true)
		} else {
			ctx.Send(g.users, m)
		}
	case *messages.LeaveRoom:
		if ws, ok := roomWorkspace(m.Room); !ok {
			ctx.Send(g.users, m)
		} else if !g.workspaces.route(ctx, ws, m, false) {
			leftWithoutRoom(ctx, m)
		}
	case *messages.Publish:
		if ws, ok := roomWorkspace(m.Room); !ok {
			ctx.Send(g.users, m)
		} else if !g.workspaces.route(ctx, ws, m, false) {
			noRoom(g.d, m)
		}
	case *presenceQuery, *presenceGone:
		room := presenceRoom(m)
		if ws, ok := roomWorkspace(room); !ok {
			ctx.Send(g.users, m)
		} else if !g.workspaces.route(ctx, ws, m, presenceSpawns(m)) {
			noPresence(g.d, m)
		}
	case *messages.ChildIdle:
		g.workspaces.idle(ctx, m)
	case *supervision.InjectFault:
		g.injectFault(ctx, m)
	}
}

func (g *gatewayActor) injectFault(ctx actor.Context, f *supervision.InjectFault) {
	switch f.Kind {
	case supervision.KindIPLimiter:
		ctx.Send(g.ips, f)
	case supervision.KindWorkspace:
		g.workspaces.forward(ctx, f.Target, f)
	case supervision.KindRoom:
		if ws, ok := roomWorkspace(f.Target); ok {
			g.workspaces.relay(ctx, ws, f)
		} else {
			ctx.Send(g.users, f)
		}
	default:
		f.NotFound()
	}
}

// roomWorkspace returns the workspace id of a workspace room; ok is false for
// user rooms. Names reaching the gateway were validated by security.ParseRoom.
func roomWorkspace(room string) (string, bool) {
	r, err := security.ParseRoom(room)
	if err != nil || r.Kind != security.RoomWorkspace {
		return "", false
	}
	return r.WorkspaceID, true
}

// leftWithoutRoom answers a routed leave of a room that has no actor: the
// connection was not in it.
func leftWithoutRoom(ctx actor.Context, m *messages.LeaveRoom) {
	ctx.Send(m.Conn, &messages.RoomLeft{Room: m.Room, AckID: m.AckID})
}
