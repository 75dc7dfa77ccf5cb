package bench

import (
	"bytes"
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

// procReading is a ProcSample that may be missing (no PID, or the process
// is gone).
type procReading struct {
	ProcSample
	ok bool
}

// serverProbe reads the server process's /proc entries when a PID is known.
type serverProbe struct {
	pid  int
	errs *errorLog
}

func (p serverProbe) sample() procReading {
	if p.pid == 0 {
		return procReading{}
	}
	s, err := ReadProc(p.pid)
	if err != nil {
		p.errs.add("server stats", err)
		return procReading{}
	}
	return procReading{ProcSample: s, ok: true}
}
