package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ErrHelp is returned by the parsers when -h or -help was asked for; the
// usage has been written.
var ErrHelp = flag.ErrHelp

// ParseRunFlags builds the Config of one scenario run from its flags: the
// scenario's target sizes (or -quick ones), then the flags. usage receives
// the help text on -h and on a bad flag.
func ParseRunFlags(s Scenario, args []string, usage io.Writer) (Config, error) {
	if _, err := ParseScenario(string(s)); err != nil {
		return Config{}, err
	}
	c := DefaultConfig(s, false)
	fs := flag.NewFlagSet("gateway-bench "+string(s), flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.StringVar(&c.Target, "target", c.Target, "base URL of the server, or a comma-separated list of nodes' base URLs to spread the subscribers over round-robin (loopback addresses only)")
	fs.StringVar(&c.PublishTarget, "publish-target", c.PublishTarget, "base URL publishes go to (default: the first -target)")
	fs.Var((*transportFlag)(&c.Transport), "transport", "how the subscribers connect: websocket, polling (Engine.IO long-polling only) or default (socket.io-client's defaults: polling handshake and CONNECT, then the upgrade to WebSocket)")
	fs.StringVar(&c.PollTarget, "poll-target", c.PollTarget, "polling/default: base URL every request after the handshake goes to (POSTs, long polls, the upgrade), or one per -target, comma-separated; with clustered gateways, a node that does not hold the session relays them (default: the target itself)")
	fs.BoolVar(&c.Probe, "probe", c.Probe, "before publishing, publish probes until every room's recipients count matches its joined members (always on with several targets or a -publish-target)")
	fs.IntVar(&c.Clients, "clients", c.Clients, "subscribers to connect (N)")
	fs.IntVar(&c.Rooms, "rooms", c.Rooms, "rooms (R); client i joins room i mod R")
	fs.IntVar(&c.Messages, "messages", c.Messages, "messages to publish (M)")
	fs.Float64Var(&c.Rate, "rate", c.Rate, "messages per second (P); 0 publishes as fast as the server accepts")
	fs.IntVar(&c.PayloadBytes, "payload", c.PayloadBytes, "bytes of data per message")
	fs.IntVar(&c.Concurrency, "concurrency", c.Concurrency, "connection attempts in flight during the ramp")
	fs.IntVar(&c.Publishers, "publishers", c.Publishers, "publish requests in flight")
	fs.DurationVar(&c.Hold, "hold", c.Hold, "idle: how long the clients stay idle before the server's memory is read")
	fs.Float64Var(&c.FaultRate, "fault-rate", c.FaultRate, "chaos: faults injected per second, alternating room and connection")
	fs.DurationVar(&c.Timeout, "timeout", c.Timeout, "hard limit of the whole run")
	fs.Var((*pidList)(&c.ServerPIDs), "server-pid", "the server's PID, or a comma-separated list of the nodes' PIDs, to read RSS and CPU time (summed) from /proc (0 or none: skip)")
	fs.StringVar(&c.JWTSecret, "jwt-secret", c.JWTSecret, "HS256 secret the server verifies tokens with (its JWT_SECRET)")
	fs.StringVar(&c.PublishKey, "publish-key", c.PublishKey, "the server's PUBLISH_API_KEY")
	fs.StringVar(&c.AdminKey, "admin-key", c.AdminKey, "the server's ADMIN_API_KEY (chaos)")
	fs.BoolVar(&c.Quick, "quick", false, "small sizes: a smoke run in about 20 s (flags given explicitly still win)")
	fs.BoolVar(&c.Progress, "progress", c.Progress, "progress bar on stderr")
	fs.StringVar(&c.Format, "format", c.Format, "output on stdout: table, json (one line) or both")
	fs.StringVar(&c.PlotPath, "plot", c.PlotPath, "write the latency CDF to this PNG file")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.Quick {
		applyQuick(&c, fs)
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// transportFlag is the value of -transport.
type transportFlag Transport

// String returns the transport's name.
func (t *transportFlag) String() string {
	if t == nil || *t == "" {
		return string(TransportWebSocket)
	}
	return string(*t)
}

// Set parses websocket, polling or default.
func (t *transportFlag) Set(v string) error {
	p, err := ParseTransport(v)
	if err != nil {
		return err
	}
	*t = transportFlag(p)
	return nil
}

// pidList is the value of -server-pid: PID[,PID…]; "0" or "" is none.
type pidList []int

// String returns the PIDs comma-separated.
func (p *pidList) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(*p))
	for i, pid := range *p {
		s[i] = strconv.Itoa(pid)
	}
	return strings.Join(s, ",")
}

// Set parses PID[,PID…], replacing any earlier value.
func (p *pidList) Set(v string) error {
	var out []int
	for _, f := range splitComma(v) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			return fmt.Errorf("%q is not a process id", f)
		}
		if pid == 0 && len(splitComma(v)) == 1 {
			break // the single-server habit: 0 means skip
		}
		out = append(out, pid)
	}
	*p = out
	return nil
}

// applyQuick replaces the sizes the caller did not set with the quick ones.
func applyQuick(c *Config, fs *flag.FlagSet) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	q := DefaultConfig(c.Scenario, true)
	if !set["clients"] {
		c.Clients = q.Clients
	}
	if !set["rooms"] {
		c.Rooms = q.Rooms
	}
	if !set["messages"] {
		c.Messages = q.Messages
	}
	if !set["hold"] {
		c.Hold = q.Hold
	}
	if !set["fault-rate"] {
		c.FaultRate = q.FaultRate
	}
	c.Quick = true
}

// IsHelp reports whether err is the parsers' answer to -h.
func IsHelp(err error) bool { return errors.Is(err, ErrHelp) }
