// Package admin is the operator console: a page at /admin, embedded in the
// binary, and the JSON and Server-Sent Events API it reads under
// /admin/api/, every request of which needs the admin key as a bearer
// token. It knows nothing of actors: cmd/gateway hands it a snapshot
// function, a publisher, the metrics registry, and feeds it supervision
// decisions and (through Feed.SecurityHandler) security events.
//
// It costs nothing while no console is open: the feed checks an atomic
// count before encoding anything, and stats are read from the registry
// only for an open stream.
package admin
