package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Scenario names one workload.
type Scenario string

// The workloads the tool runs.
const (
	// ScenarioFanout is steady fan-out: N subscribers in one room, M messages at rate P.
	ScenarioFanout Scenario = "fanout"
	// ScenarioRooms is steady fan-out to many small rooms, published round-robin.
	ScenarioRooms Scenario = "rooms"
	// ScenarioBurst publishes M messages as fast as the publish path accepts them.
	ScenarioBurst Scenario = "burst"
	// ScenarioStorm measures how fast N clients connect, authenticate and join.
	ScenarioStorm Scenario = "storm"
	// ScenarioIdle measures the server's memory per connection at N idle clients.
	ScenarioIdle Scenario = "idle"
	// ScenarioChaos is fan-out while faults are injected into rooms and connections.
	ScenarioChaos Scenario = "chaos"
)

// Scenarios lists every scenario in the order compare runs them.
func Scenarios() []Scenario {
	return []Scenario{ScenarioFanout, ScenarioRooms, ScenarioBurst, ScenarioStorm, ScenarioIdle, ScenarioChaos}
}

// ParseScenario returns the scenario called name.
func ParseScenario(name string) (Scenario, error) {
	for _, s := range Scenarios() {
		if string(s) == name {
			return s, nil
		}
	}
	return "", fmt.Errorf("unknown scenario %q: want one of fanout, rooms, burst, storm, idle, chaos", name)
}

// publishes reports whether the scenario publishes messages.
func (s Scenario) publishes() bool {
	return s == ScenarioFanout || s == ScenarioRooms || s == ScenarioBurst || s == ScenarioChaos
}

// Limits that keep every run bounded and on this machine's scale.
const (
	maxClients      = 100000
	maxMessages     = 1000000
	maxRate         = 100000 // messages per second
	minPayloadBytes = 64     // room for the stamp ({"t":…,"s":…,"p":""})
	maxPayloadBytes = 90000  // under the gateway's 100000-byte publish body limit, with the envelope
	maxConcurrency  = 10000
	maxPublishers   = 256
	maxHold         = 10 * time.Minute
	maxTimeout      = 2 * time.Hour
	maxFaultRate    = 100 // faults per second
)

// Default sizes: the targets the gateway is measured against.
const (
	defaultPayloadBytes = 200
	defaultRate         = 50 // messages per second
	defaultConcurrency  = 100
	defaultPublishers   = 8
	defaultHold         = 5 * time.Second
	defaultTimeout      = 5 * time.Minute
	defaultFaultRate    = 1 // faults per second
)

// Quick sizes: a smoke run of any scenario in about 20 s.
const (
	quickClients   = 200
	quickRooms     = 4
	quickMessages  = 100
	quickBurst     = 200
	quickHold      = 2 * time.Second
	quickFaultRate = 2
	// quickChaosMessages makes a quick chaos run last 5 s at the default
	// rate, long enough for ten faults.
	quickChaosMessages = 250
)

// Config is one run of one scenario against one server.
type Config struct {
	Scenario      Scenario
	Target        string        // base URL of the server, e.g. http://127.0.0.1:8080, or a comma-separated list of them (loopback only; see Targets)
	PublishTarget string        // base URL publishes go to; empty: the first target
	Transport     Transport     // how the subscribers connect: websocket (the zero value too), polling or default
	PollTarget    string        // polling: base URL(s) the requests after the handshake go to, one for all or one per target; empty: the target itself
	Clients       int           // subscribers (N)
	Rooms         int           // rooms (R); client i joins room i mod R
	Messages      int           // messages to publish (M)
	Rate          float64       // messages per second (P); 0 publishes as fast as accepted
	PayloadBytes  int           // size of each message's data
	Concurrency   int           // connection attempts in flight during the ramp
	Publishers    int           // publish requests in flight
	Hold          time.Duration // idle: how long the clients stay idle before memory is read
	FaultRate     float64       // chaos: faults injected per second
	Timeout       time.Duration // hard limit of the whole run
	ServerPIDs    []int         // the server processes (one per node), for RSS and CPU summed; none skips them
	Probe         bool          // before publishing, wait until a probe publish counts every joined member (always on with several servers)
	JWTSecret     string        // HS256 secret the server verifies tokens with
	PublishKey    string        // bearer key of POST /v1/publish
	AdminKey      string        // bearer key of POST /debug/faults (chaos)
	Quick         bool          // small sizes for a smoke run
	Progress      bool          // progress bar on stderr
	Format        string        // "table", "json" or "both"
	PlotPath      string        // latency CDF PNG; empty writes none
}

// Default secrets the tool uses when the caller gives none; compare starts
// its servers with them.
const (
	DefaultJWTSecret  = "bench-jwt-secret-0123456789abcdef"
	DefaultPublishKey = "bench-publish-key"
	DefaultAdminKey   = "bench-admin-key"
)

// DefaultConfig returns the target sizes of scenario s (or the quick ones).
func DefaultConfig(s Scenario, quick bool) Config {
	c := Config{
		Scenario: s, Target: "http://127.0.0.1:8080", Transport: TransportWebSocket,
		Clients: 1000, Rooms: 1, Messages: 500, Rate: defaultRate, PayloadBytes: defaultPayloadBytes,
		Concurrency: defaultConcurrency, Publishers: defaultPublishers, Hold: defaultHold,
		FaultRate: defaultFaultRate, Timeout: defaultTimeout,
		JWTSecret: DefaultJWTSecret, PublishKey: DefaultPublishKey, AdminKey: DefaultAdminKey,
		Quick: quick, Progress: true, Format: "both",
	}
	switch s {
	case ScenarioRooms:
		c.Clients, c.Rooms = 5000, 20
	case ScenarioBurst:
		c.Clients, c.Messages, c.Rate = 5000, 1000, 0
	case ScenarioStorm, ScenarioIdle:
		c.Clients, c.Messages, c.Rate = 9000, 0, 0
	case ScenarioChaos:
		c.Clients, c.Rooms = 1000, 10
	}
	if quick {
		c.Clients = quickClients
		c.Hold = quickHold
		if c.Rooms > 1 {
			c.Rooms = quickRooms
		}
		switch {
		case s == ScenarioBurst:
			c.Messages = quickBurst
		case s.publishes():
			c.Messages = quickMessages
		}
		if s == ScenarioChaos {
			c.Messages, c.FaultRate = quickChaosMessages, quickFaultRate
		}
	}
	return c
}

