//go:build linux

package transport

import (
	"sync"
	"syscall"
)

// poller watches idle sockets with an epoll instance of its own, so an idle
// client holds no read goroutine: a read pump that finds nothing left to
// read parks its socket here (arm) and returns, and the first readable byte
// or hang-up starts a new pump (Conn.readable). Each registration is
// one-shot, so a socket wakes one pump and is silent until armed again.
//
// Go's own netpoller keeps the socket too (edge-triggered, for the pumps'
// blocking reads); an fd may sit in several epoll sets. The poller's
// goroutine runs only while sockets are registered.
type poller struct {
	epfd    int
	wakeR   int // a byte on this pipe wakes the poller's goroutine
	wakeW   int
	mu      sync.Mutex
	conns   map[uint64]*Conn // by the id carried in each epoll event
	nextID  uint64
	running bool  // the goroutine runs
	broken  error // set when epoll_wait failed for good; arm refuses from then on
}

var (
	pollerOnce sync.Once
	thePoller  *poller
)

// readPoller is the process's poller, or nil when epoll is unavailable (the
// read pumps then keep reading in their goroutines).
func readPoller() *poller {
	pollerOnce.Do(func() {
		if p, err := newPoller(); err == nil {
			thePoller = p
		}
	})
	return thePoller
}

func newPoller() (*poller, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var fds [2]int
	if err := syscall.Pipe2(fds[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN} // id 0: the wake pipe
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, fds[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(fds[0])
		_ = syscall.Close(fds[1])
		return nil, err
	}
	return &poller{epfd: epfd, wakeR: fds[0], wakeW: fds[1], conns: map[uint64]*Conn{}}, nil
}

// arm registers c's socket for one readiness event. c.raw must be set.
func (p *poller) arm(c *Conn) error {
	p.mu.Lock()
	if p.broken != nil {
		p.mu.Unlock()
		return p.broken
	}
	op := syscall.EPOLL_CTL_MOD
	if c.pollID == 0 {
		p.nextID++
		c.pollID = p.nextID
		p.conns[c.pollID] = c
		op = syscall.EPOLL_CTL_ADD
	}
	id := c.pollID
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	ev := syscall.EpollEvent{
		Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	var err error
	if cerr := c.raw.Control(func(fd uintptr) { err = syscall.EpollCtl(p.epfd, op, int(fd), &ev) }); cerr != nil {
		err = cerr
	}
	if err != nil {
		p.remove(c)
	}
	return err
}

// remove forgets c's socket; the last removal lets the goroutine stop.
func (p *poller) remove(c *Conn) {
	p.mu.Lock()
	id := c.pollID
	if id == 0 {
		p.mu.Unlock()
		return
	}
	c.pollID = 0
	delete(p.conns, id)
	last := len(p.conns) == 0 && p.running
	p.mu.Unlock()
	// A socket already closed has left the epoll set with its last fd.
	_ = c.raw.Control(func(fd uintptr) { _ = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil) })
	if last {
		_, _ = syscall.Write(p.wakeW, []byte{0})
	}
}

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			p.fail(err)
			return
		}
		wake := false
		for _, ev := range events[:n] {
			id := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			if id == 0 {
				wake = true
				continue
			}
			p.mu.Lock()
			c := p.conns[id]
			p.mu.Unlock()
			if c != nil {
				c.readable()
			}
		}
		if wake {
			var buf [64]byte
			for {
				if n, _ := syscall.Read(p.wakeR, buf[:]); n <= 0 {
					break
				}
			}
			p.mu.Lock()
			if len(p.conns) == 0 {
				p.running = false
				p.mu.Unlock()
				return
			}
			p.mu.Unlock()
		}
	}
}

// fail hands every parked socket back to a read pump of its own and refuses
// later arms: without epoll_wait, sockets are read in their goroutines.
func (p *poller) fail(err error) {
	p.mu.Lock()
	p.broken, p.running = err, false
	parked := make([]*Conn, 0, len(p.conns))
	for _, c := range p.conns {
		parked = append(parked, c)
	}
	p.mu.Unlock()
	for _, c := range parked {
		c.readable()
	}
}
