package cluster

// OnPeerGone sets f to be called with a peer's id when this node forgets it:
// it said goodbye, or was silent for three and a half heartbeats (killed).
// f is called from a NATS or heartbeat goroutine and must not block. One f
// per node; a later call replaces it. Safe on a nil *Node (no-op).
func (n *Node) OnPeerGone(f func(id string)) {
	if n == nil {
		return
	}
	n.peerGone.Store(&f)
}

func (n *Node) peerLeft(id string) {
	if f := n.peerGone.Load(); f != nil {
		(*f)(id)
	}
}
