package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// PeerKind names a server compare can start.
type PeerKind string

// The peers: the gateway, the raw floor in its two write modes, and a
// stock Node.js Socket.IO v4 server.
const (
	PeerGateway       PeerKind = "gateway"
	PeerFloorVectored PeerKind = "floor-vectored"
	PeerFloorSingle   PeerKind = "floor-single"
	PeerSocketIO      PeerKind = "socketio"
	// PeerGatewayNoRecovery is the gateway with RECOVERY_WINDOW=0
	// (connection state recovery off).
	PeerGatewayNoRecovery PeerKind = "gateway-norecovery"
	// PeerGatewayOld is another gateway binary, given by compare's
	// -old-gateway (an earlier build, for before/after runs).
	PeerGatewayOld PeerKind = "gateway-old"
)

// Peers lists every peer in measuring order.
func Peers() []PeerKind {
	return []PeerKind{PeerGateway, PeerFloorVectored, PeerFloorSingle, PeerSocketIO}
}

// ParsePeer returns the peer called name: one of Peers, or one of the
// gateway's variants (gateway-norecovery, gateway-old), which compare
// measures only when asked.
func ParsePeer(name string) (PeerKind, error) {
	for _, p := range append(Peers(), PeerGatewayNoRecovery, PeerGatewayOld) {
		if string(p) == name {
			return p, nil
		}
	}
	return "", fmt.Errorf("unknown peer %q: want gateway, floor-vectored, floor-single, socketio, gateway-norecovery or gateway-old", name)
}

// isGateway reports whether the peer is a gateway process (the gateway's
// environment, cluster settings and "listening" line).
func (k PeerKind) isGateway() bool {
	return k == PeerGateway || k == PeerGatewayNoRecovery || k == PeerGatewayOld
}

// supportsFaults reports whether the peer serves POST /debug/faults.
func (k PeerKind) supportsFaults() bool { return k.isGateway() }

// Peer process timings.
const (
	// peerStartTimeout bounds the wait for a peer's "listening" line.
	peerStartTimeout = 30 * time.Second
	// peerStopTimeout is how long a peer may drain after SIGTERM before
	// it is killed.
	peerStopTimeout = 15 * time.Second
)

// Environment given to the gateway peer: limits opened wide so the load,
// not a policy, is what is measured.
const (
	benchMaxConnsPerIP   = "1000000"
	benchMaxMsgsPerMin   = "100000"
	nodePeerDir          = "bench/peers/node-socketio" // from the repository root
	gatewayPackage       = "./cmd/gateway"             // built in the repository root (the gateway's module)
	benchModuleDir       = "bench"                     // the load tool's own module, from the repository root
	rawFloorPackage      = "./peers/rawfloor"          // built in benchModuleDir
	gatewayBinaryName    = "gateway"
	rawFloorBinaryName   = "rawfloor"
	listeningMessageTail = "listening"
)

// gatewayEnvNames are the gateway's settings; inherited values are dropped
// so that the caller's shell cannot change what compare measures.
func gatewayEnvNames() []string {
	return []string{"LISTEN_ADDR", "JWT_SECRET", "JWT_PUBLIC_KEY_FILE", "JWT_JWKS_URL", "JWT_ISSUER", "JWT_AUDIENCE",
		"PUBLISH_API_KEY", "ADMIN_API_KEY", "FAULT_INJECTION", "PING_INTERVAL", "PING_TIMEOUT", "MAX_CONNECTIONS_PER_IP",
		"MAX_MESSAGES_PER_MINUTE", "MAX_MESSAGE_BYTES", "OUTBOUND_QUEUE_BYTES", "ALLOWED_ORIGINS", "TRUSTED_PROXIES",
		"ROOM_IDLE_TIMEOUT", "TOKEN_EXPIRY_WARNING", "SHUTDOWN_TIMEOUT", "RBAC_POLICY_FILE", "ACTION_WEBHOOK_URL",
		"ACTION_WEBHOOK_TIMEOUT", "LOG_LEVEL", "LOG_FORMAT", "NATS_URL", "NATS_LISTEN", "NATS_CLUSTER_LISTEN", "NATS_ROUTES",
		"NODE_ID", "NATS_REQUIRED_FOR_READY", "NATS_RECIPIENTS_WAIT", "RECOVERY_WINDOW", "RECOVERY_MAX_MESSAGES",
		"PPROF_ADDR", "HTTP_READ_TIMEOUT", "HTTP_IDLE_TIMEOUT", "MAX_HEADER_BYTES", "CONNECT_TIMEOUT", "MAX_TOKEN_BYTES",
		"MAX_OPEN_CONNECTIONS"}
}

