package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseTargets(t *testing.T) {
	got, err := ParseTargets(" http://127.0.0.1:8080/, http://127.0.0.2:8081,http://[::1]:9000 ")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"http://127.0.0.1:8080", "http://127.0.0.2:8081", "http://[::1]:9000"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	for _, tc := range []struct{ list, want string }{
		{"", "at least one base URL"},
		{"http://127.0.0.1:1,,http://127.0.0.1:2", "entry 2 is empty"},
		{"http://127.0.0.1:1,http://10.0.0.1:2", "not a loopback address"},
		{"http://127.0.0.1:1,http://127.0.0.1:1/", "listed twice"},
		{"http://127.0.0.1:1,http://127.0.0.1", "want http://HOST:PORT"},
		{"http://127.0.0.1:1," + strings.Repeat("http://127.0.0.1:2,", maxTargets), "at most 64"},
	} {
		if _, err := ParseTargets(tc.list); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want an error containing %q", tc.list, err, tc.want)
		}
	}
	// Every bad entry is reported, not just the first.
	_, err = ParseTargets("http://10.0.0.1:1,http://127.0.0.1:2,,ws://127.0.0.1:3")
	for _, want := range []string{"10.0.0.1", "entry 3 is empty", "ws://127.0.0.1:3"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func TestParseRunFlagsSeveralTargets(t *testing.T) {
	c, err := ParseRunFlags(ScenarioFanout, []string{"-target", "http://127.0.0.1:8001,http://127.0.0.1:8002,http://127.0.0.1:8003",
		"-server-pid", "11,12,13"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Targets()) != 3 || c.PublishURL() != "http://127.0.0.1:8001" || !c.multiNode() || !slices.Equal(c.ServerPIDs, []int{11, 12, 13}) {
		t.Errorf("targets %q, publish %q, multi %t, pids %v", c.Targets(), c.PublishURL(), c.multiNode(), c.ServerPIDs)
	}
	c, err = ParseRunFlags(ScenarioFanout, []string{"-target", "http://127.0.0.1:8001,http://127.0.0.1:8002",
		"-publish-target", "http://127.0.0.1:8003/"}, io.Discard)
	if err != nil || c.PublishURL() != "http://127.0.0.1:8003" {
		t.Errorf("-publish-target: %q, %v", c.PublishURL(), err)
	}
	// One target as before: not multi-node, no probe unless asked.
	c, err = ParseRunFlags(ScenarioFanout, []string{"-server-pid", "0"}, io.Discard)
	if err != nil || c.multiNode() || c.Probe || len(c.ServerPIDs) != 0 || c.PublishURL() != "http://127.0.0.1:8080" {
		t.Errorf("single target: multi %t, probe %t, pids %v, publish %q, %v", c.multiNode(), c.Probe, c.ServerPIDs, c.PublishURL(), err)
	}
	c, err = ParseRunFlags(ScenarioFanout, []string{"-publish-target", "http://127.0.0.1:9"}, io.Discard)
	if err != nil || !c.multiNode() {
		t.Errorf("publishing on another server is multi-node: %t, %v", c.multiNode(), err)
	}
}

func TestParseRunFlagsRejectsBadTargets(t *testing.T) {
	for _, tc := range []struct {
		s    Scenario
		args []string
		want string
	}{
		{ScenarioFanout, []string{"-target", "http://127.0.0.1:1,http://192.168.1.1:2"}, "-target: bench: target is not a loopback address"},
		{ScenarioFanout, []string{"-target", "http://127.0.0.1:1,"}, "-target: entry 2 is empty"},
		{ScenarioFanout, []string{"-publish-target", "http://8.8.8.8:80"}, "-publish-target: bench: target is not a loopback"},
		{ScenarioChaos, []string{"-target", "http://127.0.0.1:1,http://127.0.0.1:2"}, "scenario chaos takes a single -target"},
		{ScenarioFanout, []string{"-server-pid", "12,x"}, `"x" is not a process id`},
		{ScenarioFanout, []string{"-server-pid", "12,-3"}, "-server-pid must be process ids (got -3)"},
	} {
		_, err := ParseRunFlags(tc.s, tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: got %v, want an error containing %q", tc.s, tc.args, err, tc.want)
		}
	}
}

func TestSpreadTargetsIsEvenPerRoomAndOverall(t *testing.T) {
	if got := spreadTargets(7, 1, 3); !slices.Equal(got, []int{0, 1, 2, 0, 1, 2, 0}) {
		t.Errorf("one room: %v, want plain round-robin", got)
	}
	if got := spreadTargets(5, 2, 1); !slices.Equal(got, []int{0, 0, 0, 0, 0}) {
		t.Errorf("one target: %v", got)
	}
	// 3 rooms over 3 targets: member i is in room i mod 3; a naive i mod 3
	// would put each room on one target, and nothing would cross nodes.
	if got := spreadTargets(6, 3, 3); !slices.Equal(got, []int{0, 2, 1, 1, 0, 2}) {
		t.Errorf("3 rooms, 3 targets: %v", got)
	}
	for n := 0; n <= 40; n++ {
		for rooms := 1; rooms <= max(n, 1) && rooms <= 7; rooms++ {
			for targets := 1; targets <= 5; targets++ {
				got := spreadTargets(n, rooms, targets)
				overall := make([]int, targets)
				perRoom := make([][]int, rooms)
				for r := range perRoom {
					perRoom[r] = make([]int, targets)
				}
				for i, tg := range got {
					if tg < 0 || tg >= targets {
						t.Fatalf("n %d rooms %d targets %d: member %d on target %d", n, rooms, targets, i, tg)
					}
					overall[tg]++
					perRoom[i%rooms][tg]++
				}
				if spread(overall) > 1 {
					t.Errorf("n %d rooms %d targets %d: overall %v", n, rooms, targets, overall)
				}
				for r, c := range perRoom {
					if spread(c) > 1 {
						t.Errorf("n %d rooms %d targets %d: room %d %v", n, rooms, targets, r, c)
					}
				}
			}
		}
	}
}

func spread(counts []int) int { return slices.Max(counts) - slices.Min(counts) }

// fakePublish answers POST /v1/publish with the recipients answer(k) for
// the k-th request (from 0), and records the bodies.
func fakePublish(t *testing.T, answer func(k int64) string) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path != "/v1/publish" || r.Header.Get("Authorization") != "Bearer pk" || !strings.Contains(string(body), `"event":"bench_probe"`) {
			http.Error(w, "unexpected request "+string(body), http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, answer(n.Add(1)-1))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func TestConvergeWaitsForTheFullCount(t *testing.T) {
	// Two rooms of 3; the first answers are short or partial, as a cluster
	// that has not heard every node's announcement yet.
	answers := []string{`{"ok":true,"recipients":1}`, `{"ok":true,"recipients":3,"partial":true}`}
	srv, n := fakePublish(t, func(k int64) string {
		if k < int64(len(answers)) {
			return answers[k]
		}
		return `{"ok":true,"recipients":3}`
	})
	cfg := DefaultConfig(ScenarioFanout, true)
	cfg.Target, cfg.PublishKey = srv.URL, "pk"
	p := newPublisher(cfg, NewClock(), 2)
	c := converge(context.Background(), p, []int{3, 0, 3}, 5*time.Second)
	if c.err != nil || c.probes != 4 || n.Load() != 4 || c.seconds < probeInterval.Seconds() {
		t.Errorf("converged with %d probes (server saw %d) in %.2fs, err %v; want 4 probes, the empty room not probed", c.probes, n.Load(), c.seconds, c.err)
	}
}

func TestConvergeGivesUpAndSaysWhy(t *testing.T) {
	srv, _ := fakePublish(t, func(int64) string { return `{"ok":true,"recipients":2,"partial":true}` })
	cfg := DefaultConfig(ScenarioFanout, true)
	cfg.Target, cfg.PublishKey = srv.URL, "pk"
	c := converge(context.Background(), newPublisher(cfg, NewClock(), 2), []int{3}, 300*time.Millisecond)
	if c.err == nil || !strings.Contains(c.err.Error(), "last probe counted 2 of 3 recipients (partial true)") || c.probes < 2 {
		t.Errorf("got %d probes, err %v", c.probes, c.err)
	}
}
