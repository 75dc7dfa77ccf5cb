package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// Publish sends a message once to room's subject and waits, bounded by ctx
// and RecipientsWait, for the recipient counts of the other nodes hosting the
// room (as known when sending). It returns their sum, and partial=true when
// a hosting node did not answer in time. It returns early when all answered,
// and at once when no other node hosts the room. The message is not echoed to
// this node: local delivery is the caller's job. While NATS is unreachable it
// fails at once with ErrDisconnected. A ctx ending during the wait is not an
// error (the message was sent): the answer is then partial.
func (n *Node) Publish(ctx context.Context, room, event string, data json.RawMessage) (remote int, partial bool, err error) {
	return n.PublishAt(ctx, room, event, data, 0)
}

// PublishAt is Publish of a broadcast whose recovery offset is offset (the
// history's sequence; 0: none): the other nodes fan it out with it.
func (n *Node) PublishAt(ctx context.Context, room, event string, data json.RawMessage, offset uint64) (remote int, partial bool, err error) {
	if n == nil {
		return 0, false, nil
	}
	if err := n.sendable(room); err != nil {
		return 0, false, err
	}
	if err := ctx.Err(); err != nil {
		return 0, false, err
	}
	start := time.Now()
	hosts, subj := n.reg.hosts(room)
	if subj == "" {
		subj = n.roomPrefix + token(room)
	}
	if len(hosts) == 0 {
		err := n.sendRoom(subj, "", 0, offset, event, data)
		n.m.publishTime.Observe(time.Since(start).Seconds())
		return 0, false, err
	}
	p, id := n.pend.open(hosts)
	if err := n.sendRoom(subj, n.replySubj, id, offset, event, data); err != nil {
		n.pend.close(id, p)
		return 0, false, err
	}
	t := getTimer(n.cfg.RecipientsWait)
	select {
	case <-p.done:
	case <-t.C:
	case <-ctx.Done():
	}
	putTimer(t)
	sum, missing := n.pend.close(id, p)
	n.m.publishTime.Observe(time.Since(start).Seconds())
	if missing > 0 {
		n.m.missing.Add(float64(missing))
		n.m.partial.Inc()
	}
	return sum, missing > 0, nil
}

// Broadcast sends a message once to room's subject without asking for counts
// (dashboard_action and state_sync relays). It fails at once with
// ErrDisconnected while NATS is unreachable.
func (n *Node) Broadcast(room, event string, data json.RawMessage) error {
	return n.BroadcastAt(room, event, data, 0)
}

// BroadcastAt is Broadcast of a broadcast whose recovery offset is offset.
func (n *Node) BroadcastAt(room, event string, data json.RawMessage, offset uint64) error {
	if n == nil {
		return nil
	}
	if err := n.sendable(room); err != nil {
		return err
	}
	return n.sendRoom(n.roomPrefix+token(room), "", 0, offset, event, data)
}

func (n *Node) sendable(room string) error {
	switch {
	case room == "" || len(room) > maxRoomLen:
		return ErrInvalidRoom
	case n.closing.Load():
		return ErrClosed
	case n.nc.Status() != nats.CONNECTED:
		return ErrDisconnected
	}
	return nil
}

func (n *Node) sendRoom(subj, reply string, reqID, offset uint64, event string, data []byte) error {
	bp := n.getBuf()
	b := appendRoomMsg(*bp, reqID, offset, n.id, event, data)
	var err error
	if reply == "" {
		err = n.nc.Publish(subj, b)
	} else {
		err = n.nc.PublishRequest(subj, reply, b)
	}
	n.putBuf(bp, b)
	if err != nil {
		n.m.errors.WithLabelValues("publish").Inc()
		if errors.Is(err, nats.ErrReconnectBufExceeded) || errors.Is(err, nats.ErrConnectionReconnecting) {
			return ErrDisconnected
		}
		return fmt.Errorf("cluster: publish: %w", err)
	}
	n.m.sentRoom.Inc()
	return nil
}

var timers sync.Pool

// getTimer returns a timer firing after d. Since Go 1.23 a stopped timer's
// channel holds no stale value, so timers can be reused.
func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}
