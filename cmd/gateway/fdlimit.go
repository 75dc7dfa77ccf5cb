//go:build unix

package main

import "syscall"

// connectionBudget is MAX_OPEN_CONNECTIONS, or the soft RLIMIT_NOFILE (Go
// raises it to the hard limit at start) minus fdReserve.
func connectionBudget(configured int) int {
	if configured > 0 {
		return configured
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur <= 2*fdReserve {
		return fdReserve // a tiny or unknown limit: stay well inside it
	}
	if rl.Cur > 1<<30 {
		return 1 << 30
	}
	return int(rl.Cur) - fdReserve
}
