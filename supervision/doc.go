// Package supervision declares, as data, how each kind of gateway actor is
// supervised, and turns the actor system's supervision and dead-letter events
// into log lines and metrics.
//
//	kind         directive on panic   budget            why
//	connection   stop (temporary)     —                 its socket state is gone; the client gets 1011 and reconnects
//	room         restart (transient)  3 within 10s      membership lives outside the instance and survives
//	ratelimiter  restart (permanent)  10 within 1m      its budget lives outside the instance and survives
//	iplimiter    restart (permanent)  10 within 1m      its admitted set lives outside the instance: no slot leaks or double frees
//	workspace    resume               —                 a restart would stop every connection under it
//	users, ips   resume               —                 as workspace
//	gateway      resume (guardian)    —                 as workspace
//
// A restart budget that runs out stops the actor: its watchers get
// Terminated like for any other ending, and the stop is logged and counted.
package supervision
