package cluster

import "sync"

// pendingTable tracks the publishes waiting for recipient counts, by request
// id. Entries are pooled: once closed, an entry is unreachable from the table,
// so a late reply cannot touch a reused one.
type pendingTable struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*pending
	pool sync.Pool
}

// pending is one publish waiting for counts.
type pending struct {
	hosts []string // nodes expected to answer (shared, read-only)
	got   []bool   // got[i]: hosts[i] answered
	left  int      // hosts that have not answered
	sum   int      // counts received, including from nodes not in hosts
	done  chan struct{}
}

func newPendingTable(seed uint64) *pendingTable {
	t := &pendingTable{next: seed, m: map[uint64]*pending{}}
	t.pool.New = func() any { return &pending{done: make(chan struct{}, 1)} }
	return t
}

// open registers a publish expecting an answer from each of hosts and
// returns its entry and request id (never 0).
func (t *pendingTable) open(hosts []string) (*pending, uint64) {
	p := t.pool.Get().(*pending)
	p.hosts, p.left, p.sum = hosts, len(hosts), 0
	if cap(p.got) < len(hosts) {
		p.got = make([]bool, len(hosts))
	} else {
		p.got = p.got[:len(hosts)]
		clear(p.got)
	}
	t.mu.Lock()
	t.next++
	if t.next == 0 {
		t.next++
	}
	id := t.next
	t.m[id] = p
	t.mu.Unlock()
	return p, id
}

// answer records node's count for request id; it signals the waiter when the
// last expected node answered. Unknown ids (late replies) are ignored.
func (t *pendingTable) answer(id uint64, count int, node []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	p := t.m[id]
	if p == nil {
		return
	}
	for i, h := range p.hosts {
		if h == string(node) {
			if p.got[i] {
				return // duplicate
			}
			p.got[i] = true
			p.sum += count
			if p.left--; p.left == 0 {
				p.done <- struct{}{}
			}
			return
		}
	}
	// A node that started hosting after the send: its members count too.
	p.sum += count
}

// close removes request id and returns its sum and how many expected nodes
// did not answer. p must not be used afterwards.
func (t *pendingTable) close(id uint64, p *pending) (sum, missing int) {
	t.mu.Lock()
	delete(t.m, id)
	sum, missing = p.sum, p.left
	t.mu.Unlock()
	select { // drop a signal that raced with the timeout
	case <-p.done:
	default:
	}
	p.hosts = nil
	t.pool.Put(p)
	return sum, missing
}
