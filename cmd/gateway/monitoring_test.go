package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/hyvve/gateway/security"
)

// The dashboard and the alert rules ship beside the code; these tests keep
// them honest: every metric they query must be one a running gateway exports.
const (
	dashboardPath = "../../deploy/grafana/gateway.json"
	alertsPath    = "../../deploy/prometheus/alerts.yml"
)

// TestDashboardAndAlertsQueryExportedMetrics starts a clustered gateway (so
// the cluster_* families exist), drives the traffic that creates the
// labelled series, scrapes /metrics and checks every metric name of the
// dashboard's and the alert rules' expressions against the scrape.
func TestDashboardAndAlertsQueryExportedMetrics(t *testing.T) {
	p := startGateway(t, "JWT_SECRET="+processSecret, "PUBLISH_API_KEY=pk", "NODE_ID=mon",
		"NATS_LISTEN=127.0.0.1:0", "FAULT_INJECTION=1", "ADMIN_API_KEY=ak")
	tok, _ := security.MintHS256([]byte(processSecret), security.Claims{Subject: "u", WorkspaceID: "w", ExpiresAt: time.Now().Add(time.Hour)})
	const room = "workspace:w:dashboard"

	ws := dialGateway(t, p.addr, tok)  // ws_upgrades_total{result="ok"}
	joinRoom(t, ws, room)              // ws_client_events_total
	publishTo(t, p.addr, room, "tick") // publish_requests_total, deliveries, broadcasts
	expectEventFrame(t, ws, "tick")
	// The room panics on its next message (which may be lost) and restarts:
	// actor_failures_total, actor_restarts_total.
	injectFault(t, p.addr, `{"kind":"room","target":"`+room+`","fault":"panic"}`)
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.addr+"/v1/publish", strings.NewReader(`{"room":"`+room+`","event":"boom","data":1}`))
	req.Header.Set("Authorization", "Bearer pk")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("publish to the failing room: %d, want 503", resp.StatusCode)
	}
	publishTo(t, p.addr, room, "after")
	for f := readFrame(t, ws); !isBroadcast(f, "after"); f = readFrame(t, ws) {
		if !isBroadcast(f, "boom") && f != "2" {
			t.Fatalf("unexpected frame %q", f)
		}
	}
	other := dialGateway(t, p.addr, tok)
	other.Close() // ws_disconnects_total{reason="transport_closed"}

	fams := waitForFamilies(t, p.addr, "ws_upgrades_total", "ws_client_events_total", "publish_requests_total",
		"actor_failures_total", "actor_restarts_total", "ws_disconnects_total")

	raw, err := os.ReadFile(dashboardPath)
	if err != nil {
		t.Fatal(err)
	}
	dashExprs, err := dashboardExprs(raw)
	if err != nil {
		t.Fatal(err)
	}
	alertExprs, err := ruleExprs(alertsPath)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	check := func(source, expr string, skip map[string]bool) {
		names := metricNames(expr)
		if len(names) == 0 && !strings.HasPrefix(source, "variable") {
			t.Errorf("%s: no metric name in %q", source, expr)
		}
		for _, n := range names {
			if skip[n] {
				continue
			}
			checked++
			if !exported(fams, n) {
				t.Errorf("%s queries %s, which the gateway does not export: %q", source, n, expr)
			}
		}
	}
	for _, e := range dashExprs {
		check(e.source, e.expr, nil)
	}
	for _, e := range alertExprs {
		check(e.source, e.expr, map[string]bool{"up": true}) // up is Prometheus's own
	}
	if len(dashExprs) < 20 || len(alertExprs) < 10 || checked == 0 {
		t.Fatalf("found only %d dashboard and %d alert expressions (%d names): is the parsing broken?", len(dashExprs), len(alertExprs), checked)
	}
}

func injectFault(t *testing.T, addr, body string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/debug/faults", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer ak")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(raw), `"injected":1`) {
		t.Fatalf("fault injection: %d %s", resp.StatusCode, raw)
	}
}

