package cluster

import (
	"sync/atomic"

	"github.com/nats-io/nats.go"
)

// replier is the Reply of one Delivery.
type replier struct {
	n     *Node
	subj  string
	reqID uint64
	agg   *replyAgg // several handlers share one reply
	fired atomic.Bool
}

// replyAgg sums the counts of the handlers of one message.
type replyAgg struct {
	left atomic.Int32
	sum  atomic.Int64
}

func (r *replier) reply(count int) {
	if !r.fired.CompareAndSwap(false, true) {
		return
	}
	if r.agg != nil {
		sum := r.agg.sum.Add(int64(count))
		if r.agg.left.Add(-1) != 0 {
			return
		}
		count = int(sum)
	}
	r.n.sendReply(r.subj, r.reqID, count)
}

func (n *Node) sendReply(subj string, reqID uint64, count int) {
	bp := n.getBuf()
	b := appendReply(*bp, reqID, count, n.id)
	if err := n.nc.Publish(subj, b); err != nil {
		n.m.errors.WithLabelValues("publish").Inc()
	} else {
		n.m.sentReply.Inc()
	}
	n.putBuf(bp, b)
}

// onReply runs on the NATS goroutine of the reply subscription.
func (n *Node) onReply(msg *nats.Msg) {
	n.m.recvReply.Inc()
	reqID, count, node, err := decodeReply(msg.Data)
	if err != nil {
		n.m.errors.WithLabelValues("decode").Inc()
		return
	}
	n.pend.answer(reqID, count, node)
}