// PeerSetup is where the peers come from and the secrets they are given.
type PeerSetup struct {
	RepoDir    string // the repository root (the gateway's module; the bench module is its bench/)
	BinDir     string // where BuildPeers puts the Go peers' binaries
	JWTSecret  string
	PublishKey string
	AdminKey   string
	// OldGateway is the binary of the gateway-old peer (an earlier build);
	// it is never built.
	OldGateway string
}

// BuildPeers builds the gateway and the raw floor binaries when kinds need
// them, and checks that Node and the Socket.IO peer's packages are there.
func BuildPeers(ctx context.Context, s PeerSetup, kinds []PeerKind, log io.Writer) error {
	// go build runs in each package's own module, so -o must not be
	// relative to the tool's working directory.
	binDir, err := filepath.Abs(s.BinDir)
	if err != nil {
		return err
	}
	built := map[string]bool{}
	for _, k := range kinds {
		var pkg, bin, moduleDir string
		switch k {
		case PeerGateway, PeerGatewayNoRecovery:
			pkg, bin, moduleDir = gatewayPackage, gatewayBinaryName, s.RepoDir
		case PeerGatewayOld:
			if _, err := os.Stat(s.OldGateway); s.OldGateway == "" || err != nil {
				return fmt.Errorf("bench: peer gateway-old needs -old-gateway, the path of a built gateway binary (got %q)", s.OldGateway)
			}
			continue
		case PeerFloorVectored, PeerFloorSingle:
			pkg, bin, moduleDir = rawFloorPackage, rawFloorBinaryName, filepath.Join(s.RepoDir, benchModuleDir)
		case PeerSocketIO:
			if _, err := exec.LookPath("node"); err != nil {
				return errors.New("bench: peer socketio needs node in PATH")
			}
			if _, err := os.Stat(filepath.Join(s.RepoDir, nodePeerDir, "node_modules", "socket.io")); err != nil {
				return fmt.Errorf("bench: peer socketio: run `npm ci --prefix %s` first (bench/compare.sh does)",
					filepath.Join(s.RepoDir, nodePeerDir))
			}
			continue
		}
		if built[bin] {
			continue
		}
		built[bin] = true
		fmt.Fprintf(log, "building %s in %s\n", pkg, moduleDir)
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(binDir, bin), pkg)
		cmd.Dir = moduleDir
		cmd.Stdout, cmd.Stderr = log, log
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("bench: building %s: %w", pkg, err)
		}
	}
	return nil
}

// Peer is one running server process that compare started.
type Peer struct {
	Kind  PeerKind
	Addr  string // HOST:PORT it listens on
	PID   int
	Route string // a clustered gateway's NATS route URL (nats-route://HOST:PORT); else empty

	cmd    *exec.Cmd
	exited chan error
}

// URL is the peer's base URL.
func (p *Peer) URL() string { return "http://" + p.Addr }

// StartPeer starts a peer on a free loopback port and waits until it
// serves. Its stderr and stdout go to logPath. faults enables the gateway's
// fault injection.
func StartPeer(ctx context.Context, s PeerSetup, k PeerKind, logPath string, faults bool) (*Peer, error) {
	return startPeer(ctx, s, k, logPath, faults, nil)
}

// startGatewayBinary starts the gateway binary bin as the gateway peer,
// with extra environment.
func startGatewayBinary(ctx context.Context, s PeerSetup, bin, logPath string, extraEnv []string) (*Peer, error) {
	s.OldGateway = bin
	return startPeer(ctx, s, PeerGatewayOld, logPath, false, extraEnv)
}