func scrape(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// waitForFamilies scrapes until every named family has a series (the
// counters are bumped after the requests that cause them are answered), and
// returns that scrape.
func waitForFamilies(t *testing.T, addr string, names ...string) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		fams := scrape(t, addr)
		var missing []string
		for _, n := range names {
			if f := fams[n]; f == nil || len(f.GetMetric()) == 0 {
				missing = append(missing, n)
			}
		}
		if len(missing) == 0 {
			return fams
		}
		select {
		case <-deadline:
			t.Fatalf("the traffic never produced %v", missing)
		case <-tick.C:
		}
	}
}

// exported reports whether name is a family of the scrape with a series, or
// a histogram's (or summary's) _bucket, _sum or _count series.
func exported(fams map[string]*dto.MetricFamily, name string) bool {
	if f := fams[name]; f != nil && len(f.GetMetric()) > 0 {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, ok := strings.CutSuffix(name, suffix)
		if !ok {
			continue
		}
		f := fams[base]
		if f == nil || len(f.GetMetric()) == 0 {
			return false
		}
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			return true
		case dto.MetricType_SUMMARY:
			return suffix != "_bucket"
		}
	}
	return false
}

// sourcedExpr is one query with where it was found, for error messages.
type sourcedExpr struct{ source, expr string }

// dashboardExprs returns every target expr of the dashboard, at any depth
// (rows nest panels), and the PromQL inside its query variables.
func dashboardExprs(raw []byte) ([]sourcedExpr, error) {
	var dash struct {
		Panels     []any `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		return nil, err
	}
	var out []sourcedExpr
	var walk func(v any, title string)
	walk = func(v any, title string) {
		switch v := v.(type) {
		case map[string]any:
			if s, ok := v["title"].(string); ok {
				title = s
			}
			if e, ok := v["expr"].(string); ok {
				out = append(out, sourcedExpr{"panel " + strings.TrimSpace(title), e})
			}
			for _, c := range v {
				walk(c, title)
			}
		case []any:
			for _, c := range v {
				walk(c, title)
			}
		}
	}
	walk(dash.Panels, "")
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		if e := templateExpr(q); e != "" {
			out = append(out, sourcedExpr{"variable " + v.Name, e})
		}
	}
	return out, nil
}

// templateExpr returns the PromQL inside a Grafana variable query:
// label_values(expr, label), label_values(label) (none), query_result(expr)
// or a bare expression.
func templateExpr(q string) string {
	q = strings.TrimSpace(q)
	if inner, ok := callArgs(q, "query_result"); ok {
		return inner
	}
	if inner, ok := callArgs(q, "label_values"); ok {
		depth, last := 0, -1
		for i, r := range inner { // the label is after the last top-level comma
			switch r {
			case '(', '{', '[':
				depth++
			case ')', '}', ']':
				depth--
			case ',':
				if depth == 0 {
					last = i
				}
			}
		}
		if last < 0 {
			return ""
		}
		return strings.TrimSpace(inner[:last])
	}
	if strings.HasPrefix(q, "label_names(") || strings.HasPrefix(q, "metrics(") {
		return ""
	}
	return q
}

func callArgs(q, fn string) (string, bool) {
	rest, ok := strings.CutPrefix(q, fn)
	rest = strings.TrimSpace(rest)
	if !ok || !strings.HasPrefix(rest, "(") || !strings.HasSuffix(rest, ")") {
		return "", false
	}
	return rest[1 : len(rest)-1], true
}

var exprKey = regexp.MustCompile(`^(\s*)(?:-\s+)?expr:\s*(.*)$`)

// ruleExprs returns the expr of every rule in a Prometheus rules file. It
// reads the two shapes the file uses, a plain one-line value and a block
// scalar (| or >), and fails on any other so no expression goes unchecked.
func ruleExprs(path string) ([]sourcedExpr, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(string(raw), "\n")
	var out []sourcedExpr
	alert := ""
	rules := 0
	for i := 0; i < len(lines); i++ {
		if a, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "- alert:"); ok {
			alert = strings.TrimSpace(a)
			rules++
			continue
		}
		if r, ok := strings.CutPrefix(strings.TrimSpace(lines[i]), "- record:"); ok {
			alert = strings.TrimSpace(r)
			rules++
			continue
		}
		m := exprKey.FindStringSubmatch(lines[i])
		if m == nil {
			continue
		}
		indent, val := len(m[1]), strings.TrimSpace(m[2])
		switch {
		case strings.HasPrefix(val, "|") || strings.HasPrefix(val, ">"):
			var block []string
			for i+1 < len(lines) {
				next := lines[i+1]
				if strings.TrimSpace(next) != "" && len(next)-len(strings.TrimLeft(next, " ")) <= indent {
					break
				}
				block = append(block, next)
				i++
			}
			val = strings.TrimSpace(strings.Join(block, "\n"))
		case strings.HasPrefix(val, `"`) || strings.HasPrefix(val, `'`):
			return nil, fmt.Errorf("%s:%d: quoted expr is not supported by this reader", path, i+1)
		}
		if val == "" {
			return nil, fmt.Errorf("%s:%d: empty expr", path, i+1)
		}
		out = append(out, sourcedExpr{"rule " + alert, val})
	}
	if len(out) != rules {
		return nil, fmt.Errorf("%s: %d rules but %d exprs read", path, rules, len(out))
	}
	return out, nil
}

