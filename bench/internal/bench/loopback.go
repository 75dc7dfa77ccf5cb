package bench

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// ErrNotLoopback is returned for a target that is not on this machine's
// loopback interface: the tool sends load nowhere else.
var ErrNotLoopback = errors.New("bench: target is not a loopback address")

// CheckLoopback accepts an http:// base URL whose host is a loopback IP
// (127.0.0.0/8, ::1) or a name that resolves only to loopback addresses.
func CheckLoopback(target string) error {
	u, err := url.Parse(target)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", target, err)
	}
	if u.Scheme != "http" {
		return fmt.Errorf("URL %q: want http://HOST:PORT", target)
	}
	host := u.Hostname()
	if host == "" || u.Port() == "" {
		return fmt.Errorf("URL %q: want http://HOST:PORT", target)
	}
	if u.Path != "" && u.Path != "/" {
		return fmt.Errorf("URL %q: give the base URL without a path", target)
	}
	if ip := net.ParseIP(host); ip != nil {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: %s", ErrNotLoopback, host)
		}
		return nil
	}
	ips, err := net.LookupIP(host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("%w: cannot resolve %q", ErrNotLoopback, host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%w: %s resolves to %s", ErrNotLoopback, host, ip)
		}
	}
	return nil
}
