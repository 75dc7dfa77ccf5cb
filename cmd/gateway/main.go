// Command gateway runs the HYVVE realtime gateway: Socket.IO v5 over
// WebSocket on an actor tree, with a publish API for backends.
//
//	gateway                      serve (configuration from env and flags)
//	gateway token --sub U --workspace W [--role R] [--ttl D]
//	                             print a token signed with JWT_SECRET
package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/hyvve/gateway/actors"
	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/supervision"
	"github.com/hyvve/gateway/transport"
	"github.com/hyvve/gateway/transport/cluster"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "token" {
		os.Exit(runToken(os.Args[2:], os.Getenv, os.Stdout, os.Stderr))
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stderr, nil))
}

// Connection budget from the file limit: fdReserve descriptors stay for the
// process itself (NATS, webhook calls, log files) and, within them,
// healthSpare connections for /healthz, /readyz and /metrics once the
// budget is used up (transport.LimitListener).
const (
	fdReserve   = 64
	healthSpare = 16
)

// devTokenTTL is how long the development token printed at start is valid.
const devTokenTTL = 24 * time.Hour

// run serves until ctx ends (SIGTERM), then drains. It returns the exit code.
// When started is not nil it receives the listener's address once serving.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer, started chan<- string) int {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		fmt.Fprintf(stderr, "gateway: configuration error:\n%v\n", err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)

	secret := []byte(cfg.JWTSecret)
	devMode := cfg.JWTSecret == "" && cfg.JWTPublicKeyFile == "" && cfg.JWTJWKSURL == ""
	var dev devSetup
	if devMode {
		dev = setUpDevMode(&cfg, getenv)
		secret = dev.secret
	}
	var publicKey []byte
	if cfg.JWTPublicKeyFile != "" {
		if publicKey, err = os.ReadFile(cfg.JWTPublicKeyFile); err != nil {
			log.Error("cannot read JWT_PUBLIC_KEY_FILE", "err", err)
			return 2
		}
	}
	verifier, closer, err := security.NewVerifier(ctx, security.VerifierConfig{
		Secret: hmacSecret(devMode, cfg.JWTSecret, secret), PublicKeyPEM: publicKey, JWKSURL: cfg.JWTJWKSURL,
		Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, MaxTokenBytes: cfg.MaxTokenBytes,
	})
	if err != nil {
		log.Error("cannot build the token verifier", "err", err)
		return 2
	}
	defer closer.Close()
	policy := security.DefaultPolicy()
	if cfg.RBACPolicyFile != "" {
		if policy, err = security.LoadPolicy(cfg.RBACPolicyFile); err != nil {
			log.Error("cannot load RBAC_POLICY_FILE", "err", err)
			return 2
		}
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	node, err := cluster.Start(cfg.clusterConfig(), log, reg) // nil when clustering is off
	if err != nil {
		log.Error("cannot join the cluster", "err", err)
		return 1
	}
	defer node.Close()
	if node != nil {
		log = log.With("node", node.ID())
		log.Info("cluster enabled", "nats_client_url", node.ClientURL(), "nats_route_url", node.RouteURL())
	}
	feed := consoleFeed(&cfg)
	events := security.NewEventLog(securityLogger(feed, log), reg, 0, 0)
	system, err := actors.NewSystem(cfg.actorsConfig(), actors.Deps{
		Logger: log, Events: events, Verifier: verifier, Policy: policy, Registry: reg,
		HTTPClient: &http.Client{Timeout: cfg.ActionWebhookTimeout}, Cluster: node,
	})
	if err != nil {
		log.Error("cannot start the actor system", "err", err)
		return 1
	}
	tcfg := cfg.transportConfig()
	tcfg.AllowLoopbackOrigins = devMode
	deps := transport.Deps{Verifier: verifier, Gateway: system, Events: events, Logger: log, Registry: reg, Ready: node.Ready}
	if node != nil {
		deps.Relay = node // polling requests reach their session's node: no sticky sessions
	}
	srv := transport.NewServer(tcfg, deps)
	if err := node.ServeRelay(srv.ServeRelayed); err != nil {
		log.Error("cannot serve the polling relay", "err", err)
		system.Shutdown()
		return 1
	}
	if cfg.FaultInjection && cfg.AdminAPIKey == "" {
		log.Warn("FAULT_INJECTION=1 without ADMIN_API_KEY: fault injection stays off")
	}
	if cfg.FaultInjection && cfg.AdminAPIKey != "" {
		srv.Handle("/debug/faults", transport.FaultsHandler(cfg.AdminAPIKey, faultAdapter{system}, cfg.MaxMessageBytes))
		log.Warn("fault injection is enabled: POST /debug/faults can make actors panic or stall")
	}

	if cfg.PprofAddr != "" {
		pp, err := startPprof(cfg.PprofAddr, log)
		if err != nil {
			log.Error("cannot listen for pprof", "addr", cfg.PprofAddr, "err", err)
			system.Shutdown()
			return 1
		}
		defer pp.Close()
	}
	ln, err := net.Listen("tcp", cfg.ListenAddr)
	if err != nil {
		log.Error("cannot listen", "addr", cfg.ListenAddr, "err", err)
		system.Shutdown()
		return 1
	}
	budget := connectionBudget(cfg.MaxOpenConnections)
	ln = transport.LimitListener(ln, budget, healthSpare, func() {
		log.Debug("connection refused at accept: MAX_OPEN_CONNECTIONS reached", "budget", budget)
	})
	httpSrv := srv.HTTPServer(slog.NewLogLogger(log.Handler(), slog.LevelWarn))
	mountConsole(&cfg, feed, srv, system, reg, log, httpSrv)
	serveErr := make(chan error, 1)
	go func() { serveErr <- httpSrv.Serve(ln) }()
	if devMode {
		announceDevMode(stderr, log, dev, ln.Addr().String())
	}
	log.Info("gateway listening", "addr", ln.Addr().String(), "dev_mode", devMode)
	if started != nil {
		started <- ln.Addr().String()
	}

	select {
	case <-ctx.Done():
	case err := <-serveErr:
		log.Error("http server failed", "err", err)
		system.Shutdown()
		return 1
	}
	return drain(log, cfg.ShutdownTimeout, srv, system, httpSrv)
}

