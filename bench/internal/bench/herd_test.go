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

func TestParseHerdFlags(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "gw")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := ParseHerdFlags([]string{"-repo", "../../..", "-a", "paced=" + bin + ",old=" + bin, "-b", bin, "-clients", "500", "-window", "50ms"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Variants) != 2 || c.Variants[1] != (HerdVariant{"old", bin}) || c.BBinary != bin || c.Clients != 500 ||
		c.Window != 50*time.Millisecond || c.ShutdownTimeout != defaultHerdShutdown || !c.Cluster {
		t.Errorf("got %+v", c)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-repo", "../../.."}, "name at least one node-a binary"},
		{[]string{"-repo", "../../..", "-a", bin}, "is not LABEL=PATH"},
		{[]string{"-repo", "../../..", "-a", "x=/nonexistent"}, "is not a file"},
		{[]string{"-repo", "../../..", "-a", "x=" + bin, "-clients", "0"}, "-clients must be"},
		{[]string{"-repo", "../../..", "-a", "x=" + bin, "-rooms", "3000"}, "-rooms must be"},
	} {
		if _, err := ParseHerdFlags(tc.args, io.Discard); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: got %v, want %q", tc.args, err, tc.want)
		}
	}
}

func TestPerWindow(t *testing.T) {
	ms := float64(time.Millisecond)
	got := perWindow([]float64{-5 * ms, 10 * ms, 99 * ms, 100 * ms, 350 * ms}, 100*time.Millisecond)
	if want := []int{3, 1, 0, 1}; !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if perWindow(nil, time.Second) != nil {
		t.Error("no times: want nil")
	}
}
