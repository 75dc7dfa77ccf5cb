package actors

import (
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/transport/socketio"
)

// countingOutbox stands for a connection's outbound queue: a mutex-guarded
// append, as transport's queue does, and a countdown the benchmark waits on.
type countingOutbox struct {
	mu     sync.Mutex
	frames [][]byte
	left   *atomic.Int64
	done   chan struct{}
}

func (o *countingOutbox) Enqueue(f []byte) bool {
	o.mu.Lock()
	o.frames = append(o.frames[:0], f)
	o.mu.Unlock()
	if o.left.Add(-1) == 0 {
		o.done <- struct{}{}
	}
	return true
}

// deliver is the message of the mailbox variant: the room sends each member
// its frame through the member's mailbox instead of straight to its queue.
type deliver struct{ frame []byte }

func benchDeps(b *testing.B) (*deps, *actor.ActorSystem) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}))
	d := &deps{cfg: Config{}.withDefaults(), root: sys.Root, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		metrics: newMetrics(prometheus.NewRegistry())}
	return d, sys
}

// benchFanout measures one broadcast from a room to n members, from the
// Publish until every member's queue holds the frame.
func benchFanout(b *testing.B, n int, viaMailbox bool, recovery ...bool) {
	benchFanoutWith(b, n, viaMailbox, len(recovery) > 0 && recovery[0], false)
}

// benchFanoutWith: with presence, every member is a distinct user with its
// own sid, so the room's presence set holds n users (and each join told the
// members before it: presence_join, during the setup only).
func benchFanoutWith(b *testing.B, n int, viaMailbox, recovery, presence bool) {
	d, sys := benchDeps(b)
	if recovery {
		// Recovery on: the sequencer lock, the offset and the history ring.
		d.history = newHistory(d.cfg.RecoveryMaxMessages, d.cfg.RecoveryWindow)
	}
	room := sys.Root.Spawn(newRoomProps(d, "workspace:w:dashboard"))
	left := &atomic.Int64{}
	done := make(chan struct{}, 1)
	joined := make(chan struct{}, n)
	for i := 0; i < n; i++ {
		out := &countingOutbox{left: left, done: done}
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return &benchMember{out: out, joined: joined} }))
		var sink messages.Outbox = out
		if viaMailbox {
			sink = mailboxOutbox{root: sys.Root, pid: pid}
		}
		join := &messages.JoinRoom{Room: "workspace:w:dashboard", Conn: pid, Out: sink, AckID: socketio.NoAck}
		if presence {
			join.User, join.SID = "user-"+strconv.Itoa(i), "sid-"+strconv.Itoa(i)
		}
		sys.Root.Send(room, join)
	}
	for i := 0; i < n; i++ {
		<-joined
	}
	data := json.RawMessage(`{"metric":"cpu","value":0.42,"host":"web-` + strconv.Itoa(n) + `","tags":["a","b","c"],"padding":"` + string(make([]byte, 100)) + `"}`)
	for i := range data {
		if data[i] == 0 {
			data[i] = 'x'
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(data)) * int64(n))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		left.Store(int64(n))
		sys.Root.Send(room, &messages.Publish{Room: "workspace:w:dashboard", Event: "metrics.updated", Data: data})
		<-done
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/delivery")
	_ = sys.Root.StopFuture(room).Wait()
}

// mailboxOutbox hands the frame to the member actor's mailbox.
type mailboxOutbox struct {
	root *actor.RootContext
	pid  *actor.PID
}

func (m mailboxOutbox) Enqueue(f []byte) bool { m.root.Send(m.pid, &deliver{frame: f}); return true }

// benchMember stands for a connection actor: it confirms its join and, in
// the mailbox variant, enqueues what it is handed.
type benchMember struct {
	out    *countingOutbox
	joined chan<- struct{}
}

func (m *benchMember) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *messages.RoomJoined:
		m.joined <- struct{}{}
	case *deliver:
		m.out.Enqueue(msg.frame)
	}
}

func BenchmarkFanout_1k_DirectQueue(b *testing.B)  { benchFanout(b, 1000, false) }
func BenchmarkFanout_10k_DirectQueue(b *testing.B) { benchFanout(b, 10000, false) }
func BenchmarkFanout_1k_ViaMailbox(b *testing.B)   { benchFanout(b, 1000, true) }
func BenchmarkFanout_10k_ViaMailbox(b *testing.B)  { benchFanout(b, 10000, true) }

// With recovery on (history.go): compare with the DirectQueue variants.
func BenchmarkFanout_1k_DirectQueue_Recovery(b *testing.B)  { benchFanout(b, 1000, false, true) }
func BenchmarkFanout_10k_DirectQueue_Recovery(b *testing.B) { benchFanout(b, 10000, false, true) }

// With presence (presence.go): 1,000 users present in the room; compare
// with BenchmarkFanout_1k_DirectQueue. A broadcast does not touch presence.
func BenchmarkFanout_1k_DirectQueue_Presence(b *testing.B) {
	benchFanoutWith(b, 1000, false, false, true)
}
func BenchmarkFanout_1k_DirectQueue_Recovery_Presence(b *testing.B) {
	benchFanoutWith(b, 1000, false, true, true)
}