// drain is the SIGTERM path: not ready, every client's transport closed
// (1001, or a polling session's close packet; no DISCONNECT, so clients
// reconnect by themselves and recover their sessions), paced over half of
// the timeout so they do not all come back at one instant; then the tree,
// the sockets and the listener.
func drain(log *slog.Logger, timeout time.Duration, srv *transport.Server, system *actors.System, httpSrv *http.Server) int {
	log.Info("draining", "timeout", timeout.String())
	srv.Drain()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		system.Drain(ctx, timeout/2)               // paced closes, from the connection actors
		system.Shutdown()                          // the rest of the tree (and any connection left)
		srv.CloseAll(messages.CloseServerShutdown) // sockets no actor owns yet: 1001
		if err := srv.WaitConns(ctx); err != nil {
			log.Warn("sockets still open at the shutdown deadline", "err", err)
		}
		_ = httpSrv.Shutdown(ctx)
	}()
	select {
	case <-done:
		log.Info("drained")
	case <-ctx.Done():
		log.Warn("shutdown timeout reached; exiting anyway")
		_ = httpSrv.Close()
	}
	return 0
}

// hmacSecret returns the HS256 secret, if any: the configured one, or the
// random development secret.
func hmacSecret(devMode bool, configured string, dev []byte) []byte {
	if devMode {
		return dev
	}
	if configured == "" {
		return nil
	}
	return []byte(configured)
}