// promqlWords are PromQL's aggregation operators and keywords: identifiers
// that are never metric names even when no '(' follows them.
var promqlWords = map[string]bool{
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
	"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
	"limitk": true, "limit_ratio": true,
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "atan2": true, "offset": true,
	"inf": true, "nan": true,
}

// labelListWords take a parenthesised list of label names, not expressions.
var labelListWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
}

// metricNames returns the metric names an expression selects, in order of
// first use. It skips strings, label matchers ({…}), ranges and subqueries
// ([…]), Grafana variables ($x, ${x}), numbers and durations, comments,
// function calls (an identifier followed by '('), operators, keywords and
// the label lists of by/without/on/ignoring/group_left/group_right.
func metricNames(expr string) []string {
	var names []string
	seen := map[string]bool{}
	s := expr
	i := 0
	nextNonSpace := func(j int) int {
		for j < len(s) && strings.ContainsRune(" \t\r\n", rune(s[j])) {
			j++
		}
		return j
	}
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipGroup(s, i, '{', '}')
		case c == '[':
			i = skipGroup(s, i, '[', ']')
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				i = skipGroup(s, i, '{', '}')
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case isDigit(c) || (c == '.' && i+1 < len(s) && isDigit(s[i+1])):
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.' || ((s[i] == '+' || s[i] == '-') && (s[i-1] == 'e' || s[i-1] == 'E'))) {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			k := nextNonSpace(j)
			switch {
			case labelListWords[word] && k < len(s) && s[k] == '(':
				j = skipGroup(s, k, '(', ')')
			case promqlWords[strings.ToLower(word)]:
			case k < len(s) && s[k] == '(':
				// a function call
			default:
				if !seen[word] {
					seen[word] = true
					names = append(names, word)
				}
			}
			i = j
		default:
			i++
		}
	}
	return names
}

// skipString returns the index after the string literal starting at i.
func skipString(s string, i int) int {
	q := s[i]
	for i++; i < len(s); i++ {
		if s[i] == '\\' && q != '`' {
			i++
			continue
		}
		if s[i] == q {
			return i + 1
		}
	}
	return len(s)
}

