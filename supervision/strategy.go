package supervision

import (
	"github.com/asynkron/protoactor-go/actor"
)

// Strategy supervises the children of one parent, applying to each child the
// Policy of its kind. It is one strategy for all kinds because a workspace
// parents both connections and rooms.
func Strategy() actor.SupervisorStrategy { return byKind{} }

// GuardianStrategy supervises top-level actors. It is OneForOne and never
// escalates: at this protoactor version a guardian that escalates crashes the
// process.
func GuardianStrategy() actor.SupervisorStrategy { return byKind{} }

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
