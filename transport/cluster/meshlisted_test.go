package cluster

import "testing"

func TestMeshListed(t *testing.T) {
	for _, tc := range []struct {
		listen string
		routes []string
		want   bool
	}{
		{"127.0.0.1:6222", []string{"nats-route://127.0.0.1:6222", "nats-route://127.0.0.1:6223"}, true},
		{"0.0.0.0:6222", []string{"nats-route://gw-1:6222", "nats-route://gw-2:6222"}, true}, // every host on 6222
		{"127.0.0.1:6223", []string{"nats-route://127.0.0.1:6222"}, false},                   // only the nodes before it
		{"127.0.0.1:0", []string{"nats-route://127.0.0.1:6222"}, false},                      // any port: cannot be listed
		{"127.0.0.1:6222", nil, false},
		{"bad", []string{"nats-route://127.0.0.1:6222"}, false},
	} {
		if got := meshListed(tc.listen, tc.routes); got != tc.want {
			t.Errorf("meshListed(%q, %v) = %v, want %v", tc.listen, tc.routes, got, tc.want)
		}
	}
}
