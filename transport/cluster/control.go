package cluster

import (
	"encoding/binary"
	"time"

	"github.com/nats-io/nats.go"
)

// heartbeatChunk bounds one heartbeat part's room list.
const heartbeatChunk = 64 << 10

// publishCtl publishes a control message of kind with body. Failures are
// logged only: heartbeats resynchronise the peers. Called with n.mu held.
func (n *Node) publishCtl(kind byte, body string) {
	bp := n.getBuf()
	b := append(appendCtlHeader(*bp, kind, n.instance, n.id), body...)
	if err := n.nc.Publish(n.ctlSubj, b); err != nil {
		n.log.Debug("cluster: control message not sent", "err", err)
		n.m.errors.WithLabelValues("publish").Inc()
	} else {
		n.m.sentCtl.Inc()
	}
	n.putBuf(bp, b)
}

// onCtl runs on the NATS goroutine of the control subscription.
func (n *Node) onCtl(msg *nats.Msg) {
	n.m.recvCtl.Inc()
	c, err := decodeCtl(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	res, err := n.reg.apply(c, time.Now())
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
	}
	n.m.peers.Set(float64(res.peers))
	switch {
	case res.joined:
		n.log.Info("cluster: node joined", "peer", string(c.node))
		n.heartbeatSoon() // let it learn what this node hosts
	case res.query:
		n.heartbeatSoon()
	case res.left:
		n.log.Info("cluster: node left", "peer", string(c.node))
		n.peerLeft(string(c.node))
	}
}

func (n *Node) heartbeatSoon() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

// heartbeatLoop publishes the hosted-room set every HeartbeatInterval (and
// when asked), and forgets peers silent for three intervals.
func (n *Node) heartbeatLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.cfg.HeartbeatInterval)
	defer t.Stop()
	ttl := 3*n.cfg.HeartbeatInterval + n.cfg.HeartbeatInterval/2
	n.heartbeat()
	for {
		select {
		case <-n.stop:
			return
		case <-n.kick:
			n.heartbeat()
		case now := <-t.C:
			n.heartbeat()
			if !n.nc.IsConnected() {
				continue // the silence is this node's own: expire nobody
			}
			gone, left := n.reg.expire(now, ttl)
			for _, id := range gone {
				n.log.Warn("cluster: node expired (no heartbeat)", "peer", id)
				n.peerLeft(id)
			}
			if len(gone) > 0 {
				n.m.peers.Set(float64(left))
			}
		}
	}
}

// heartbeat publishes the hosted-room set, split in parts of at most
// heartbeatChunk bytes of room list.
func (n *Node) heartbeat() {
	if !n.nc.IsConnected() {
		return // resent on reconnect
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hbGen++
	var parts [][]byte
	var cur []byte
	for room := range n.local {
		if len(cur) > 0 && len(cur)+len(room)+binary.MaxVarintLen64 > heartbeatChunk {
			parts = append(parts, cur)
			cur = nil
		}
		cur = appendString(cur, room)
	}
	parts = append(parts, cur)
	var msg []byte
	for i, rooms := range parts {
		msg = appendCtlHeader(msg[:0], ctlHeartbeat, n.instance, n.id)
		msg = binary.AppendUvarint(msg, n.hbGen)
		msg = binary.AppendUvarint(msg, uint64(i))
		msg = binary.AppendUvarint(msg, uint64(len(parts)))
		msg = append(msg, rooms...)
		if err := n.nc.Publish(n.ctlSubj, msg); err != nil {
			n.m.errors.WithLabelValues("publish").Inc()
			n.log.Debug("cluster: heartbeat not sent", "err", err)
		} else {
			n.m.sentCtl.Inc()
		}
	}
	if n.resync.Swap(false) {
		n.publishCtl(ctlQuery, "")
	}
}
