package bench

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hyvve/gateway/security"
)

// Timings of the subscribers.
const (
	// connectTimeout bounds one connect-and-join attempt.
	connectTimeout = 30 * time.Second
	// tokenTTL keeps every token valid for the longest run.
	tokenTTL = maxTimeout + time.Hour
	// reconnectDelay is the pause before a dropped subscriber (chaos)
	// connects again, as a socket.io-client's first retry would.
	reconnectDelay = 100 * time.Millisecond
)

// fleet is the N subscribers of a run. Each member has one goroutine that
// connects, joins, then receives until the connection ends (and, with
// reconnect, connects again) or the fleet closes.
type fleet struct {
	cfg       Config
	clock     Clock
	targets   []string     // base URLs the members are spread over
	polls     []string     // by target: where its members' polling requests go (nil: the target)
	http      *http.Client // the polling members' shared HTTP client (nil: WebSocket only)
	members   []*member
	rooms     [][]*member // members that joined, by room
	reconnect bool

	received  atomic.Int64
	firstRecv []atomic.Int64 // by sequence number: Clock time of its first delivery (0: none yet)
	closing   atomic.Bool
	wg        sync.WaitGroup
	errs      *errorLog
}

// newFleet mints the tokens of n members. seqs is how many sequence numbers
// the run can publish (regular messages and probes), for duplicate
// detection and first-delivery times.
func newFleet(cfg Config, clock Clock, seqs int, reconnect bool, errs *errorLog) (*fleet, error) {
	targets, err := ParseTargets(cfg.Target)
	if err != nil {
		return nil, err
	}
	// Each target gets its own dialers: a source address per 10,000 of
	// its connections (an IPv4 target), or one plain dialer (::1).
	spread := spreadTargets(cfg.Clients, cfg.Rooms, len(targets))
	perTarget := make([]int, len(targets))
	for _, t := range spread {
		perTarget[t]++
	}
	dialers := make([][]*websocket.Dialer, len(targets))
	for t, target := range targets {
		u, err := url.Parse(target)
		if err != nil {
			return nil, err
		}
		ip := net.ParseIP(u.Hostname())
		for _, d := range sourceDialers(perTarget[t], ip == nil || ip.To4() != nil) {
			dialers[t] = append(dialers[t], NewDialer(d))
		}
	}
	f := &fleet{
		cfg: cfg, clock: clock, reconnect: reconnect, errs: errs,
		targets:   targets,
		polls:     cfg.PollTargets(),
		members:   make([]*member, cfg.Clients),
		rooms:     make([][]*member, cfg.Rooms),
		firstRecv: make([]atomic.Int64, seqs),
	}
	if cfg.Transport.polls() {
		f.http = newPollingHTTPClient(cfg.Clients, targets, f.polls)
	}
	secret := []byte(cfg.JWTSecret)
	exp := time.Now().Add(tokenTTL)
	words := (seqs + 63) / 64
	nth := make([]int, len(targets)) // members dealt to each target so far
	for i := range f.members {
		r, t := i%cfg.Rooms, spread[i]
		tok, err := security.MintHS256(secret, security.Claims{
			Subject: fmt.Sprintf("u%d", i), WorkspaceID: workspaceOf(r), Role: security.RoleMember, ExpiresAt: exp,
		})
		if err != nil {
			return nil, fmt.Errorf("bench: minting tokens: %w", err)
		}
		f.members[i] = &member{idx: i, room: r, target: t, token: tok,
			dialer: dialers[t][nth[t]%len(dialers[t])], seen: make([]uint64, words)}
		nth[t]++
	}
	return f, nil
}

// newPollingHTTPClient is the HTTP client n polling members share: room in
// its pool for each one's long poll and POST, its connections spread over
// loopback source addresses as the WebSockets are (IPv4 hosts; an IPv6 host
// is dialed plainly).
func newPollingHTTPClient(n int, targets, polls []string) *http.Client {
	v4 := roundRobinDial(sourceDialers(2*n, true))
	v6 := (&net.Dialer{}).DialContext
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, _ := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
			return v6(ctx, network, addr)
		}
		return v4(ctx, network, addr)
	}
	hosts := len(targets) + len(polls)
	return NewHTTPClient(2*n+hosts*8, dial)
}

