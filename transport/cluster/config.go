package cluster

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Defaults of Config.
const (
	// DefaultRecipientsWait bounds how long Publish waits for remote counts.
	DefaultRecipientsWait = 250 * time.Millisecond
	// DefaultHeartbeatInterval is how often a node republishes its hosted-room
	// set; a peer not heard from for three intervals is forgotten.
	DefaultHeartbeatInterval = 2 * time.Second
	// DefaultReconnectWait is the pause between two reconnect attempts to NATS.
	DefaultReconnectWait = time.Second
	// DefaultClusterName names the embedded NATS cluster; all routed gateways
	// must agree on it.
	DefaultClusterName = "hyvve-gateway"
	// DefaultSubjectPrefix is the first token of every subject the gateway uses.
	DefaultSubjectPrefix = "gw"
)

// Config selects and tunes clustering. Its zero value means single-node: no
// NATS server or client is started (Enabled reports false).
type Config struct {
	// URL joins an external NATS (cluster), e.g. nats://a:4222,nats://b:4222
	// (NATS_URL). Exclusive with Listen.
	URL string
	// Listen is host:port of the embedded NATS server's client listener
	// (NATS_LISTEN); port 0 picks a free port. Setting it embeds a server.
	Listen string
	// ClusterListen is host:port of the embedded server's route listener
	// (NATS_CLUSTER_LISTEN); port 0 picks a free port. Empty = not clustered.
	ClusterListen string
	// Routes are the peers' route URLs (NATS_ROUTES, comma-separated), e.g.
	// nats-route://10.0.0.2:6223; a bare host:port is accepted. Listing this
	// node's own route address is harmless, so every node may share one list.
	Routes []string
	// NodeID names this node in logs, metrics and the interest registry
	// (NODE_ID). Empty means a random id. It must be unique in the cluster.
	NodeID string
	// RecipientsWait bounds how long Publish waits for the counts of the other
	// hosting nodes. Zero means DefaultRecipientsWait.
	RecipientsWait time.Duration
	// RequireForReady makes Ready report false while NATS is unreachable
	// (NATS_REQUIRED_FOR_READY).
	RequireForReady bool

	// HeartbeatInterval is how often the hosted-room set is republished.
	// Zero means DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// ReconnectWait is the pause between reconnect attempts. Zero means
	// DefaultReconnectWait.
	ReconnectWait time.Duration
	// ClusterName is the embedded NATS cluster's name (NATS_CLUSTER_NAME).
	// Empty means DefaultClusterName.
	ClusterName string
	// SubjectPrefix is the first subject token, to let several deployments
	// share one external NATS (NATS_SUBJECT_PREFIX). Empty means
	// DefaultSubjectPrefix. It must be a valid NATS subject without wildcards.
	SubjectPrefix string

	// RecoveryWindow > 0 turns the JetStream recovery store on (store.go):
	// an embedded server then runs JetStream, and the node keeps room
	// broadcasts and sessions there (RECOVERY_WINDOW).
	RecoveryWindow time.Duration
	// RecoveryMaxMessages is the most broadcasts kept per room
	// (RECOVERY_MAX_MESSAGES). Zero means 1000.
	RecoveryMaxMessages int
	// StoreDir is where an embedded server's JetStream keeps its files
	// (NATS_STORE_DIR): streams on file there. Empty: streams in memory,
	// and the server's own state in a temporary directory removed at Close.
	StoreDir string
}

// recovery reports whether the JetStream recovery store is on.
func (c Config) recovery() bool { return c.RecoveryWindow > 0 }

// Enabled reports whether clustering is configured: URL or Listen is set.
func (c Config) Enabled() bool { return c.URL != "" || c.Listen != "" }

func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.RecipientsWait, DefaultRecipientsWait)
	def(&c.HeartbeatInterval, DefaultHeartbeatInterval)
	def(&c.ReconnectWait, DefaultReconnectWait)
	if c.ClusterName == "" {
		c.ClusterName = DefaultClusterName
	}
	if c.SubjectPrefix == "" {
		c.SubjectPrefix = DefaultSubjectPrefix
	}
	if c.RecoveryMaxMessages <= 0 {
		c.RecoveryMaxMessages = 1000
	}
	return c
}

// Validate reports the first setting that makes the configuration unusable.
func (c Config) Validate() error {
	switch {
	case !c.Enabled():
		if c.ClusterListen != "" || len(c.Routes) > 0 {
			return errors.New("cluster: NATS_CLUSTER_LISTEN/NATS_ROUTES need NATS_LISTEN")
		}
		return nil
	case c.URL != "" && c.Listen != "":
		return errors.New("cluster: NATS_URL and NATS_LISTEN are exclusive")
	case c.URL != "" && (c.ClusterListen != "" || len(c.Routes) > 0):
		return errors.New("cluster: NATS_CLUSTER_LISTEN/NATS_ROUTES apply to the embedded server, not to NATS_URL")
	case len(c.Routes) > 0 && c.ClusterListen == "":
		return errors.New("cluster: NATS_ROUTES needs NATS_CLUSTER_LISTEN")
	}
	if p := c.SubjectPrefix; p != "" {
		for _, t := range strings.Split(p, ".") {
			if t == "" || t == "*" || t == ">" || strings.ContainsAny(t, " \t\r\n") {
				return fmt.Errorf("cluster: invalid subject prefix %q", p)
			}
		}
	}
	if strings.ContainsAny(c.NodeID, " \t\r\n") {
		return fmt.Errorf("cluster: NODE_ID %q contains white space", c.NodeID)
	}
	return nil
}

// hostPort splits a listen address; port 0 means a random port.
func hostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("invalid port in %q", addr)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	if host == "" {
		host = "0.0.0.0"
	}
	return host, port, nil
}

// routeURLs parses route URLs, accepting a bare host:port.
func routeURLs(routes []string) ([]*url.URL, error) {
	out := make([]*url.URL, 0, len(routes))
	for _, r := range routes {
		if !strings.Contains(r, "://") {
			r = "nats-route://" + r
		}
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("cluster: invalid route %q", r)
		}
		out = append(out, u)
	}
	return out, nil
}
