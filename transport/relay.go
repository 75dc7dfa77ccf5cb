package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// Relay passes polling requests between the nodes of a cluster, so that no
// load balancer needs sticky sessions (CONTRACT §8): a polling session's
// Engine.IO sid ends with the tag of the node that holds it, and a request
// that reaches another node is relayed there and answered from there; the
// long poll's wait happens on the holder. cluster.Node implements it; nil
// is a single node.
type Relay interface {
	// RelayTag is this node's tag.
	RelayTag() string
	// Relay sends req to the node tagged tag and returns its answer.
	Relay(ctx context.Context, tag string, req []byte) ([]byte, error)
}

// relayedRequest is a polling request as it crosses to the session's node.
type relayedRequest struct {
	Method string `json:"m"`
	Query  string `json:"q"`
	Origin string `json:"o,omitempty"`
	Body   []byte `json:"b,omitempty"`
}

// relayedResponse is the holder's answer, relayed back as it was.
type relayedResponse struct {
	Status      int    `json:"s"`
	ContentType string `json:"t,omitempty"`
	Body        []byte `json:"b,omitempty"`
}

// relayMargin is how much longer than a long poll the relaying node waits
// for the holder, which ends its poll first: an answer is never left with
// nobody to take it.
const relayMargin = 3 * time.Second

// sessionTag returns the node tag of an Engine.IO sid made by a clustered
// node ("" for one made by a single node).
func sessionTag(sid string) string {
	if i := strings.LastIndexByte(sid, '.'); i >= 0 {
		return sid[i+1:]
	}
	return ""
}

// newEngineSID returns a new Engine.IO sid, tagged with this node when
// clustered.
func (s *Server) newEngineSID() string {
	if s.relay == nil {
		return newID()
	}
	return newID() + "." + s.relay.RelayTag()
}

// relayElsewhere relays a request for a session another node holds and
// writes that node's answer; false means the sid is no other node's.
func (s *Server) relayElsewhere(w http.ResponseWriter, r *http.Request, sid string) bool {
	tag := sessionTag(sid)
	if s.relay == nil || tag == "" || tag == s.relay.RelayTag() {
		return false
	}
	req := relayedRequest{Method: r.Method, Query: r.URL.RawQuery, Origin: r.Header.Get("Origin")}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, int64(s.cfg.MaxMessageBytes)+1))
		if err != nil {
			writeEIOError(w, eioBadRequest)
			return true
		}
		req.Body = body
	}
	data, _ := json.Marshal(req)
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.PingInterval+2*relayMargin)
	defer cancel()
	start := time.Now()
	answer, err := s.relay.Relay(ctx, tag, data)
	s.metrics.relayed.WithLabelValues(r.Method).Observe(time.Since(start).Seconds())
	var resp relayedResponse
	if err != nil || json.Unmarshal(answer, &resp) != nil || resp.Status == 0 {
		if r.Context().Err() == nil {
			s.log.Debug("polling request not relayed", "err", err)
		}
		s.refuseRequest(w, r, "unknown_sid", eioUnknownSID)
		return true
	}
	if resp.ContentType != "" {
		w.Header().Set("Content-Type", resp.ContentType)
	}
	w.WriteHeader(resp.Status)
	_, _ = w.Write(resp.Body)
	return true
}

// ServeRelayed answers a polling request another node relayed here (see
// Relay); cmd/gateway hands it to cluster.Node.ServeRelay.
func (s *Server) ServeRelayed(ctx context.Context, data []byte) []byte {
	var req relayedRequest
	rec := &recordedResponse{header: http.Header{}}
	if json.Unmarshal(data, &req) != nil {
		writeEIOError(rec, eioBadRequest)
		return rec.encode()
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.PingInterval+relayMargin)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, req.Method, "/socket.io/?"+req.Query, bytes.NewReader(req.Body))
	if err != nil {
		writeEIOError(rec, eioBadRequest)
		return rec.encode()
	}
	if req.Origin != "" {
		r.Header.Set("Origin", req.Origin)
	}
	if p := s.pollSession(r.URL.Query().Get("sid")); p != nil {
		p.serve(rec, r)
	} else {
		writeEIOError(rec, eioUnknownSID)
	}
	return rec.encode()
}

// recordedResponse keeps a relayed request's answer to send back.
type recordedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recordedResponse) Header() http.Header { return w.header }

func (w *recordedResponse) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
}

func (w *recordedResponse) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.body.Write(b)
}

func (w *recordedResponse) encode() []byte {
	data, _ := json.Marshal(relayedResponse{Status: w.status, ContentType: w.header.Get("Content-Type"), Body: w.body.Bytes()})
	return data
}
