package bench

import (
	"errors"
	"fmt"
	"strings"
)

// maxTargets bounds the base URLs one run spreads its subscribers over.
const maxTargets = 64

// ParseTargets splits a -target value, one base URL or a comma-separated
// list of them, and checks each: an http://HOST:PORT on a loopback address,
// none empty, none twice. Every bad entry is reported.
func ParseTargets(list string) ([]string, error) {
	if strings.TrimSpace(list) == "" {
		return nil, errors.New("give at least one base URL")
	}
	parts := strings.Split(list, ",")
	if len(parts) > maxTargets {
		return nil, fmt.Errorf("at most %d base URLs (got %d)", maxTargets, len(parts))
	}
	var out []string
	var errs []error
	seen := map[string]bool{}
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			errs = append(errs, fmt.Errorf("entry %d is empty", i+1))
			continue
		}
		if err := CheckLoopback(p); err != nil {
			errs = append(errs, err)
			continue
		}
		key := strings.TrimSuffix(p, "/")
		if seen[key] {
			errs = append(errs, fmt.Errorf("%s is listed twice", p))
			continue
		}
		seen[key] = true
		out = append(out, key)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Targets returns the base URLs the subscribers are spread over (the parsed
// -target), or nil when -target is invalid.
func (c *Config) Targets() []string {
	t, err := ParseTargets(c.Target)
	if err != nil {
		return nil
	}
	return t
}

// PublishURL is the base URL publishes (and chaos faults) go to:
// -publish-target when given, else the first target.
func (c *Config) PublishURL() string {
	if c.PublishTarget != "" {
		return strings.TrimSuffix(strings.TrimSpace(c.PublishTarget), "/")
	}
	if t := c.Targets(); len(t) > 0 {
		return t[0]
	}
	return ""
}

// multiNode reports whether the run involves more than one server: several
// targets, or publishes sent to a server other than the only target.
func (c *Config) multiNode() bool {
	t := c.Targets()
	return len(t) > 1 || (c.PublishTarget != "" && len(t) == 1 && c.PublishURL() != t[0])
}

// spreadTargets returns, for each of n subscribers (subscriber i joins room
// i mod rooms), the index of the target it connects to. Subscribers are
// dealt round-robin over the targets in room order (all of room 0, then
// room 1, …), so every room is spread evenly over the targets (counts differ
// by at most one) and so is the whole fleet. With one room it is simply
// i mod targets; with one target, all zero.
func spreadTargets(n, rooms, targets int) []int {
	out := make([]int, n)
	if targets <= 1 || n == 0 {
		return out
	}
	rooms = max(rooms, 1)
	// Room r holds subscribers r, r+rooms, r+2·rooms, …: ceil((n-r)/rooms) of them.
	start := make([]int, rooms) // position of room r's first subscriber in room order
	pos := 0
	for r := range rooms {
		start[r] = pos
		if r < n {
			pos += (n - r + rooms - 1) / rooms
		}
	}
	for i := range out {
		out[i] = (start[i%rooms] + i/rooms) % targets
	}
	return out
}
