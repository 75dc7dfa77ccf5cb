package bench

import (
	"context"
	"net"
	"syscall"
)

// connsPerSource is how many connections one loopback source address
// carries before the next one (127.0.0.2, .3, …) is used: well under the
// ~28,000 ephemeral ports of one (source, destination) pair, leaving room
// for sockets in TIME_WAIT from earlier runs.
const connsPerSource = 10000

// ipBindAddressNoPort is Linux's IP_BIND_ADDRESS_NO_PORT (include/uapi/linux/in.h),
// missing from package syscall. With it, binding a source address leaves
// the port to connect(), which may reuse a port already bound toward another
// destination; without it, bind() must find a port unique to the address.
const ipBindAddressNoPort = 24

// sourceCount is how many loopback source addresses n connections need.
func sourceCount(n int) int { return (n + connsPerSource - 1) / connsPerSource }

// maxSources caps the source addresses at 127.0.0.254.
const maxSources = 254

// sourceDialers returns one dial function per loopback source address
// 127.0.0.1 … 127.0.0.k, enough for n connections. Connection i uses
// dialer i mod k. An IPv6 target (::1) gets one plain dialer.
func sourceDialers(n int, ipv4 bool) []func(ctx context.Context, network, addr string) (net.Conn, error) {
	if !ipv4 {
		return []func(ctx context.Context, network, addr string) (net.Conn, error){(&net.Dialer{}).DialContext}
	}
	k := min(max(sourceCount(n), 1), maxSources)
	out := make([]func(ctx context.Context, network, addr string) (net.Conn, error), k)
	for i := range out {
		d := &net.Dialer{
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))},
			Control: func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) {
					// Best effort: an old kernel without it still works for small N.
					_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, ipBindAddressNoPort, 1)
				})
			},
		}
		out[i] = d.DialContext
	}
	return out
}
