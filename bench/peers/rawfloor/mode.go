package main

import "fmt"

// writeMode is how a connection's write pump hands frames to the kernel.
type writeMode int

const (
	// modeSingle writes each frame with gorilla's WriteMessage: one write
	// system call per frame.
	modeSingle writeMode = iota
	// modeVectored frames everything queued itself and writes it with one
	// writev (net.Buffers) on the raw connection.
	modeVectored
)

func parseMode(s string) (writeMode, error) {
	switch s {
	case "single":
		return modeSingle, nil
	case "vectored":
		return modeVectored, nil
	}
	return 0, fmt.Errorf("-mode must be single or vectored (got %q)", s)
}

func (m writeMode) String() string {
	if m == modeSingle {
		return "single"
	}
	return "vectored"
}
