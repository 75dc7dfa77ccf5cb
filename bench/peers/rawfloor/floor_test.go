package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hyvve/gateway/bench/internal/bench"
)

// startFloor serves a raw floor in-process; the bench client and load tool
// are tested against it.
func startFloor(t *testing.T, m writeMode) (*hub, string) {
	t.Helper()
	h := newHub(m)
	srv := httptest.NewServer(h.handler())
	t.Cleanup(func() {
		h.closeAll()
		srv.Close()
	})
	return h, srv.URL
}

func TestClientConnectsJoinsAndReceives(t *testing.T) {
	for _, m := range []writeMode{modeSingle, modeVectored} {
		t.Run(m.String(), func(t *testing.T) {
			_, url := startFloor(t, m)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := bench.Connect(ctx, bench.NewDialer(nil), url, "token-not-checked")
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.SID() == "" {
				t.Error("no sid from the CONNECT answer")
			}
			if err := c.Join(ctx, "workspace:w0:dashboard", nil); err != nil {
				t.Fatal(err)
			}
			// Three publishes in a row: the vectored pump may write them in one writev.
			for i := range 3 {
				if n := publish(t, url, "workspace:w0:dashboard", fmt.Sprintf(`{"n":%d}`, i)); n != 1 {
					t.Fatalf("recipients = %d, want 1", n)
				}
			}
			if n := publish(t, url, "workspace:w9:dashboard", `{}`); n != 0 {
				t.Errorf("empty room: recipients = %d", n)
			}
			var got []string
			go func() { <-ctx.Done(); c.Close() }()
			err = c.Receive(func(frame []byte) {
				got = append(got, string(frame))
				if len(got) == 3 {
					c.Close()
				}
			})
			want := []string{`42["bench",{"n":0}]`, `42["bench",{"n":1}]`, `42["bench",{"n":2}]`}
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("received %q, want %q (Receive ended with %v)", got, want, err)
			}
		})
	}
}

