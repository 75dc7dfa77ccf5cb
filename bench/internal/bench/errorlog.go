package bench

import (
	"fmt"
	"sort"
	"sync"
)

// maxErrorKinds bounds the distinct error messages a run keeps.
const maxErrorKinds = 8

// errorLog counts a run's errors by phase and message, keeping a few
// distinct messages so a failure can be reported precisely without
// thousands of lines.
type errorLog struct {
	mu     sync.Mutex
	counts map[string]int
	total  int
}

func newErrorLog() *errorLog { return &errorLog{counts: map[string]int{}} }

// add records err in phase.
func (e *errorLog) add(phase string, err error) {
	if err == nil {
		return
	}
	key := phase + ": " + err.Error()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.total++
	if _, ok := e.counts[key]; ok || len(e.counts) < maxErrorKinds {
		e.counts[key]++
	}
}

// list returns "N× phase: message" lines, most frequent first.
func (e *errorLog) list() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.counts)+1)
	keys := make([]string, 0, len(e.counts))
	kept := 0
	for k, n := range e.counts {
		keys = append(keys, k)
		kept += n
	}
	sort.Slice(keys, func(i, j int) bool { return e.counts[keys[i]] > e.counts[keys[j]] })
	for _, k := range keys {
		out = append(out, fmt.Sprintf("%d× %s", e.counts[k], k))
	}
	if rest := e.total - kept; rest > 0 {
		out = append(out, fmt.Sprintf("%d× other errors", rest))
	}
	return out
}
