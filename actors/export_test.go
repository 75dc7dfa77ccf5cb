package actors

import "strconv"

// WarmRegistry adds and removes n names (prefix and a number) in s's protoactor process registry,
// as n spawned and stopped actors would. The registry is 1024×32 Go maps
// that keep their tables once used: a warmed registry is at the plateau
// churn would bring it to, so a test can measure what is the gateway's own.
func WarmRegistry(s *System, prefix string, n int) {
	reg := s.sys.ProcessRegistry
	for i := range n {
		pid, _ := reg.Add(s.sys.DeadLetter, prefix+strconv.Itoa(i))
		reg.Remove(pid)
	}
}
