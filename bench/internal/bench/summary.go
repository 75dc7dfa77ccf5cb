package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
)

// values returns the metric's value in every measurement of scenario s on
// peer k that produced a Result.
func (c *Comparison) values(s Scenario, k PeerKind, m metric) []float64 {
	var out []float64
	for _, ms := range c.Measurements {
		if ms.Scenario == s && ms.Peer == k && ms.Result != nil {
			if v, ok := m.get(ms.Result); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

// runs counts scenario s's measurements on peer k, and those that failed.
func (c *Comparison) runs(s Scenario, k PeerKind) (total, failed int) {
	for _, ms := range c.Measurements {
		if ms.Scenario == s && ms.Peer == k {
			total++
			if ms.Err != "" {
				failed++
			}
		}
	}
	return total, failed
}

// peersOf lists the peers measured in scenario s, in compare order.
func (c *Comparison) peersOf(s Scenario) []PeerKind {
	var out []PeerKind
	for _, k := range c.Config.Peers {
		if total, _ := c.runs(s, k); total > 0 {
			out = append(out, k)
		}
	}
	return out
}

// WriteMarkdown writes the comparison as markdown ready for
// bench/RESULTS.md: the machine, then per scenario a table of medians with
// the gateway's ratio to each other peer, the headline per round, and any
// failure word for word.
func (c *Comparison) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "## Benchmark results (%s)\n\n", c.Started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "Machine: %s. Medians of %d rounds; peers measured in rotation, each on a freshly started process.\n",
		machineText(), c.Config.Rounds)
	fmt.Fprintf(&b, "Gateway source: %s.\n", sourceText(c.Config.RepoDir))
	fmt.Fprintf(&b, "Ratios are gateway ÷ peer (for latency, CPU and memory lower is better; for rates higher is better).\n\n")
	for _, s := range c.Config.Scenarios {
		peers := c.peersOf(s)
		if len(peers) == 0 {
			continue
		}
		cfg := c.Config.Workload(s)
		fmt.Fprintf(&b, "### %s — %s\n\n", s, workloadText(cfg))
		c.writeTable(&b, s, peers)
		c.writeRounds(&b, s, peers)
		c.writeFailures(&b, s)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (c *Comparison) writeTable(b *strings.Builder, s Scenario, peers []PeerKind) {
	var others []PeerKind
	hasGateway := slices.Contains(peers, PeerGateway)
	for _, k := range peers {
		if k != PeerGateway && hasGateway {
			others = append(others, k)
		}
	}
	b.WriteString("| metric |")
	for _, k := range peers {
		fmt.Fprintf(b, " %s |", k)
	}
	for _, k := range others {
		fmt.Fprintf(b, " gateway/%s |", k)
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(peers)+len(others)) + "\n")
	b.WriteString("| runs ok |")
	for _, k := range peers {
		total, failed := c.runs(s, k)
		fmt.Fprintf(b, " %d/%d |", total-failed, total)
	}
	b.WriteString(strings.Repeat(" |", len(others)) + "\n")
	for _, m := range metricsFor(s) {
		fmt.Fprintf(b, "| %s |", m.name)
		med := map[PeerKind]float64{}
		for _, k := range peers {
			med[k] = Median(c.values(s, k, m))
			fmt.Fprintf(b, " %s |", numText(m.format, med[k]))
		}
		for _, k := range others {
			fmt.Fprintf(b, " %s |", ratioText(med[PeerGateway], med[k]))
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

// writeRounds shows the headline metric of every measurement, so a median
// can be judged against its spread.
func (c *Comparison) writeRounds(b *strings.Builder, s Scenario, peers []PeerKind) {
	head := headlineOf(s)
	fmt.Fprintf(b, "%s per round: ", head.name)
	var parts []string
	for _, k := range peers {
		var vs []string
		for _, v := range c.values(s, k, head) {
			vs = append(vs, numText(head.format, v))
		}
		parts = append(parts, fmt.Sprintf("%s %s", k, strings.Join(vs, ", ")))
	}
	b.WriteString(strings.Join(parts, "; ") + ".\n\n")
}

func (c *Comparison) writeFailures(b *strings.Builder, s Scenario) {
	for _, ms := range c.Measurements {
		if ms.Scenario != s {
			continue
		}
		if ms.Err != "" {
			fmt.Fprintf(b, "- %s round %d: `%s`\n", ms.Peer, ms.Round, oneLine(ms.Err))
		}
		if ms.Result != nil {
			for _, e := range ms.Result.Errors {
				fmt.Fprintf(b, "- %s round %d: %s\n", ms.Peer, ms.Round, oneLine(e))
			}
		}
	}
	b.WriteString("\n")
}

// WriteJSONLines writes every Result as one JSON line.
func (c *Comparison) WriteJSONLines(w io.Writer) error {
	for _, ms := range c.Measurements {
		if ms.Result != nil {
			if err := WriteJSON(w, ms.Result); err != nil {
				return err
			}
		}
	}
	return nil
}

// Panels returns one latency panel per publishing scenario: a CDF per
// peer, mixing its rounds with equal weight.
func (c *Comparison) Panels() []Panel {
	var out []Panel
	for _, s := range c.Config.Scenarios {
		if !s.publishes() {
			continue
		}
		p := Panel{Title: fmt.Sprintf("%s — %s", s, workloadText(c.Config.Workload(s)))}
		for _, k := range c.peersOf(s) {
			var cdfs [][]float64
			for _, ms := range c.Measurements {
				if ms.Scenario == s && ms.Peer == k && ms.Result != nil && len(ms.Result.CDF) > 0 {
					cdfs = append(cdfs, ms.Result.CDF)
				}
			}
			if len(cdfs) > 0 {
				p.Series = append(p.Series, Series{Name: string(k), CDF: mixCDFs(cdfs)})
			}
		}
		out = append(out, p)
	}
	return out
}

// mixCDFs merges quantile arrays of equal weight into one.
func mixCDFs(cdfs [][]float64) []float64 {
	var all []float64
	for _, c := range cdfs {
		all = append(all, c...)
	}
	slices.Sort(all)
	out := make([]float64, cdfPoints+1)
	for i := range out {
		out[i] = all[min(int(math.Round(float64(i)/cdfPoints*float64(len(all)-1))), len(all)-1)]
	}
	return out
}

// WriteFiles writes results.md, results.jsonl, a latency plot per
// publishing scenario and latency.png (every such scenario side by side)
// under the out directory, and copies latency.png to PlotCopy.
func (c *Comparison) WriteFiles() ([]string, error) {
	out, err := newOutDir(c.Config.OutDir)
	if err != nil {
		return nil, err
	}
	if err := out.write("results.md", c.WriteMarkdown); err != nil {
		return out.written, err
	}
	if err := out.write("results.jsonl", c.WriteJSONLines); err != nil {
		return out.written, err
	}
	panels := c.Panels()
	if len(panels) == 0 {
		return out.written, nil
	}
	for i, p := range panels {
		if err := out.plot(fmt.Sprintf("latency-%s.png", strings.Fields(p.Title)[0]), panels[i:i+1]); err != nil {
			return out.written, err
		}
	}
	if err := out.plot("latency.png", panels); err != nil {
		return out.written, err
	}
	if c.Config.PlotCopy != "" {
		if err := out.plotAt(c.Config.PlotCopy, panels); err != nil {
			return out.written, err
		}
	}
	return out.written, nil
}

// workloadText describes a scenario's sizes (and transport, when not a
// plain WebSocket) in one phrase.
func workloadText(c Config) string {
	return workloadSizes(c) + transportText(c)
}

// transportText names a run's transport for workloadText.
func transportText(c Config) string {
	var t string
	switch c.Transport {
	case TransportPolling:
		t = ", HTTP long-polling"
	case TransportDefault:
		t = ", socket.io-client's default transports (polling handshake and CONNECT, then the upgrade to WebSocket)"
	}
	if c.PollTarget != "" {
		t += ", polling requests sent to " + c.PollTarget
	}
	return t
}

func workloadSizes(c Config) string {
	switch c.Scenario {
	case ScenarioStorm:
		return fmt.Sprintf("%d clients connect, authenticate and join (%d in flight)", c.Clients, c.Concurrency)
	case ScenarioIdle:
		return fmt.Sprintf("%d idle clients held %s", c.Clients, c.Hold)
	}
	rooms := "one room"
	if c.Rooms > 1 {
		rooms = fmt.Sprintf("%d rooms of %d", c.Rooms, c.Clients/c.Rooms)
	}
	text := fmt.Sprintf("%d subscribers in %s, %d messages at %s, %d-byte payload", c.Clients, rooms, c.Messages, rateText(c.Rate), c.PayloadBytes)
	if c.Scenario == ScenarioChaos {
		text += fmt.Sprintf(", %g faults/s", c.FaultRate)
	}
	return text
}

// machineText names the CPU count, kernel, Go and Node versions.
func machineText() string {
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	parts := []string{fmt.Sprintf("%d CPUs", runtime.NumCPU()), "Linux " + strings.TrimSpace(string(kernel)), runtime.Version()}
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		parts = append(parts, "Node "+strings.TrimSpace(string(out)))
	}
	return strings.Join(parts, ", ")
}

// sourceText names the commit the gateway was built from, and whether the
// gateway's packages had uncommitted changes.
func sourceText(repo string) string {
	rev, err := exec.Command("git", "-C", repo, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown revision"
	}
	text := "commit " + strings.TrimSpace(string(rev))
	dirty, _ := exec.Command("git", "-C", repo, "status", "--porcelain", "--", "cmd/gateway", "actors", "transport",
		"security", "supervision", "messages", "go.mod").Output()
	if len(strings.TrimSpace(string(dirty))) > 0 {
		text += " with uncommitted changes"
	}
	return text
}

func numText(format string, v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf(format, v)
}

func ratioText(gw, peer float64) string {
	if math.IsNaN(gw) || math.IsNaN(peer) || peer == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f×", gw/peer)
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}
