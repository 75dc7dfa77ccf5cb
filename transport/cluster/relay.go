package cluster

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
)

// The relay carries requests that must be served by one particular node:
// a polling request that reached a node which does not hold its session is
// passed to the node that does (its tag is in the session id) and answered
// from there. Each node subscribes to <prefix>.relay.<tag>; a request runs
// in its own goroutine, since a long poll waits there for up to a ping
// interval.

// RelayTag returns this node's tag, as other nodes address it on the relay;
// "" on a nil node.
func (n *Node) RelayTag() string {
	if n == nil {
		return ""
	}
	return token(n.id)
}

// ServeRelay answers the requests other nodes relay to this one with
// handle, each in its own goroutine, under a context that ends with the
// node. Call it once.
func (n *Node) ServeRelay(handle func(ctx context.Context, req []byte) []byte) error {
	if n == nil {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		<-n.stop
		cancel()
	}()
	subj := n.relaySubject(n.RelayTag())
	_, err := n.nc.Subscribe(subj, func(msg *nats.Msg) {
		if msg.Reply == "" || n.closing.Load() {
			return
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := msg.Respond(handle(ctx, msg.Data)); err != nil {
				n.log.Debug("cluster: relay answer not sent", "err", err)
			}
		}()
	})
	if err != nil {
		cancel()
		return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
	}
	return nil
}

// ErrNoRelay is returned by Relay for a tag that is not a node's, and when
// no node answers.
var ErrNoRelay = errors.New("cluster: no node answers for that tag")

// Relay sends req to the node tagged tag and returns its answer; ctx bounds
// the wait.
func (n *Node) Relay(ctx context.Context, tag string, req []byte) ([]byte, error) {
	if n == nil || tag == "" || !validToken(tag) {
		return nil, ErrNoRelay
	}
	if n.closing.Load() {
		return nil, ErrClosed
	}
	msg, err := n.nc.RequestWithContext(ctx, n.relaySubject(tag), req)
	if errors.Is(err, nats.ErrNoResponders) {
		return nil, ErrNoRelay
	}
	if err != nil {
		return nil, err
	}
	return msg.Data, nil
}

func (n *Node) relaySubject(tag string) string { return n.cfg.SubjectPrefix + ".relay." + tag }

// validToken reports a tag that can only be one subject token (base64url).
func validToken(s string) bool {
	if len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
