package supervision

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Strategy supervises the children of one parent, applying to each child the
// Policy of its kind. It is one strategy for all kinds because a workspace
// parents both connections and rooms. It also serves as the guardian of the
// top-level gateway actor: it never escalates, and at this protoactor version
// a guardian that escalates crashes the process.
func Strategy() actor.SupervisorStrategy { return byKind{} }

type byKind struct{}

func (byKind) HandleFailure(sys *actor.ActorSystem, sup actor.Supervisor, child *actor.PID, rs *actor.RestartStatistics, reason, _ any) {
	p, ok := Policies[KindOf(child)]
	if !ok {
		p = Policy{Kind: KindUnknown, Directive: actor.StopDirective}
	}
	directive := p.Directive
	if directive == actor.RestartDirective {
		rs.Fail()
		if p.MaxRestarts == 0 || rs.NumberOfFailures(p.Within) > p.MaxRestarts {
			rs.Reset()
			directive = actor.StopDirective
		}
	}
	sys.EventStream.Publish(&actor.SupervisorEvent{Child: child, Reason: reason, Directive: directive})
	switch directive {
	case actor.ResumeDirective:
		sup.ResumeChildren(child)
	case actor.RestartDirective:
		sup.RestartChildren(child)
	default:
		sup.StopChildren(child)
	}
}