// connectAll starts every member with at most cfg.Concurrency attempts in
// flight and returns when each has joined or failed its first attempt.
// tick is called once per member done (for the progress bar).
func (f *fleet) connectAll(ctx context.Context, tick func()) {
	sem := make(chan struct{}, f.cfg.Concurrency)
	var ready sync.WaitGroup
	ready.Add(len(f.members))
	for _, m := range f.members {
		f.wg.Add(1)
		go f.runMember(ctx, m, sem, func() { ready.Done(); tick() })
	}
	ready.Wait()
	for _, m := range f.members {
		if m.joined.Load() {
			f.rooms[m.room] = append(f.rooms[m.room], m)
		}
	}
}

// runMember is a member's goroutine. ready is called once, after the first
// attempt, whatever its outcome.
func (f *fleet) runMember(ctx context.Context, m *member, sem chan struct{}, ready func()) {
	defer f.wg.Done()
	select {
	case sem <- struct{}{}:
	case <-ctx.Done():
		f.errs.add("connect", ctx.Err())
		ready()
		return
	}
	start := time.Now()
	c, err := f.dialAndJoin(ctx, m)
	<-sem
	if err != nil {
		f.errs.add("connect", err)
		ready()
		return
	}
	m.connectNs = int64(time.Since(start))
	m.upgraded = c.Upgraded()
	m.joined.Store(true)
	ready()
	for {
		err := f.receive(m, c)
		if f.closing.Load() || ctx.Err() != nil {
			return
		}
		m.disconnects++
		m.closeCodes = append(m.closeCodes, CloseCode(err))
		if !f.reconnect {
			return
		}
		if c, err = f.reconnectMember(ctx, m); err != nil {
			f.errs.add("reconnect", err)
			return
		}
	}
}

// reconnectMember connects a dropped member again until it succeeds or the
// run ends, and records how long the connection fault aimed at it cost.
func (f *fleet) reconnectMember(ctx context.Context, m *member) (*Client, error) {
	for {
		select {
		case <-time.After(reconnectDelay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if f.closing.Load() {
			return nil, context.Canceled
		}
		c, err := f.dialAndJoin(ctx, m)
		if err == nil {
			if at := m.faultAt.Swap(0); at != 0 {
				m.reconnectsNs = append(m.reconnectsNs, f.clock.Now()-at)
			}
			return c, nil
		}
		f.errs.add("reconnect attempt", err)
	}
}

// dialAndJoin connects m and joins its room; the client is published in
// m.client only once joined.
func (f *fleet) dialAndJoin(ctx context.Context, m *member) (*Client, error) {
	actx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	o := ConnectOptions{Transport: f.cfg.Transport, Dialer: m.dialer, HTTP: f.http}
	if f.polls != nil {
		o.PollURL = f.polls[m.target]
	}
	c, err := ConnectWith(actx, o, f.targets[m.target], m.token)
	if err != nil {
		return nil, err
	}

	if err := c.Join(actx, roomName(m.room), func(frame []byte) { m.record(f, frame, f.clock.Now()) }); err != nil {
		_ = c.Close()
		return nil, err
	}
	m.client.Store(c)
	if f.closing.Load() { // the fleet closed while this one was joining
		_ = c.Close()
	}
	return c, nil
}

// receive runs one connection of m until it ends.
func (f *fleet) receive(m *member, c *Client) error {
	defer m.client.CompareAndSwap(c, nil)
	var onEvent func(frame []byte)
	onEvent = func(frame []byte) {
		if m.record(f, frame, f.clock.Now()) {
			return
		}
		if bytes.HasPrefix(frame, []byte(errorEventPrefix)) {
			m.errorEvents++
			if isRoomFailed(frame) && !f.closing.Load() {
				m.rejoins++
				ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
				if err := c.Join(ctx, roomName(m.room), onEvent); err != nil {
					f.errs.add("rejoin after ROOM_FAILED", err)
				}
				cancel()
			}
		}
	}
	err := c.Receive(onEvent)
	_ = c.Close()
	return err
}

// noteDelivery counts a delivery and keeps the first delivery time of seq.
func (f *fleet) noteDelivery(seq int, now int64) {
	f.received.Add(1)
	if seq < len(f.firstRecv) && f.firstRecv[seq].Load() == 0 {
		f.firstRecv[seq].CompareAndSwap(0, now)
	}
}

// close drops every connection and waits for the members' goroutines.
func (f *fleet) close() {
	f.closing.Store(true)
	for _, m := range f.members {
		if c := m.client.Load(); c != nil {
			_ = c.Close()
		}
	}
	f.wg.Wait()
}
