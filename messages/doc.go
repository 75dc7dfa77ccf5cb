// Package messages is the gateway's vocabulary: the error codes that cross the
// wire, the reasons a connection ends, and the plain structs actors exchange.
// It imports nothing of ours, so every other package can share it. The codes
// and close reasons as clients see them: docs/PROTOCOL.md.
package messages
