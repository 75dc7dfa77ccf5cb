package bench

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Progress bar timings: redrawn in place on a terminal, a plain line now
// and then elsewhere (a log file, CI).
const (
	progressRedraw   = 200 * time.Millisecond
	progressLogEvery = 5 * time.Second
	progressWidth    = 30
)

// progress draws one phase's progress on stderr until stopped.
type progress struct {
	w      io.Writer
	tty    bool
	label  string
	total  int64
	done   atomic.Int64
	detail func() string // extra text after the count; may be nil
	start  time.Time
	stop   chan struct{}
	wg     sync.WaitGroup
}

// startProgress starts drawing when enabled; a disabled progress ignores
// every call.
func startProgress(w io.Writer, enabled bool, label string, total int64, detail func() string) *progress {
	p := &progress{w: w, label: label, total: total, detail: detail, start: time.Now(), stop: make(chan struct{})}
	if !enabled || w == nil {
		return p
	}
	p.tty = isTerminal(w)
	p.wg.Add(1)
	go p.loop()
	return p
}

// add counts n more units done.
func (p *progress) add(n int64) { p.done.Add(n) }

// set sets the units done.
func (p *progress) set(n int64) { p.done.Store(n) }

// finish draws the final state and stops.
func (p *progress) finish() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.wg.Wait()
}

func (p *progress) loop() {
	defer p.wg.Done()
	every := progressLogEvery
	if p.tty {
		every = progressRedraw
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.draw(false)
		case <-p.stop:
			p.draw(true)
			return
		}
	}
}

func (p *progress) draw(final bool) {
	done := p.done.Load()
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(done)/float64(p.total), 1)
	}
	bar := strings.Repeat("#", int(frac*progressWidth)) + strings.Repeat(".", progressWidth-int(frac*progressWidth))
	line := fmt.Sprintf("%-8s [%s] %3.0f%% %d/%d %5.1fs", p.label, bar, frac*100, done, p.total, time.Since(p.start).Seconds())
	if p.detail != nil {
		line += " " + p.detail()
	}
	switch {
	case p.tty && final:
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	case p.tty:
		fmt.Fprintf(p.w, "\r\033[K%s", line)
	default:
		fmt.Fprintln(p.w, line)
	}
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
