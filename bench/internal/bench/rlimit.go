package bench

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit raises this process's RLIMIT_NOFILE soft limit to its hard
// limit and returns it. Every connection is a file descriptor, and servers
// that compare starts inherit the raised limit.
func RaiseFileLimit() (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("bench: getrlimit: %w", err)
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return 0, fmt.Errorf("bench: setrlimit: %w", err)
		}
	}
	return lim.Cur, nil
}

// fdReserve is the descriptors kept free beyond one per client: the
// publisher's connections, the fault injector, /proc reads, stdio.
const fdReserve = 64

// checkFileLimit fails clearly, before any connection is made, when clients
// sockets cannot fit under the file limit.
func checkFileLimit(clients int, limit uint64) error {
	if need := uint64(clients) + fdReserve; need > limit {
		return fmt.Errorf("bench: %d clients need about %d file descriptors; RLIMIT_NOFILE is %d", clients, need, limit)
	}
	return nil
}