// Validate reports every bad field at once, each with the flag it comes from.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if _, err := ParseScenario(string(c.Scenario)); err != nil {
		errs = append(errs, err)
	}
	targets, err := ParseTargets(c.Target)
	if err != nil {
		errs = append(errs, fmt.Errorf("-target: %w", err))
	}
	if c.PublishTarget != "" {
		if err := CheckLoopback(strings.TrimSpace(c.PublishTarget)); err != nil {
			errs = append(errs, fmt.Errorf("-publish-target: %w", err))
		}
	}
	if c.Transport == "" {
		c.Transport = TransportWebSocket
	}
	if _, err := ParseTransport(string(c.Transport)); err != nil {
		errs = append(errs, fmt.Errorf("-transport: %w", err))
	}
	if c.PollTarget != "" {
		polls, err := ParseTargets(c.PollTarget)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("-poll-target: %w", err))
		case !c.Transport.polls():
			bad("-poll-target needs -transport polling or default (got %s)", c.Transport)
		case len(polls) != 1 && len(polls) != len(targets):
			bad("-poll-target takes one base URL, or one per -target (%d) (got %d)", len(targets), len(polls))
		}
	}
	if c.Scenario == ScenarioChaos && (len(targets) > 1 || c.PublishTarget != "") {
		bad("scenario chaos takes a single -target and no -publish-target (faults are aimed at one server)")
	}
	if c.Clients < 1 || c.Clients > maxClients {
		bad("-clients must be between 1 and %d (got %d)", maxClients, c.Clients)
	}
	if c.Rooms < 1 || c.Rooms > c.Clients {
		bad("-rooms must be between 1 and -clients (%d) (got %d)", c.Clients, c.Rooms)
	}
	if c.Messages < 0 || c.Messages > maxMessages {
		bad("-messages must be between 0 and %d (got %d)", maxMessages, c.Messages)
	}
	if c.Scenario.publishes() && c.Messages == 0 {
		bad("-messages must be at least 1 for scenario %s", c.Scenario)
	}
	if c.Rate < 0 || c.Rate > maxRate {
		bad("-rate must be between 0 (as fast as accepted) and %d messages/s (got %g)", maxRate, c.Rate)
	}
	if c.PayloadBytes < minPayloadBytes || c.PayloadBytes > maxPayloadBytes {
		bad("-payload must be between %d and %d bytes (got %d)", minPayloadBytes, maxPayloadBytes, c.PayloadBytes)
	}
	if c.Concurrency < 1 || c.Concurrency > maxConcurrency {
		bad("-concurrency must be between 1 and %d (got %d)", maxConcurrency, c.Concurrency)
	}
	if c.Publishers < 1 || c.Publishers > maxPublishers {
		bad("-publishers must be between 1 and %d (got %d)", maxPublishers, c.Publishers)
	}
	if c.Hold < 0 || c.Hold > maxHold {
		bad("-hold must be between 0 and %s (got %s)", maxHold, c.Hold)
	}
	if c.FaultRate < 0 || c.FaultRate > maxFaultRate {
		bad("-fault-rate must be between 0 and %d per second (got %g)", maxFaultRate, c.FaultRate)
	}
	if c.Scenario == ScenarioChaos && c.AdminKey == "" {
		bad("-admin-key is required for scenario chaos (the server's ADMIN_API_KEY)")
	}
	if c.Timeout <= 0 || c.Timeout > maxTimeout {
		bad("-timeout must be positive and at most %s (got %s)", maxTimeout, c.Timeout)
	}
	for _, pid := range c.ServerPIDs {
		if pid <= 0 {
			bad("-server-pid must be process ids (got %d)", pid)
		}
	}
	if c.JWTSecret == "" {
		bad("-jwt-secret must not be empty")
	}
	if c.Scenario.publishes() && c.PublishKey == "" {
		bad("-publish-key must not be empty for scenario %s", c.Scenario)
	}
	switch c.Format {
	case "table", "json", "both":
	default:
		bad("-format must be table, json or both (got %q)", c.Format)
	}
	return errors.Join(errs...)
}

// PollTargets returns the base URL the polling requests of a subscriber
// dealt to each target go to (the parsed -poll-target, one per target), or
// nil when there is none (each subscriber polls its own target).
func (c *Config) PollTargets() []string {
	if c.PollTarget == "" {
		return nil
	}
	p, err := ParseTargets(c.PollTarget)
	if err != nil {
		return nil
	}
	t := c.Targets()
	if len(p) == 1 && len(t) > 1 {
		for len(p) < len(t) {
			p = append(p, p[0])
		}
	}
	return p
}

// roomName is the name of room r: one workspace per room, since a
// workspace has only two rooms (dashboard and approvals).
func roomName(r int) string { return fmt.Sprintf("workspace:w%d:dashboard", r) }

// workspaceOf is the workspace whose dashboard is room r.
func workspaceOf(r int) string { return fmt.Sprintf("w%d", r) }