// devSetup is what development mode runs with and announces.
type devSetup struct {
	secret     []byte
	secretPath string // where the secret is kept; empty: it lives only in this process
	keepErr    error  // why it could not be kept
	publishKey string // the development publish key; empty: PUBLISH_API_KEY is set
}

// setUpDevMode loads (or creates) the kept development secret, falling back
// to a random one, and sets a development publish key when none is set.
func setUpDevMode(cfg *Config, getenv func(string) string) devSetup {
	var d devSetup
	path, err := devSecretPath(getenv)
	if err == nil {
		d.secret, err = loadDevSecret(path)
	}
	if err != nil {
		d.keepErr = err
		d.secret = make([]byte, devSecretBytes)
		_, _ = rand.Read(d.secret)
	} else {
		d.secretPath = path
	}
	if cfg.PublishAPIKey == "" {
		d.publishKey = devPublishKey(d.secret)
		cfg.PublishAPIKey = d.publishKey
	}
	return d
}

// announceDevMode prints the insecure-mode warning, a ready token and, when
// no PUBLISH_API_KEY is set, the development publish key with a curl line.
// These are the one token and the one key that may appear in the output.
func announceDevMode(w io.Writer, log *slog.Logger, d devSetup, addr string) {
	where := "kept in " + d.secretPath + " (tokens outlive a restart; `gateway token` signs with it)"
	if d.secretPath == "" {
		where = "random, living only in this process (it could not be kept: " + d.keepErr.Error() + ")"
	}
	log.Warn("INSECURE DEVELOPMENT MODE: no JWT key configured (JWT_SECRET, JWT_PUBLIC_KEY_FILE or JWT_JWKS_URL); tokens are signed with a development secret " +
		where + ", and any http://localhost or http://127.0.0.1 origin may connect. Never run this in production.")
	token, err := security.MintHS256(d.secret, security.Claims{
		Subject: "dev-user", WorkspaceID: "dev-workspace", Role: "owner", ExpiresAt: time.Now().Add(devTokenTTL),
	})
	if err != nil {
		log.Error("cannot mint the development token", "err", err)
		return
	}
	_, port, _ := net.SplitHostPort(addr)
	fmt.Fprintf(w, `
================= INSECURE DEVELOPMENT MODE =================
No JWT key is configured. Tokens are signed with a development
secret, %s.
Any http://localhost:* or http://127.0.0.1:* browser origin may
connect (development mode only), besides ALLOWED_ORIGINS.
Do not use in production.

Development token (sub=dev-user, workspaceId=dev-workspace,
role=owner, valid %s):

%s

Try it:
  io("http://localhost:%s", { auth: { token: "<token above>" } })
Another identity:
  go run ./cmd/gateway token --sub alice --workspace dev-workspace
`, where, devTokenTTL, token, port)
	if d.publishKey != "" {
		fmt.Fprintf(w, `
Development publish key (PUBLISH_API_KEY is not set): %s
  curl -X POST http://localhost:%s/v1/publish -H "Authorization: Bearer %s" \
    -d '{"room":"workspace:dev-workspace:dashboard","event":"metrics.updated","data":{"cpu":0.42}}'
`, d.publishKey, port, d.publishKey)
	}
	fmt.Fprint(w, "=============================================================\n\n")
}

// faultAdapter adapts actors.System to transport.FaultInjector.
type faultAdapter struct{ s *actors.System }

// Kinds lists supervision's injectable kinds of actor.
func (faultAdapter) Kinds() []string { return names(supervision.Injectable) }

// Faults lists supervision's faults.
func (faultAdapter) Faults() []string { return names(supervision.Faults) }

func names[T ~string](v []T) []string {
	out := make([]string, len(v))
	for i, s := range v {
		out[i] = string(s)
	}
	return out
}

func (f faultAdapter) InjectFault(ctx context.Context, kind, target, fault string, d time.Duration) (int, error) {
	return f.s.InjectFault(ctx, supervision.Kind(kind), target, supervision.Fault(fault), d)
}
