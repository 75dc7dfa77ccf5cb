package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// publishTimeout bounds one publish request. A message that crashes a room
// may be answered only after the gateway's own 5 s ask timeout.
const publishTimeout = 30 * time.Second

// publisher sends bench messages through POST /v1/publish, stamping each
// with the Clock just before the request goes out.
type publisher struct {
	http  *http.Client
	url   string
	key   string
	clock Clock
	size  int
	bufs  sync.Pool
}

// outcome is what happened to one publish.
type outcome struct {
	room       int
	sent       int64 // Clock time of the stamp; 0: never sent
	done       int64 // Clock time the answer arrived
	status     int   // HTTP status; 0 on a transport error
	recipients int   // from a 200 answer
	partial    bool  // the answer said partial: a node's count did not arrive in time
	err        string
}

// ok reports a 200 answer.
func (o *outcome) ok() bool { return o.status == http.StatusOK }

func newPublisher(cfg Config, clock Clock, conns int) *publisher {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: connectTimeout}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     time.Minute,
		DisableCompression:  true,
	}
	return &publisher{
		http:  &http.Client{Transport: tr, Timeout: publishTimeout},
		url:   cfg.PublishURL() + "/v1/publish",
		key:   cfg.PublishKey,
		clock: clock,
		size:  cfg.PayloadBytes,
		bufs:  sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
}

// publishAnswer is the body of a 200 answer to POST /v1/publish.
type publishAnswer struct {
	Recipients int  `json:"recipients"`
	Partial    bool `json:"partial"` // a clustered gateway missed a node's count
}

// publish sends message seq to room r.
func (p *publisher) publish(ctx context.Context, seq, r int) outcome {
	o := outcome{room: r}
	buf := p.bufs.Get().(*bytes.Buffer)
	defer p.bufs.Put(buf)
	buf.Reset()
	body := buf.AvailableBuffer()
	body = append(body, `{"room":`...)
	body = strconv.AppendQuote(body, roomName(r))
	body = append(body, `,"event":"`+benchEvent+`","data":`...)
	o.sent = p.clock.Now()
	body = appendPayload(body, seq, o.sent, p.size)
	body = append(body, '}')
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		o.err = err.Error()
		return o
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	o.done = p.clock.Now()
	if err != nil {
		o.err = err.Error()
		return o
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	o.status = resp.StatusCode
	if resp.StatusCode != http.StatusOK {
		o.err = fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(ans))
		return o
	}
	var a publishAnswer
	if err := json.Unmarshal(ans, &a); err != nil {
		o.err = "bad publish answer: " + clip(ans)
	}
	o.recipients, o.partial = a.Recipients, a.Partial
	return o
}

// publishAll publishes messages 0…len(out)-1 round-robin over rooms, at
// cfg.Rate per second (0: as fast as accepted, with cfg.Publishers
// requests in flight), and stores each outcome. done is called after each.
func (p *publisher) publishAll(ctx context.Context, cfg Config, out []outcome, done func(seq int, o *outcome)) {
	var wg sync.WaitGroup
	one := func(seq int) {
		out[seq] = p.publish(ctx, seq, seq%cfg.Rooms)
		done(seq, &out[seq])
	}
	if cfg.Rate == 0 {
		var next atomic.Int64
		for range cfg.Publishers {
			wg.Go(func() {
				for seq := int(next.Add(1) - 1); seq < len(out) && ctx.Err() == nil; seq = int(next.Add(1) - 1) {
					one(seq)
				}
			})
		}
		wg.Wait()
		return
	}
	// Fixed schedule: message seq is due at start + seq/rate. A late
	// message is sent at once, and the schedule does not slip.
	interval := time.Duration(float64(time.Second) / cfg.Rate)
	sem := make(chan struct{}, cfg.Publishers)
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for seq := range out {
		if wait := time.Until(start.Add(time.Duration(seq) * interval)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
			}
		}
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			one(seq)
		})
	}
	wg.Wait()
}
