package cluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/nats-io/nats.go"
)

// maxInternedEvents bounds the event-name intern table.
const maxInternedEvents = 1024

// Delivery is a message from another node for a room this node hosts.
type Delivery struct {
	// Room is the room the message was published to.
	Room string
	// Event is the Socket.IO event name.
	Event string
	// Data is the event's JSON payload. It is not modified afterwards by this
	// package and must not be modified by the receiver (several Subscribe
	// calls of one room share it).
	Data json.RawMessage
	// Origin is the id of the node the message was published on.
	Origin string
	// Offset is the broadcast's recovery offset, given by its origin from
	// the history stream (store.go); 0: none, the receiver numbers it.
	Offset uint64
	// Reply reports how many local members the message was queued to; the
	// room actor calls it once after its fan-out. It is never nil: it is a
	// no-op when the origin asked for no count, and calls after the first
	// are ignored.
	Reply func(count int)
}

// noReply is Delivery.Reply when no count was requested.
func noReply(int) {}

// localRoom is a room hosted on this node.
type localRoom struct {
	room, subject string
	sub           *nats.Subscription
	handlers      []*handler // copy-on-write under Node.mu
}

// handler is one Subscribe call.
type handler struct {
	deliver func(*Delivery)
	once    sync.Once
}

// Subscribe starts receiving the messages other nodes publish to room and
// announces that this node hosts it. deliver is called from the node's
// dispatch goroutine, one message at a time in arrival order, and must not
// block (an actor Send). The returned func unsubscribes; it is idempotent.
// Several Subscribe calls for one room share one NATS subscription; the
// count replied for a message is then the sum of their Reply calls.
func (n *Node) Subscribe(room string, deliver func(*Delivery)) (unsubscribe func(), err error) {
	if n == nil {
		return func() {}, nil
	}
	if deliver == nil {
		return nil, errors.New("cluster: Subscribe with nil deliver")
	}
	if room == "" || len(room) > maxRoomLen {
		return nil, ErrInvalidRoom
	}
	h := &handler{deliver: deliver}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() {
		return nil, ErrClosed
	}
	lr := n.local[room]
	if lr == nil {
		subj := n.roomPrefix + token(room)
		sub, err := n.nc.ChanSubscribe(subj, n.msgs)
		if err != nil {
			return nil, fmt.Errorf("cluster: subscribe room %q: %w", room, err)
		}
		lr = &localRoom{room: room, subject: subj, sub: sub}
		n.local[room], n.bySubj[subj] = lr, lr
		n.m.subscriptions.Inc()
		n.publishCtl(ctlAdd, room)
	}
	lr.handlers = append(lr.handlers[:len(lr.handlers):len(lr.handlers)], h)
	return func() { h.once.Do(func() { n.unsubscribe(lr, h) }) }, nil
}

func (n *Node) unsubscribe(lr *localRoom, h *handler) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closing.Load() || n.local[lr.room] != lr {
		return // Close already dropped every subscription
	}
	hs := make([]*handler, 0, len(lr.handlers))
	for _, x := range lr.handlers {
		if x != h {
			hs = append(hs, x)
		}
	}
	lr.handlers = hs
	if len(hs) > 0 {
		return
	}
	if err := lr.sub.Unsubscribe(); err != nil {
		n.log.Debug("cluster: unsubscribe", "room", lr.room, "err", err)
	}
	delete(n.local, lr.room)
	delete(n.bySubj, lr.subject)
	n.m.subscriptions.Dec()
	n.publishCtl(ctlDel, lr.room)
}

// dispatch hands the messages of all room subscriptions to their handlers, in
// arrival order.
func (n *Node) dispatch() {
	defer n.wg.Done()
	for {
		select {
		case msg := <-n.msgs:
			n.onRoomMsg(msg)
		case <-n.stop:
			return
		}
	}
}

func (n *Node) onRoomMsg(msg *nats.Msg) {
	n.m.recvRoom.Inc()
	rm, err := decodeRoomMsg(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	wantCount := rm.reqID != 0 && msg.Reply != ""
	n.mu.RLock()
	lr := n.bySubj[msg.Subject]
	var hs []*handler
	if lr != nil {
		hs = lr.handlers
	}
	n.mu.RUnlock()
	if len(hs) == 0 {
		// Unsubscribed while the message was in flight: answer 0 so that
		// the origin need not wait for this node.
		if wantCount {
			n.sendReply(msg.Reply, rm.reqID, 0)
		}
		return
	}
	origin, event := n.reg.intern(rm.origin), n.internEvent(rm.event)
	var agg *replyAgg
	if wantCount && len(hs) > 1 {
		agg = &replyAgg{}
		agg.left.Store(int32(len(hs)))
	}
	for _, h := range hs {
		d := &Delivery{Room: lr.room, Event: event, Data: rm.data, Origin: origin, Offset: rm.offset, Reply: noReply}
		if wantCount {
			r := &replier{n: n, subj: msg.Reply, reqID: rm.reqID, agg: agg}
			d.Reply = r.reply
		}
		h.deliver(d)
	}
}

func (n *Node) internEvent(b []byte) string {
	n.evMu.RLock()
	s, ok := n.events[string(b)]
	n.evMu.RUnlock()
	if ok {
		return s
	}
	s = string(b)
	n.evMu.Lock()
	if len(n.events) < maxInternedEvents {
		n.events[s] = s
	}
	n.evMu.Unlock()
	return s
}
