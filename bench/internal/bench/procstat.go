package bench

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strconv"
)

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ), which
// Linux fixes at 100 for user space on every architecture Go targets.
const userHZ = 100

// ProcSample is one reading of a process's memory and CPU time.
type ProcSample struct {
	RSSKB      int64   // VmRSS: resident set now
	HWMKB      int64   // VmHWM: peak resident set since the process started
	CPUSeconds float64 // utime + stime
	WriteCalls int64   // syscw of /proc/PID/io: write-family system calls so far (0 when unreadable)
}

// ReadProc reads /proc/PID/status and /proc/PID/stat.
func ReadProc(pid int) (ProcSample, error) {
	var s ProcSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("bench: server process: %w", err)
	}
	for _, line := range bytes.Split(status, []byte("\n")) {
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			s.RSSKB = kbField(line)
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			s.HWMKB = kbField(line)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("bench: server process: %w", err)
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// count fields after the last ')'. Field 3 (state) is index 0 there,
	// so utime (field 14) is index 11 and stime (15) index 12.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("bench: unreadable /proc/%d/stat", pid)
	}
	f := bytes.Fields(stat[i+1:])
	if len(f) < 13 {
		return s, fmt.Errorf("bench: short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(string(f[11]), 10, 64)
	st, err2 := strconv.ParseInt(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("bench: bad utime/stime in /proc/%d/stat", pid)
	}
	s.CPUSeconds = float64(ut+st) / userHZ
	s.WriteCalls = readSyscw(pid)
	return s, nil
}

// ReadMachineCPU returns the busy CPU time of the whole machine since boot,
// in seconds: user, nice, system, irq, softirq and steal of /proc/stat's
// first line (guest time is already inside user).
func ReadMachineCPU() (float64, error) {
	stat, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	line, _, _ := bytes.Cut(stat, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0, errors.New("bench: unreadable /proc/stat")
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system (idle iowait) irq softirq steal
		n, err := strconv.ParseInt(string(f[i]), 10, 64)
		if err != nil {
			return 0, errors.New("bench: bad number in /proc/stat")
		}
		busy += n
	}
	return float64(busy) / userHZ, nil
}

// machineMeter measures the CPU time other processes spent while a run
// was on: the machine's busy time less this process's and the servers'.
type machineMeter struct {
	machine, self float64
	ok            bool
}

// startMachineMeter reads the machine's and this process's CPU time.
func startMachineMeter() machineMeter {
	m, err1 := ReadMachineCPU()
	s, err2 := ReadProc(os.Getpid())
	return machineMeter{machine: m, self: s.CPUSeconds, ok: err1 == nil && err2 == nil}
}

// others returns the CPU seconds spent since start by every process but
// this one, less serverCPU (the servers' share over the same time).
func (m machineMeter) others(serverCPU float64) (float64, bool) {
	now := startMachineMeter()
	if !m.ok || !now.ok {
		return 0, false
	}
	return max(0, (now.machine-m.machine)-(now.self-m.self)-serverCPU), true
}

// readSyscw reads the write system call count from /proc/PID/io, which
// only the process's owner (or root) may read; 0 when it cannot.
func readSyscw(pid int) int64 {
	io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return 0
	}
	for _, line := range bytes.Split(io, []byte("\n")) {
		if bytes.HasPrefix(line, []byte("syscw:")) {
			return kbField(line)
		}
	}
	return 0
}

// kbField parses the number of "VmRSS:\t  12345 kB" (or "syscw: 42").
func kbField(line []byte) int64 {
	f := bytes.Fields(line)
	if len(f) < 2 {
		return 0
	}
	n, _ := strconv.ParseInt(string(f[1]), 10, 64)
	return n
}

// procReading is a ProcSample that may be missing (no PID, or a process
// is gone). With several server processes it is their sum, and nodes holds
// each one's reading in PID order.
type procReading struct {
	ProcSample
	nodes []ProcSample
	ok    bool
}

// serverProbe reads the server processes' /proc entries when PIDs are known.
type serverProbe struct {
	pids []int
	errs *errorLog
}

// sample reads every server process and sums them: RSS, peak (the sum of
// each process's own peak), CPU time and write calls.
func (p serverProbe) sample() procReading {
	if len(p.pids) == 0 {
		return procReading{}
	}
	var r procReading
	for _, pid := range p.pids {
		s, err := ReadProc(pid)
		if err != nil {
			p.errs.add("server stats", err)
			return procReading{}
		}
		r.RSSKB += s.RSSKB
		r.HWMKB += s.HWMKB
		r.CPUSeconds += s.CPUSeconds
		r.WriteCalls += s.WriteCalls
		r.nodes = append(r.nodes, s)
	}
	r.ok = true
	return r
}
