package bench

import (
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseRunFlagsDefaultsAreTheTargets(t *testing.T) {
	for _, tc := range []struct {
		s                        Scenario
		clients, rooms, messages int
		rate                     float64
	}{
		{ScenarioFanout, 1000, 1, 500, 50},
		{ScenarioRooms, 5000, 20, 500, 50},
		{ScenarioBurst, 5000, 1, 1000, 0},
		{ScenarioStorm, 9000, 1, 0, 0},
		{ScenarioIdle, 9000, 1, 0, 0},
		{ScenarioChaos, 1000, 10, 500, 50},
	} {
		c, err := ParseRunFlags(tc.s, nil, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", tc.s, err)
		}
		if c.Clients != tc.clients || c.Rooms != tc.rooms || c.Messages != tc.messages || c.Rate != tc.rate {
			t.Errorf("%s: got %d clients, %d rooms, %d messages at %g; want %d, %d, %d at %g",
				tc.s, c.Clients, c.Rooms, c.Messages, c.Rate, tc.clients, tc.rooms, tc.messages, tc.rate)
		}
	}
}

func TestParseRunFlagsQuickKeepsExplicitFlags(t *testing.T) {
	c, err := ParseRunFlags(ScenarioRooms, []string{"-quick", "-clients", "40"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Clients != 40 || c.Rooms != quickRooms || c.Messages != quickMessages || c.Hold != quickHold {
		t.Errorf("got %d clients, %d rooms, %d messages, hold %s", c.Clients, c.Rooms, c.Messages, c.Hold)
	}
}

func TestParseRunFlagsRejectsBadValuesClearly(t *testing.T) {
	for _, tc := range []struct {
		s    Scenario
		args []string
		want string
	}{
		{ScenarioFanout, []string{"-clients", "0"}, "-clients must be between 1"},
		{ScenarioFanout, []string{"-clients", "10", "-rooms", "11"}, "-rooms must be between 1 and -clients (10)"},
		{ScenarioFanout, []string{"-messages", "0"}, "-messages must be at least 1"},
		{ScenarioFanout, []string{"-rate", "-1"}, "-rate must be between 0"},
		{ScenarioFanout, []string{"-payload", "10"}, "-payload must be between 64"},
		{ScenarioFanout, []string{"-timeout", "0s"}, "-timeout must be positive"},
		{ScenarioFanout, []string{"-format", "xml"}, "-format must be table, json or both"},
		{ScenarioFanout, []string{"-target", "http://10.0.0.1:8080"}, "not a loopback address"},
		{ScenarioFanout, []string{"-target", "http://127.0.0.1"}, "want http://HOST:PORT"},
		{ScenarioChaos, []string{"-admin-key", ""}, "-admin-key is required"},
		{ScenarioFanout, []string{"extra"}, "unexpected arguments: extra"},
		{ScenarioFanout, []string{"-nope"}, "flag provided but not defined"},
		{ScenarioFanout, []string{"-transport", "sse"}, `unknown transport "sse"`},
		{ScenarioFanout, []string{"-poll-target", "http://127.0.0.1:8081"}, "-poll-target needs -transport polling or default"},
		{ScenarioFanout, []string{"-transport", "polling", "-poll-target", "http://10.0.0.1:8081"}, "not a loopback address"},
		{ScenarioFanout, []string{"-transport", "polling", "-target", "http://127.0.0.1:8081,http://127.0.0.1:8082,http://127.0.0.1:8083",
			"-poll-target", "http://127.0.0.1:8082,http://127.0.0.1:8083"}, "one per -target (3) (got 2)"},
	} {
		_, err := ParseRunFlags(tc.s, tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: got %v, want an error containing %q", tc.s, tc.args, err, tc.want)
		}
	}
}

func TestParseRunFlagsTransportAndPollTarget(t *testing.T) {
	c, err := ParseRunFlags(ScenarioFanout, nil, io.Discard)
	if err != nil || c.Transport != TransportWebSocket || c.PollTargets() != nil {
		t.Fatalf("default: transport %q, poll targets %v, %v", c.Transport, c.PollTargets(), err)
	}
	c, err = ParseRunFlags(ScenarioFanout, []string{"-transport", "polling", "-target", "http://127.0.0.1:8081,http://127.0.0.1:8082",
		"-poll-target", "http://127.0.0.1:8082/"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.PollTargets(); c.Transport != TransportPolling || len(got) != 2 || got[0] != "http://127.0.0.1:8082" || got[1] != got[0] {
		t.Errorf("transport %q, poll targets %v: want polling, the one poll target for both targets", c.Transport, got)
	}
}

func TestParseCompareFlagsTransportAndSizes(t *testing.T) {
	cc, err := ParseCompareFlags([]string{"-repo", "../../..", "-scenarios", "fanout,storm", "-transport", "polling",
		"-clients", "300", "-messages", "40", "-rate", "20"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	f, s := cc.Workload(ScenarioFanout), cc.Workload(ScenarioStorm)
	if f.Transport != TransportPolling || f.Clients != 300 || f.Messages != 40 || f.Rate != 20 {
		t.Errorf("fanout workload %+v", f)
	}
	if s.Transport != TransportPolling || s.Clients != 300 || s.Messages != 0 || s.Rate != 0 {
		t.Errorf("storm workload %+v: publishes nothing", s)
	}
	if cc, _ := ParseCompareFlags([]string{"-repo", "../../.."}, io.Discard); cc.Workload(ScenarioFanout).Rate != defaultRate {
		t.Error("-rate unset changed the rate")
	}
	if _, err := ParseCompareFlags([]string{"-repo", "../../..", "-transport", "carrier-pigeon"}, io.Discard); err == nil {
		t.Error("bad transport accepted")
	}
}

func TestParseRunFlagsReportsEveryBadFlag(t *testing.T) {
	_, err := ParseRunFlags(ScenarioFanout, []string{"-clients", "0", "-payload", "1", "-concurrency", "0"}, io.Discard)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"-clients", "-payload", "-concurrency"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestParseScenarioUnknown(t *testing.T) {
	if _, err := ParseScenario("fan-out"); err == nil || !strings.Contains(err.Error(), "want one of") {
		t.Errorf("got %v", err)
	}
}

func TestParseCompareFlags(t *testing.T) {
	c, err := ParseCompareFlags([]string{"-repo", "../../..", "-scenarios", "fanout, idle", "-peers", "gateway,socketio", "-rounds", "2", "-timeout", "1m"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Scenarios) != 2 || c.Scenarios[1] != ScenarioIdle || len(c.Peers) != 2 || c.Peers[1] != PeerSocketIO ||
		c.Rounds != 2 || c.Timeout != time.Minute {
		t.Errorf("got %+v", c)
	}
	if !strings.HasSuffix(c.PlotCopy, "bench/latency.png") {
		t.Errorf("PlotCopy = %q, want the README's copy", c.PlotCopy)
	}
	q, err := ParseCompareFlags([]string{"-repo", "../../..", "-quick"}, io.Discard)
	if err != nil || q.PlotCopy != "" {
		t.Errorf("-quick: PlotCopy %q, err %v; a smoke run must not replace the README's plot", q.PlotCopy, err)
	}
}

func TestParseCompareFlagsGatewayVariants(t *testing.T) {
	old := filepath.Join(t.TempDir(), "gw-old")
	if err := os.WriteFile(old, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := ParseCompareFlags([]string{"-repo", "../../..", "-peers", "gateway-old,gateway,gateway-norecovery", "-old-gateway", old}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if want := []PeerKind{PeerGatewayOld, PeerGateway, PeerGatewayNoRecovery}; !slices.Equal(c.Peers, want) || c.OldGateway != old {
		t.Errorf("peers %v, old %q; want %v, %q", c.Peers, c.OldGateway, want, old)
	}
	for _, k := range c.Peers {
		if !k.isGateway() || !k.supportsFaults() {
			t.Errorf("%s: not a gateway", k)
		}
	}
}

func TestParseCompareFlagsRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "../../..", "-peers", "gateway,nginx"}, `unknown peer "nginx"`},
		{[]string{"-repo", "../../..", "-scenarios", "soak"}, `unknown scenario "soak"`},
		{[]string{"-repo", "../../..", "-rounds", "0"}, "-rounds must be between 1"},
		{[]string{"-repo", "/nonexistent"}, "no go.mod of github.com/hyvve/gateway there"},
		{[]string{"-repo", "../.."}, "no go.mod of github.com/hyvve/gateway there"},
		{[]string{"-repo", "../../..", "-peers", ""}, "name at least one peer"},
		{[]string{"-repo", "../../..", "-peers", "gateway,gateway-old"}, "gateway-old needs -old-gateway"},
		{[]string{"-repo", "../../..", "-peers", "gateway-old", "-old-gateway", "/nonexistent/gw"}, "not a file"},
	} {
		_, err := ParseCompareFlags(tc.args, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}
