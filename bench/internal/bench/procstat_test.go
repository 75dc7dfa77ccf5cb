package bench

import (
	"os"
	"testing"
)

func TestReadProcOfThisProcess(t *testing.T) {
	s, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSSKB <= 0 || s.HWMKB < s.RSSKB || s.CPUSeconds < 0 {
		t.Errorf("implausible sample %+v", s)
	}
	if _, err := ReadProc(1 << 30); err == nil {
		t.Error("a missing process must be an error")
	}
}

func TestFileLimit(t *testing.T) {
	lim, err := RaiseFileLimit()
	if err != nil || lim == 0 {
		t.Fatalf("RaiseFileLimit: %d, %v", lim, err)
	}
	if checkFileLimit(int(lim), lim) == nil {
		t.Error("as many clients as descriptors must be refused")
	}
	if err := checkFileLimit(1, lim); err != nil {
		t.Error(err)
	}
}

func TestMachineMeterCountsOtherProcesses(t *testing.T) {
	busy, err := ReadMachineCPU()
	if err != nil || busy <= 0 {
		t.Fatalf("ReadMachineCPU = %g, %v", busy, err)
	}
	m := startMachineMeter()
	if !m.ok {
		t.Fatal("meter did not start")
	}
	// Crediting the servers with more than the machine spent leaves none.
	if other, ok := m.others(1e9); !ok || other != 0 {
		t.Errorf("others = %g, %t; want 0, true", other, ok)
	}
}
