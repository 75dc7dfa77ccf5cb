package bench

// Result is what one run measured. It is printed as a table for people and
// as one JSON line for scripts.
type Result struct {
	Scenario Scenario `json:"scenario"`
	Target   string   `json:"target"`
	// Targets lists the base URLs the subscribers were spread over and
	// PublishTarget where publishes went, when the run had several
	// servers (or a -publish-target); single-server results omit both.
	Targets       []string `json:"targets,omitempty"`
	PublishTarget string   `json:"publish_target,omitempty"`
	// Transport is how the subscribers connected (websocket, polling,
	// default); PollTargets where their polling requests went when not to
	// their targets.
	Transport   Transport `json:"transport,omitempty"`
	PollTargets []string  `json:"poll_targets,omitempty"`
	Peer        string    `json:"peer,omitempty"`  // compare: which server
	Round       int       `json:"round,omitempty"` // compare: 1-based round

	Clients      int     `json:"clients"`
	Rooms        int     `json:"rooms"`
	Messages     int     `json:"messages"`
	Rate         float64 `json:"rate"`
	PayloadBytes int     `json:"payload_bytes"`

	// Connections: how many joined on the first attempt, how long the
	// whole ramp took, and each connect-and-join's duration.
	Connected      int            `json:"connected"`
	ConnectFailed  int            `json:"connect_failed"`
	ConnectSeconds float64        `json:"connect_seconds"`
	ConnsPerSecond float64        `json:"conns_per_second"`
	ConnectLatency LatencySummary `json:"connect_latency"`
	// Upgraded counts the clients on a WebSocket after connecting with the
	// default transport (the others' upgrade probe was refused: they poll).
	Upgraded int `json:"upgraded,omitempty"`

	// Publishing: requests answered 200, failed, and the achieved rate.
	Published      int            `json:"published"`
	PublishPartial int            `json:"publish_partial,omitempty"` // of those, answers that said partial (a cluster node's count missing)
	PublishFailed  int            `json:"publish_failed"`
	PublishSeconds float64        `json:"publish_seconds"`
	PublishRate    float64        `json:"publish_rate"`
	PublishLatency LatencySummary `json:"publish_latency"`

	// Deliveries: expected (members of the room of every accepted
	// message), received (first copies), lost, duplicates, and the
	// recipients the server said it queued to.
	Expected         int64          `json:"expected"`
	Received         int64          `json:"received"`
	Lost             int64          `json:"lost"`
	LossPercent      float64        `json:"loss_percent"`
	Duplicates       int64          `json:"duplicates"`
	ServerRecipients int64          `json:"server_recipients"`
	Latency          LatencySummary `json:"latency"`
	DeliveriesPerSec float64        `json:"deliveries_per_second"`
	Disconnects      int            `json:"disconnects"` // connections lost during the run (chaos: untargeted only)
	// PerTarget splits the subscribers and their delivery latency by the
	// base URL they connected to, when there were several.
	PerTarget []TargetStats `json:"per_target,omitempty"`

	// Convergence: with several servers (or -probe), how long the probe
	// publishes took until every room's answer counted all its joined
	// members, and how many were sent.
	ConvergeSeconds float64 `json:"converge_seconds,omitempty"`
	ConvergeProbes  int     `json:"converge_probes,omitempty"`

	Server *ServerStats `json:"server,omitempty"`
	// Relayed is what the gateways' polling_relayed_seconds counted
	// (cluster comparison on polling only).
	Relayed *RelayedStats `json:"relayed,omitempty"`
	// JetStreamNodes counts the gateways that ran JetStream for
	// cross-node recovery and StoreReadySeconds how long the tool waited
	// for their recovery stores after the last one was listening (cluster
	// comparison only).
	JetStreamNodes    int     `json:"jetstream_nodes,omitempty"`
	StoreReadySeconds float64 `json:"store_ready_seconds,omitempty"`

	Chaos *ChaosStats `json:"chaos,omitempty"`

	DurationSeconds float64  `json:"duration_seconds"`
	Errors          []string `json:"errors,omitempty"`

	// CDF is the delivery latency at quantiles 0, 0.001, …, 1 (ms), kept
	// for plotting.
	CDF []float64 `json:"-"`
}

