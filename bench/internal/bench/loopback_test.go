package bench

import (
	"errors"
	"testing"
)

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:8080", "http://127.3.2.1:1", "http://[::1]:8080", "http://localhost:8080", "http://127.0.0.1:8080/"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://10.0.0.1:8080", "http://192.168.1.1:80", "http://8.8.8.8:80", "http://[2001:db8::1]:80"} {
		if err := CheckLoopback(bad); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: got %v, want ErrNotLoopback", bad, err)
		}
	}
	for _, bad := range []string{"https://127.0.0.1:8443", "127.0.0.1:8080", "http://127.0.0.1", "http://127.0.0.1:80/v1", "://"} {
		if err := CheckLoopback(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		}
	}
}
