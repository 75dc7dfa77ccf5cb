package transport

import (
	"context"
	"log"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// HTTPServer returns the http.Server for Handler with every connection
// bounded: headers (ReadHeaderTimeout, MaxHeaderBytes), the whole request
// with its body (ReadTimeout) and idle keep-alives (IdleTimeout). A
// WebSocket upgrade keeps none of them: net/http clears the deadlines when
// it hijacks the connection, and the Conn's heartbeat bounds it from then on.
// Connections that LimitListener accepted on its spare budget are served
// only /healthz, /readyz and /metrics, then closed.
func (s *Server) HTTPServer(errorLog *log.Logger) *http.Server {
	return &http.Server{
		Handler:           spareOnlyHealth(s.Handler()),
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		ReadTimeout:       s.cfg.ReadTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          errorLog,
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			if lc, ok := nc.(interface{ spareSlot() bool }); ok && lc.spareSlot() {
				return context.WithValue(ctx, spareKey{}, true)
			}
			return ctx
		},
	}
}

type spareKey struct{}

// spareOnlyHealth answers a connection taken on the spare budget only for
// the health and metrics routes, and closes it after the answer so the slot
// frees at once.
func spareOnlyHealth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(spareKey{}) == nil {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			next.ServeHTTP(w, r)
		default:
			writeError(w, http.StatusServiceUnavailable, "server at its connection limit")
		}
	})
}

// LimitListener bounds the connections open at once, so the process never
// runs out of file descriptors (accept fails for everyone, /metrics
// included, when it does). Up to budget connections are served normally;
// past it, up to spare more are accepted for the health and metrics routes
// only (see HTTPServer); past both, a new connection is closed at once. A
// connection's slot frees when it is closed, hijacked (WebSocket) or not.
// refused, if set, counts the connections closed for want of a slot.
func LimitListener(ln net.Listener, budget, spare int, refused func()) net.Listener {
	return &limitListener{Listener: ln, budget: int64(budget), spare: int64(spare), refused: refused}
}

type limitListener struct {
	net.Listener
	budget, spare int64
	open          atomic.Int64
	refused       func()
}

// Accept implements net.Listener.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		n := l.open.Add(1)
		if n > l.budget+l.spare {
			l.open.Add(-1)
			_ = nc.Close()
			if l.refused != nil {
				l.refused()
			}
			continue
		}
		return l.wrap(nc, n > l.budget), nil
	}
}

func (l *limitListener) wrap(nc net.Conn, spare bool) net.Conn {
	s := &slot{l: l, spare: spare}
	if tc, ok := nc.(*net.TCPConn); ok {
		// Embedding *net.TCPConn keeps its writev (net.Buffers), splice and
		// SyscallConn (the read poller) working through the wrapper.
		return &limitedTCPConn{TCPConn: tc, slot: s}
	}
	return &limitedConn{Conn: nc, slot: s}
}

// slot is one connection's place in a limitListener, given back once.
type slot struct {
	l     *limitListener
	spare bool
	once  sync.Once
}

func (s *slot) release()        { s.once.Do(func() { s.l.open.Add(-1) }) }
func (s *slot) spareSlot() bool { return s.spare }

type limitedTCPConn struct {
	*net.TCPConn
	*slot
}

// Close implements net.Conn and frees the slot.
func (c *limitedTCPConn) Close() error {
	c.release() // first: a client that saw the close may connect again at once
	return c.TCPConn.Close()
}

type limitedConn struct {
	net.Conn
	*slot
}

// Close implements net.Conn and frees the slot.
func (c *limitedConn) Close() error {
	c.release() // first: a client that saw the close may connect again at once
	return c.Conn.Close()
}

// Defaults of the HTTP server's bounds.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	DefaultMaxHeaderBytes    = 16 << 10
)