// TargetStats is the share of one base URL (node) in a run with several.
type TargetStats struct {
	Target    string         `json:"target"`
	Clients   int            `json:"clients"`   // subscribers dealt to it
	Connected int            `json:"connected"` // of those, joined on the first attempt
	Latency   LatencySummary `json:"latency"`   // their deliveries (first copies)
}

// ServerStats is the server process's memory and CPU during the run, read
// from /proc/PID. With several server processes (nodes) every figure is
// their sum (the peak is the sum of each node's own peak), and Nodes has
// each one's.
type ServerStats struct {
	PID            int     `json:"pid"`              // the first server process
	PIDs           []int   `json:"pids,omitempty"`   // every one, when several
	RSSStartMB     float64 `json:"rss_start_mb"`     // before the first connection
	RSSConnectedMB float64 `json:"rss_connected_mb"` // all connected (idle: after -hold)
	RSSEndMB       float64 `json:"rss_end_mb"`
	PeakRSSMB      float64 `json:"peak_rss_mb"` // VmHWM: since the process started
	RSSPerConnKB   float64 `json:"rss_per_conn_kb"`
	CPUSeconds     float64 `json:"cpu_seconds"`         // the whole run
	CPUPublishSecs float64 `json:"cpu_publish_seconds"` // publishing and draining
	// OtherCPUSeconds is the CPU time every other process (and the
	// kernel's own threads, some of it loopback work for this run) spent
	// during the run: the machine's busy time less this tool's and the
	// servers'. A large value means the measurement shared the machine.
	OtherCPUSeconds *float64 `json:"other_cpu_seconds,omitempty"`
	// WritesPublish is the server's write system calls while publishing
	// and draining (/proc/PID/io syscw), which shows how many frames each
	// write carries.
	WritesPublish int64 `json:"writes_publish"`

	Nodes []NodeStats `json:"nodes,omitempty"` // per server process, when several
}

// NodeStats is one server process's share of ServerStats.
type NodeStats struct {
	PID            int     `json:"pid"`
	RSSStartMB     float64 `json:"rss_start_mb"`
	RSSConnectedMB float64 `json:"rss_connected_mb"`
	RSSEndMB       float64 `json:"rss_end_mb"`
	PeakRSSMB      float64 `json:"peak_rss_mb"`
	CPUSeconds     float64 `json:"cpu_seconds"`
	CPUPublishSecs float64 `json:"cpu_publish_seconds"`
}

// ChaosStats is what the chaos scenario measured beyond a fan-out run.
type ChaosStats struct {
	RoomFaults   int `json:"room_faults"`
	ConnFaults   int `json:"conn_faults"`
	FaultsMissed int `json:"faults_missed"` // answered injected=0 or failed

	// Messages excused as the one a faulted room failed on, and the
	// deliveries they cost; every other missing delivery to a client that
	// was not targeted is lost beyond them.
	CrashedMessages      int   `json:"crashed_messages"`
	CrashedDeliveries    int64 `json:"crashed_deliveries"`
	ExpectedUntargeted   int64 `json:"expected_untargeted"`
	LostBeyondCrashed    int64 `json:"lost_beyond_crashed"`
	UntargetedDisconnect int   `json:"untargeted_disconnects"`
	TargetedDisconnects  int   `json:"targeted_disconnects"`
	Closes1011           int   `json:"closes_1011"`
	Reconnected          int   `json:"reconnected"`
	ErrorEvents          int   `json:"error_events"` // e.g. ROOM_FAILED
	Rejoins              int   `json:"rejoins"`

	// RoomRecovery: from the message that crashed a room to the first
	// delivery of the probe sent right after it. ConnRecovery: from a
	// connection fault to its client connected and joined again.
	RoomRecovery LatencySummary `json:"room_recovery"`
	ConnRecovery LatencySummary `json:"conn_recovery"`

	RSSBeforeMB float64 `json:"rss_before_mb"`
	RSSAfterMB  float64 `json:"rss_after_mb"`
}
