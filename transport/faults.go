package transport

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// FaultInjector arms a fault in a running actor (actors.System, adapted by
// cmd/gateway). The vocabulary (kinds of actor, faults) is the
// injector's: transport only checks requests against it.
type FaultInjector interface {
	// Kinds and Faults list the kinds of actor a fault may target and the
	// faults there are.
	Kinds() []string
	Faults() []string
	// InjectFault arms fault in the actor of kind named target; kind and
	// fault are from the lists.
	InjectFault(ctx context.Context, kind, target, fault string, d time.Duration) (int, error)
}

const (
	defaultStall = time.Second
	maxStall     = 5 * time.Minute
)

type faultRequest struct {
	Kind       string `json:"kind"`
	Target     string `json:"target"`
	Fault      string `json:"fault"`
	DurationMS *int64 `json:"duration_ms"`
}

// FaultsHandler serves POST /debug/faults (CONTRACT.md §7). The caller mounts
// it only when fault injection is enabled with an admin key.
func FaultsHandler(adminKey string, inj FaultInjector, maxBody int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := bearerToken(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare([]byte(key), []byte(adminKey)) != 1 {
			writeError(w, http.StatusUnauthorized, "missing or wrong admin key")
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeError(w, http.StatusMethodNotAllowed, "use POST")
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(maxBody)))
		if err != nil {
			writeError(w, http.StatusBadRequest, "could not read body")
			return
		}
		var req faultRequest
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil || dec.More() {
			writeError(w, http.StatusBadRequest, `body must be JSON {"kind","target","fault","duration_ms"?}`)
			return
		}
		switch {
		case !slices.Contains(inj.Kinds(), req.Kind):
			writeError(w, http.StatusBadRequest, "kind must be one of "+strings.Join(inj.Kinds(), ", "))
			return
		case !slices.Contains(inj.Faults(), req.Fault):
			writeError(w, http.StatusBadRequest, "fault must be one of "+strings.Join(inj.Faults(), ", "))
			return
		case req.Target == "":
			writeError(w, http.StatusBadRequest, "target is required")
			return
		case req.DurationMS != nil && (*req.DurationMS < 0 || time.Duration(*req.DurationMS)*time.Millisecond > maxStall):
			writeError(w, http.StatusBadRequest, "duration_ms must be between 0 and 300000")
			return
		}
		d := defaultStall
		if req.DurationMS != nil {
			d = time.Duration(*req.DurationMS) * time.Millisecond
		}
		n, err := inj.InjectFault(r.Context(), req.Kind, req.Target, req.Fault, d)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"injected": n})
	})
}