// skipGroup returns the index after the close matching the open at i,
// stepping over string literals (a matcher's value may hold '}').
func skipGroup(s string, i int, open, close byte) int {
	depth := 0
	for i < len(s) {
		switch s[i] {
		case '"', '\'', '`':
			i = skipString(s, i)
			continue
		case open:
			depth++
		case close:
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return len(s)
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}
func isIdentChar(c byte) bool { return isIdentStart(c) || isDigit(c) }
func isDigit(c byte) bool     { return c >= '0' && c <= '9' }

func TestMetricNames(t *testing.T) {
	cases := []struct {
		expr string
		want []string
	}{
		{`ws_rooms_active`, []string{"ws_rooms_active"}},
		{`up{job="hyvve-gateway"} == 0`, []string{"up"}},
		{`sum by (workspace) (ws_connections_active{job=~"$job", workspace=~"$workspace"})`, []string{"ws_connections_active"}},
		{`sum(ws_connections_active) by (workspace, instance)`, []string{"ws_connections_active"}},
		{`histogram_quantile(0.99, sum by (le) (rate(lat_seconds_bucket{job="x"}[$__rate_interval])))`, []string{"lat_seconds_bucket"}},
		{`sum(rate(lat_sum[5m])) / sum(rate(lat_count[5m]))`, []string{"lat_sum", "lat_count"}},
		{`cluster_peers < on (job) group_left () (count by (job) (cluster_nats_connected) - 1)`, []string{"cluster_peers", "cluster_nats_connected"}},
		{`a * on(job) group_left b`, []string{"a", "b"}},
		{`sum without (instance) (a) unless ignoring(kind) b or c and d`, []string{"a", "b", "c", "d"}},
		{`a > bool 1 and b offset 5m or c @ start()`, []string{"a", "b", "c"}},
		{`rate(a{reason!~"x|y}", kind='q{'}[1h:5m])`, []string{"a"}},
		{`topk(20, sum by (workspace) (a)) + 1e3 * b - 0x1F + .5 + Inf + NaN + 2.5e-3`, []string{"a", "b"}},
		{`label_replace(a, "dst", "$1", "src", "(.*)")`, []string{"a"}},
		{`job:ws_deliveries:rate5m{instance=~"${instance}"}`, []string{"job:ws_deliveries:rate5m"}},
		{"# all the nodes\nsum(a)\n  / count(a) # per node", []string{"a"}},
		{`sort_desc(sum by (event) (increase(a[1h])))`, []string{"a"}},
		{`a{__name__!=""} offset 1h30m`, []string{"a"}},
		{`vector(1)`, nil},
		{`sum(rate(a[5m]))by(kind)`, []string{"a"}},
	}
	for _, c := range cases {
		if got := metricNames(c.expr); !reflect.DeepEqual(got, c.want) {
			t.Errorf("metricNames(%q) = %q, want %q", c.expr, got, c.want)
		}
	}
}

func TestTemplateExpr(t *testing.T) {
	cases := map[string]string{
		`label_values(ws_rooms_active, job)`:               `ws_rooms_active`,
		`label_values(a{job=~"$job", x=~"a,b"}, instance)`: `a{job=~"$job", x=~"a,b"}`,
		`label_values(job)`:                                ``,
		`query_result(topk(5, sum by (w) (a)))`:            `topk(5, sum by (w) (a))`,
		`label_names()`:                                    ``,
		`sum(a)`:                                           `sum(a)`,
		` label_values(sum by (w) (a), w) `:                `sum by (w) (a)`,
	}
	for in, want := range cases {
		if got := templateExpr(in); got != want {
			t.Errorf("templateExpr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRuleExprsReadsEveryRule(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/rules.yml"
	const rules = `groups:
  - name: g
    rules:
      - alert: One
        expr: a > 1
        for: 1m
      - alert: Two
        expr: |
          sum(b)
            / sum(c) > 0.5
        labels:
          severity: warning
      - record: job:d:sum
        expr: >-
          sum by (job) (d)
`
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := ruleExprs(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []sourcedExpr{{"rule One", "a > 1"}, {"rule Two", "sum(b)\n            / sum(c) > 0.5"}, {"rule job:d:sum", "sum by (job) (d)"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
	if err := os.WriteFile(path, []byte("groups:\n  - name: g\n    rules:\n      - alert: Q\n        expr: \"a > 1\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ruleExprs(path); err == nil {
		t.Fatal("a quoted expr was accepted")
	}
}

func TestDashboardExprsWalksRowsAndVariables(t *testing.T) {
	raw := []byte(`{
	  "panels": [
	    {"type": "timeseries", "title": "A", "targets": [{"expr": "a"}]},
	    {"type": "row", "title": "R", "collapsed": true, "panels": [
	      {"type": "stat", "title": "B", "targets": [{"expr": "sum(b)"}, {"expr": "c"}]}
	    ]}
	  ],
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "job", "type": "query", "query": {"query": "label_values(d, job)"}},
	    {"name": "old", "type": "query", "query": "label_values(e{x=\"1\"}, y)"},
	    {"name": "lbl", "type": "query", "query": "label_values(job)"}
	  ]}
	}`)
	got, err := dashboardExprs(raw)
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(got, func(i, j int) bool { return got[i].expr < got[j].expr })
	want := []sourcedExpr{{"panel A", "a"}, {"panel B", "c"}, {"variable job", "d"}, {"variable old", `e{x="1"}`}, {"panel B", "sum(b)"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}
