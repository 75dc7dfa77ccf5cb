package cluster

// maxPooledBuf is the largest encode buffer kept for reuse.
const maxPooledBuf = 64 << 10

// getBuf returns an empty encode buffer; give it back with putBuf.
func (n *Node) getBuf() *[]byte {
	bp := n.bufs.Get().(*[]byte)
	*bp = (*bp)[:0]
	return bp
}

// putBuf recycles bp, keeping b (bp's buffer, possibly grown) unless large.
func (n *Node) putBuf(bp *[]byte, b []byte) {
	if cap(b) <= maxPooledBuf {
		*bp = b
		n.bufs.Put(bp)
	}
}