// startPeer is StartPeer with extra environment for the gateway (its
// cluster settings).
func startPeer(ctx context.Context, s PeerSetup, k PeerKind, logPath string, faults bool, extraEnv []string) (*Peer, error) {
	var cmd *exec.Cmd
	switch k {
	case PeerGateway, PeerGatewayNoRecovery, PeerGatewayOld:
		bin := filepath.Join(s.BinDir, gatewayBinaryName)
		if k == PeerGatewayOld {
			bin = s.OldGateway
		}
		cmd = exec.Command(bin)
		cmd.Env = append(filterEnv(os.Environ(), gatewayEnvNames()),
			"LISTEN_ADDR=127.0.0.1:0", "JWT_SECRET="+s.JWTSecret, "PUBLISH_API_KEY="+s.PublishKey,
			"MAX_CONNECTIONS_PER_IP="+benchMaxConnsPerIP, "MAX_MESSAGES_PER_MINUTE="+benchMaxMsgsPerMin,
			"ALLOWED_ORIGINS=*", "LOG_LEVEL=info", "LOG_FORMAT=json")
		if faults {
			cmd.Env = append(cmd.Env, "FAULT_INJECTION=1", "ADMIN_API_KEY="+s.AdminKey)
		}
		if k == PeerGatewayNoRecovery {
			cmd.Env = append(cmd.Env, "RECOVERY_WINDOW=0")
		}
		cmd.Env = append(cmd.Env, extraEnv...)
	case PeerFloorVectored, PeerFloorSingle:
		mode := strings.TrimPrefix(string(k), "floor-")
		cmd = exec.Command(filepath.Join(s.BinDir, rawFloorBinaryName), "-addr", "127.0.0.1:0", "-mode", mode)
	case PeerSocketIO:
		cmd = exec.Command("node", "server.js")
		cmd.Dir = filepath.Join(s.RepoDir, nodePeerDir)
		cmd.Env = append(os.Environ(), "LISTEN_ADDR=127.0.0.1:0", "JWT_SECRET="+s.JWTSecret)
	default:
		return nil, fmt.Errorf("bench: unknown peer %q", k)
	}
	if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
		return nil, err
	}
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = logFile
	// Should this tool die without stopping its peers, the kernel kills them.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("bench: starting %s: %w", k, err)
	}
	p := &Peer{Kind: k, PID: cmd.Process.Pid, cmd: cmd, exited: make(chan error, 1)}
	ready := make(chan listening, 1)
	go func() {
		copyUntilListening(stderr, logFile, ready)
		p.exited <- cmd.Wait()
		logFile.Close()
	}()
	select {
	case l := <-ready:
		p.Addr, p.Route = l.addr, l.route
		return p, nil
	case err := <-p.exited:
		p.exited <- err
		return nil, fmt.Errorf("bench: %s exited before serving (%v); see %s", k, err, logPath)
	case <-time.After(peerStartTimeout):
	case <-ctx.Done():
	}
	_ = p.Stop()
	return nil, fmt.Errorf("bench: %s did not say it was listening within %s; see %s", k, peerStartTimeout, logPath)
}

// listening is what a peer said when it started serving: its address and,
// for a clustered gateway, its NATS route URL (logged just before).
type listening struct{ addr, route string }

// copyUntilListening copies the peer's stderr to the log, sending the
// address of its first `{"msg":"… listening","addr":"…"}` line, with the
// nats_route_url of a `{"msg":"cluster enabled",…}` line seen before it.
func copyUntilListening(r io.Reader, log io.Writer, ready chan<- listening) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	found := false
	var route string
	for sc.Scan() {
		line := sc.Bytes()
		_, _ = log.Write(append(line, '\n'))
		if found {
			continue
		}
		var l struct {
			Msg   string `json:"msg"`
			Addr  string `json:"addr"`
			Route string `json:"nats_route_url"`
		}
		if json.Unmarshal(line, &l) != nil {
			continue
		}
		if l.Route != "" {
			route = l.Route
		}
		if l.Addr != "" && strings.HasSuffix(l.Msg, listeningMessageTail) {
			found = true
			ready <- listening{addr: l.Addr, route: route}
		}
	}
	_, _ = io.Copy(log, r)
}

// Stop sends SIGTERM, waits up to peerStopTimeout, then kills the process.
func (p *Peer) Stop() error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.exited <- err
		return nil
	case <-time.After(peerStopTimeout):
	}
	_ = p.cmd.Process.Kill()
	err := <-p.exited
	p.exited <- err
	return fmt.Errorf("bench: %s (pid %d) did not stop within %s after SIGTERM; killed", p.Kind, p.PID, peerStopTimeout)
}

// filterEnv drops the variables named in names from env.
func filterEnv(env, names []string) []string {
	drop := map[string]bool{}
	for _, n := range names {
		drop[n] = true
	}
	out := env[:0:0]
	for _, kv := range env {
		if k, _, _ := strings.Cut(kv, "="); !drop[k] {
			out = append(out, kv)
		}
	}
	return out
}

// gatewayModulePath is the module the repository root's go.mod declares.
const gatewayModulePath = "github.com/hyvve/gateway"

// checkRepoDir reports whether dir is the repository root: the directory
// whose go.mod declares the gateway's module. The tool runs from bench/,
// so the default is "..".
func checkRepoDir(dir string) error {
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == gatewayModulePath {
				return nil
			}
		}
	}
	return fmt.Errorf("-repo %q: no go.mod of %s there; run from bench/ or give the repository root", dir, gatewayModulePath)
}
