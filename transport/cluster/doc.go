// Package cluster makes several gateway nodes act as one: a message published
// on any node reaches a room's members on every node. It is built on NATS core
// pub/sub, either embedded in each gateway (NATS_LISTEN, NATS_CLUSTER_LISTEN,
// NATS_ROUTES: each gateway runs a NATS server routed to the others, so a
// three-node deployment needs nothing but the three gateways) or external
// (NATS_URL).
//
// # Role
//
// Clustering is off by default. With no settings Start returns a nil *Node,
// whose methods are no-ops, so a single-node gateway starts no NATS and pays
// nothing on the hot path. The transport and the room actors use a Node as
// follows (this package imports no actor code):
//
//   - A room actor calls Subscribe when it starts (the room has local
//     members) and the returned unsubscribe func when it stops. The node is
//     subscribed to a room's subject only meanwhile, so it never receives
//     traffic for rooms it does not host.
//   - A publish on a node is delivered locally by its room actor and sent
//     once to NATS with Publish, which returns the recipients counted by
//     every other hosting node (partial=true when one did not answer within
//     RecipientsWait). Broadcast sends without asking for counts.
//   - Each interested node's room actor gets a Delivery, fans it out to its
//     local members and calls Delivery.Reply with the number it queued.
//
// # Concurrency contract
//
// All methods are safe for concurrent use. Deliver funcs passed to Subscribe
// are called from one dispatch goroutine per node, one message at a time, in
// arrival order (NATS keeps one publisher's order), and must not block: they
// hand the message to an actor with a Send. Delivery.Reply may be called from
// any goroutine, once (later calls are ignored). No NATS callback of this
// package blocks: control and reply messages are applied under short
// mutexes, and room messages of all subscriptions are queued (65536 deep; past
// that NATS reports a slow consumer, logged and counted) to the dispatch
// goroutine. Publish blocks its caller for at most RecipientsWait (or until
// ctx ends); while NATS is unreachable Publish and Broadcast fail at once
// with ErrDisconnected, local delivery is unaffected, the outage is logged and
// counted, Ready reports false only with RequireForReady, and the client
// reconnects by itself (infinite attempts, ReconnectWait apart, 1 MiB
// reconnect buffer for control messages). Close stops every goroutine the
// node started, including the embedded server's.
//
// # Interest registry
//
// To wait for exactly the nodes that host a room rather than a fixed time,
// every node keeps a registry of which other nodes host which rooms. A node
// announces on the control subject when it starts ('A') and stops ('D')
// hosting a room, publishes its node id and full hosted-room set every
// HeartbeatInterval (2 s; split into parts of at most 64 KiB) so that late
// joiners and restarted nodes resynchronise, sends its set at once when it
// sees a node (or a new instance of one) for the first time, and says
// goodbye ('B') on Close. A peer silent for three and a half heartbeats is
// forgotten, so a killed node stops being waited for; a node whose own NATS
// connection is down expires nobody, and after reconnecting it asks every
// peer for its set ('Q'). Publish waits for the
// hosting set known at send time (this node excluded) and returns as soon as
// all of them answered.
//
// # Subjects
//
// With the default prefix "gw" (Config.SubjectPrefix):
//
//	gw.room.<token(room)>   room messages; one subject per room
//	gw.rep.<token(node)>    recipient counts for node's publishes
//	gw.ctl                  interest registry: announcements, heartbeats, goodbyes
//
// token is the unpadded base64url encoding of the name, a single subject
// token whatever the name contains (':', '.', '*', '>', spaces). Room names
// are limited to 1024 bytes so that subjects fit NATS's protocol line.
//
// # Encoding
//
// Payloads are binary and small: a version byte, uvarints and
// length-prefixed strings, then the raw JSON data unchanged (see wire.go). A
// room message carries the request id (0 when no count is wanted), the origin
// node id and the event name; its NATS reply subject is the origin's count
// subject. The client uses NoEcho, so a node never receives its own messages.
//
// # Metrics
//
// All carry the const label node=<id>: cluster_messages_sent_total and
// cluster_messages_received_total{kind=room|reply|control},
// cluster_publish_duration_seconds, cluster_subscriptions,
// cluster_nats_connected, cluster_nats_disconnects_total,
// cluster_count_replies_missing_total, cluster_partial_answers_total,
// cluster_peers and cluster_errors_total{kind=decode|async|publish}.
package cluster
