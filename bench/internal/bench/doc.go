// Package bench is the gateway's load tool: it opens many Socket.IO
// connections to a server on this machine, joins them to rooms, publishes
// through POST /v1/publish and measures what arrives (loss, latency,
// throughput) and what the server spent (RSS, CPU seconds from /proc).
//
// One process holds the publisher and every subscriber, so one monotonic
// clock stamps a message when it is sent and times it when it arrives: the
// stamp is nanoseconds since the process's Clock started, carried inside the
// published data.
//
// Scenarios (Scenario): steady fan-out to one big room or many small rooms,
// a publish burst, a connect storm, idle memory per connection, and chaos
// (fan-out while faults are injected into rooms and connections). Compare
// runs the same workloads against several servers ("peers"), started and
// stopped one measurement at a time in rotation, and reports medians and
// ratios.
//
// A run may spread its subscribers over several nodes' base URLs (a
// clustered gateway), publishing on one; it then waits until a probe
// publish counts every subscriber before it measures. RunClusterComparison
// measures the same fan-out on one gateway and on several clustered over
// their embedded NATS servers, alternately, and reports the p99 ratio.
//
// Every run is bounded in count and time and refuses targets that are not
// loopback addresses. The command is bench/cmd/gateway-bench. The package
// is internal to bench, the load tool's own Go module (so its dependencies,
// plotting among them, stay out of the gateway's go.mod): only the command
// and the raw floor's tests use it.
package bench
