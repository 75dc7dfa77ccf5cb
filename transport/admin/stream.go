package admin

import (
	"net/http"
	"time"
)

// streamWriteTimeout bounds one write to a stream: a console that stopped
// reading is dropped, not waited for.
const streamWriteTimeout = 10 * time.Second

// serveEvents is the Server-Sent Events stream: "stats" every
// StatsInterval, "supervision" and "security" as they happen, "dropped"
// when this stream fell behind. The page reads it with fetch, since
// EventSource cannot send the key in a header.
func (c *Console) serveEvents(w http.ResponseWriter, r *http.Request) {
	select {
	case c.slots <- struct{}{}:
		defer func() { <-c.slots }()
	default:
		writeError(w, http.StatusServiceUnavailable, "too many open consoles")
		return
	}
	select {
	case <-c.closing:
		writeError(w, http.StatusServiceUnavailable, "shutting down")
		return
	default:
	}
	c.streams.Add(1)
	defer c.streams.Done()

	sub := c.d.Feed.subscribe()
	defer c.d.Feed.unsubscribe(sub)
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	write := func(frame []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
		if _, err := w.Write(frame); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	stats := func() bool {
		s, err := readStats(c.d.Gatherer)
		if err != nil {
			c.d.Logger.Warn("console: cannot read metrics", "err", err)
			return true
		}
		frame, err := sseFrame("stats", s)
		return err != nil || write(frame)
	}
	if !write([]byte(": hyvve gateway console\n\n")) || !stats() {
		return
	}
	tick := time.NewTicker(c.cfg.StatsInterval)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-c.closing:
			return
		case frame := <-sub.frames:
			if !write(frame) {
				return
			}
		case <-tick.C:
			if n := sub.dropped.Swap(0); n > 0 {
				frame, _ := sseFrame("dropped", map[string]int64{"events": n})
				if !write(frame) {
					return
				}
			}
			if !stats() {
				return
			}
		}
	}
}
