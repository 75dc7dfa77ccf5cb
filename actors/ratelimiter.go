package actors

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/supervision"
)

// bucket is a token bucket of MAX_MESSAGES_PER_MINUTE tokens refilled evenly
// over a minute. It lives outside the limiter instance so a restart neither
// resets nor leaks the budget.
type bucket struct {
	tokens   float64
	capacity float64
	perSec   float64
	last     time.Time
}

func (b *bucket) take(now time.Time) bool {
	b.tokens += now.Sub(b.last).Seconds() * b.perSec
	if b.tokens > b.capacity {
		b.tokens = b.capacity
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// rateLimiterActor is a connection's message rate limiter, its child. Every
// client event passes through it and comes back to the connection as
// EventAllowed or EventRateLimited: no request/response on the inbound path,
// and order is kept because the limiter has one mailbox.
type rateLimiterActor struct {
	b *bucket
}

func newRateLimiterProps(d *deps, sid string) *actor.Props {
	perMinute := float64(d.cfg.MaxMessagesPerMinute)
	b := &bucket{tokens: perMinute, capacity: perMinute, perSec: perMinute / 60, last: time.Now()}
	return d.props(supervision.KindRateLimiter, sid, func() actor.Actor { return &rateLimiterActor{b: b} })
}

func (l *rateLimiterActor) Receive(ctx actor.Context) {
	ev, ok := ctx.Message().(*messages.ClientEvent)
	if !ok {
		return
	}
	if l.b.capacity <= 0 || l.b.take(time.Now()) {
		ctx.Send(ctx.Parent(), &messages.EventAllowed{Event: ev})
		return
	}
	ctx.Send(ctx.Parent(), &messages.EventRateLimited{Event: ev})
}
