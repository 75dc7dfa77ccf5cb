package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "usage:"},
		{[]string{"marathon"}, 2, `unknown scenario "marathon"`},
		{[]string{"soak", "-target", "http://10.0.0.1:8080"}, 2, "not a loopback address"},
		{[]string{"soak", "-duration", "0s"}, 2, "-duration must be"},
		{[]string{"help", "soak"}, 0, "-duration"},
		{[]string{"fanout", "-clients", "-3"}, 2, "-clients must be between 1"},
		{[]string{"fanout", "-target", "http://192.168.0.10:8080"}, 2, "not a loopback address"},
		{[]string{"compare", "-peers", "redis"}, 2, `unknown peer "redis"`},
		{[]string{"help"}, 0, ""},
		{[]string{"help", "burst"}, 0, "-messages"},
		{[]string{"help", "fanout"}, 0, "-publish-target"},
		{[]string{"fanout", "-target", "http://127.0.0.1:8001,http://10.1.2.3:8002"}, 2, "not a loopback address"},
		{[]string{"fanout", "-target", "http://127.0.0.1:8001,http://127.0.0.1:8001"}, 2, "listed twice"},
		{[]string{"chaos", "-target", "http://127.0.0.1:8001,http://127.0.0.1:8002"}, 2, "scenario chaos takes a single -target"},
		{[]string{"cluster", "-repo", "../../..", "-nodes", "1"}, 2, "-nodes must be between 2 and 9"},
		{[]string{"help", "cluster"}, 0, "-p99-target"},
		{[]string{"help", "cluster"}, 0, "-recovery"},
		{[]string{"cluster", "-repo", "../../..", "-recovery", "-relay", "-transport", "polling"}, 2, "-relay and -recovery"},
		{[]string{"help"}, 0, "gateway-bench cluster"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.want) {
			t.Errorf("%v: exit %d, output %q; want exit %d and %q", tc.args, code, out.String()+errOut.String(), tc.code, tc.want)
		}
	}
}
