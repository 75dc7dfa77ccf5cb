package messages

// ChildIdle tells a parent that a lazily spawned child (workspace, room, ip
// limiter) holds nothing and may be stopped. Handled is how many routed
// messages the child had handled; the parent stops it only if it routed no
// more than that, so nothing in flight is lost (child → parent).
type ChildIdle struct {
	Name    string
	Handled uint64
}