func publish(t *testing.T, url, room, data string) int {
	t.Helper()
	body := fmt.Sprintf(`{"room":%q,"event":"bench","data":%s}`, room, data)
	resp, err := http.Post(url+"/v1/publish", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var n int
	if _, err := fmt.Sscanf(string(b), `{"ok":true,"recipients":%d}`, &n); err != nil {
		t.Fatalf("publish answer %q: %v", b, err)
	}
	return n
}

func TestRunFanoutAgainstTheFloor(t *testing.T) {
	_, url := startFloor(t, modeVectored)
	cfg := bench.DefaultConfig(bench.ScenarioRooms, true)
	cfg.Target, cfg.Clients, cfg.Rooms, cfg.Messages, cfg.Rate = url, 20, 4, 40, 400
	cfg.Progress, cfg.Timeout = false, 30*time.Second
	res, err := bench.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 20 || res.Published != 40 || res.Expected != 200 || res.Received != 200 || res.Lost != 0 {
		t.Errorf("connected %d, published %d, expected %d, received %d, lost %d; want 20, 40, 200, 200, 0 (errors %v)",
			res.Connected, res.Published, res.Expected, res.Received, res.Lost, res.Errors)
	}
	if res.ServerRecipients != 200 || res.Latency.Count != 200 || res.Latency.Max <= 0 || len(res.CDF) == 0 {
		t.Errorf("server recipients %d, latency %+v", res.ServerRecipients, res.Latency)
	}
}

func TestRunStormCountsFailures(t *testing.T) {
	_, url := startFloor(t, modeSingle)
	cfg := bench.DefaultConfig(bench.ScenarioStorm, true)
	cfg.Target, cfg.Clients, cfg.Progress, cfg.Timeout = url, 30, false, 30*time.Second
	res, err := bench.Run(context.Background(), cfg, io.Discard)
	if err != nil || res.Connected != 30 || res.ConnectFailed != 0 || res.ConnsPerSecond <= 0 {
		t.Fatalf("storm: %+v, %v", res, err)
	}

	cfg.Target = "http://127.0.0.1:1" // nothing listens there
	res, err = bench.Run(context.Background(), cfg, io.Discard)
	if err == nil || res == nil || res.ConnectFailed != 30 || len(res.Errors) == 0 {
		t.Fatalf("a dead target must fail every connection and say why: %+v, %v", res, err)
	}
}

func TestChaosNeedsFaultInjection(t *testing.T) {
	_, url := startFloor(t, modeVectored)
	cfg := bench.DefaultConfig(bench.ScenarioChaos, true)
	cfg.Target, cfg.Clients, cfg.Rooms, cfg.Messages, cfg.Rate, cfg.FaultRate = url, 10, 2, 20, 200, 20
	cfg.Progress, cfg.Timeout = false, 30*time.Second
	res, err := bench.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Chaos == nil || res.Chaos.FaultsMissed == 0 || !strings.Contains(strings.Join(res.Errors, "\n"), "FAULT_INJECTION=1") {
		t.Errorf("faults against a server without /debug/faults must be reported missed: %+v %v", res.Chaos, res.Errors)
	}
}

// TestRunSpreadsSubscribersOverSeveralTargets serves one hub on three
// listeners, a stand-in for three clustered nodes: the subscribers are
// spread evenly over them, publishes go to the first, and the run probes
// before it measures.
func TestRunSpreadsSubscribersOverSeveralTargets(t *testing.T) {
	h := newHub(modeVectored)
	t.Cleanup(h.closeAll)
	var urls []string
	upgrades := make([]atomic.Int64, 3)
	publishes := make([]atomic.Int64, 3)
	for i := range 3 {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, "/socket.io/"):
				upgrades[i].Add(1)
			case r.URL.Path == "/v1/publish":
				publishes[i].Add(1)
			}
			h.handler().ServeHTTP(w, r)
		}))
		t.Cleanup(srv.Close)
		urls = append(urls, srv.URL)
	}
	cfg := bench.DefaultConfig(bench.ScenarioFanout, true)
	cfg.Target, cfg.Clients, cfg.Messages, cfg.Rate = strings.Join(urls, ","), 31, 20, 400
	cfg.Progress, cfg.Timeout = false, 30*time.Second
	res, err := bench.Run(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 31 || res.Published != 20 || res.Expected != 620 || res.Received != 620 || res.Lost != 0 {
		t.Errorf("connected %d, published %d, expected %d, received %d, lost %d; want 31, 20, 620, 620, 0 (errors %v)",
			res.Connected, res.Published, res.Expected, res.Received, res.Lost, res.Errors)
	}
	if got := []int64{upgrades[0].Load(), upgrades[1].Load(), upgrades[2].Load()}; got[0] != 11 || got[1] != 10 || got[2] != 10 {
		t.Errorf("connections per target %v, want 11, 10, 10", got)
	}
	if publishes[1].Load() != 0 || publishes[2].Load() != 0 || publishes[0].Load() != int64(20+res.ConvergeProbes) || res.ConvergeProbes != 1 {
		t.Errorf("publishes per target %d, %d, %d with %d probes; want all on the first, one probe",
			publishes[0].Load(), publishes[1].Load(), publishes[2].Load(), res.ConvergeProbes)
	}
	for i, want := range []int{11, 10, 10} {
		if pt := res.PerTarget; len(pt) != 3 || pt[i].Target != urls[i] || pt[i].Clients != want || pt[i].Connected != want || pt[i].Latency.Count != 20*want {
			t.Errorf("per target %d: %+v, want %d subscribers with %d deliveries", i, pt, want, 20*want)
		}
	}
	if len(res.Targets) != 3 || res.PublishTarget != urls[0] || res.Target != cfg.Target {
		t.Errorf("result targets %q, publish target %q, target %q", res.Targets, res.PublishTarget, res.Target)
	}
}
