package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Convergence probing: a clustered gateway learns which rooms the other
// nodes host through announcements and heartbeats, so right after the
// subscribers joined, a publish may not yet reach (or count) every node's
// members. The run publishes probes until it does.
const (
	// probeEvent is the event name of the probes; subscribers ignore it.
	probeEvent = "bench_probe"
	// probeInterval separates two rounds of probes.
	probeInterval = 100 * time.Millisecond
	// probeTimeout bounds the wait: many heartbeats (2 s each).
	probeTimeout = 30 * time.Second
)

// probe publishes a probe (data {"probe":k}, no stamp) to room r and
// returns the answer.
func (p *publisher) probe(ctx context.Context, r, k int) (publishAnswer, error) {
	body := []byte(`{"room":` + strconv.Quote(roomName(r)) + `,"event":"` + probeEvent + `","data":{"probe":` + strconv.Itoa(k) + `}}`)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return publishAnswer{}, err
	}
	req.Header.Set("Authorization", "Bearer "+p.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.http.Do(req)
	if err != nil {
		return publishAnswer{}, err
	}
	defer resp.Body.Close()
	ans, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return publishAnswer{}, fmt.Errorf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(ans))
	}
	var a publishAnswer
	if err := json.Unmarshal(ans, &a); err != nil {
		return publishAnswer{}, fmt.Errorf("bad publish answer: %s", clip(ans))
	}
	return a, nil
}

// convergence is what waiting for the servers to agree on the rooms took.
type convergence struct {
	seconds float64
	probes  int
	err     error // the rooms still short when the wait ended; nil when all agreed
}

// converge publishes a probe to every room that has joined members, again
// every probeInterval for the rooms whose answer did not count all of them
// (or said partial), until every room's does, timeout passes or ctx ends.
// want holds the joined members of each room.
func converge(ctx context.Context, p *publisher, want []int, timeout time.Duration) convergence {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := map[int]string{} // room → why it is not done yet
	for r, n := range want {
		if n > 0 {
			pending[r] = "not probed"
		}
	}
	var c convergence
	for len(pending) > 0 {
		for r := range pending {
			a, err := p.probe(ctx, r, c.probes)
			c.probes++
			switch {
			case err != nil:
				pending[r] = err.Error()
			case a.Recipients == want[r] && !a.Partial:
				delete(pending, r)
			case a.Recipients > want[r]:
				// More than joined: nothing to wait for; say so.
				delete(pending, r)
				c.err = fmt.Errorf("room %s: probe counted %d recipients, more than the %d members joined", roomName(r), a.Recipients, want[r])
			default:
				pending[r] = fmt.Sprintf("last probe counted %d of %d recipients (partial %t)", a.Recipients, want[r], a.Partial)
			}
		}
		if len(pending) == 0 {
			break
		}
		sleepCtx(ctx, probeInterval)
		if ctx.Err() != nil {
			for r, why := range pending {
				c.err = fmt.Errorf("servers did not agree on room %s within %s: %s (and %d more rooms)",
					roomName(r), time.Since(start).Round(time.Millisecond), why, len(pending)-1)
				break
			}
			break
		}
	}
	c.seconds = time.Since(start).Seconds()
	return c
}
