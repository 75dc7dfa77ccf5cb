package bench

import "time"

// Clock is the process's one monotonic clock: the publisher stamps a
// message with Now and the subscriber that receives it subtracts the stamp
// from its own Now. Both read the same time.Time's monotonic reading, so
// wall-clock steps never show up as latency.
type Clock struct{ start time.Time }

// NewClock starts a clock at the current instant.
func NewClock() Clock { return Clock{start: time.Now()} }

// Now returns the nanoseconds since the clock started.
func (c Clock) Now() int64 { return int64(time.Since(c.start)) }
