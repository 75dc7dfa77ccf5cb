package actors_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A webhook call in flight belongs to the System: Shutdown cancels it and
// waits for its goroutine, so none outlives the gateway.
func TestShutdownWaitsForAWebhookInFlight(t *testing.T) {
	arrived, cancelled := make(chan struct{}), make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // net/http watches for a closed connection once the body is read
		close(arrived)
		<-r.Context().Done() // never answers: only a cancelled call ends
		close(cancelled)
	}))
	defer backend.Close()
	h := newHarness(t, func(o *options) {
		o.actors.ActionWebhookURL = backend.URL
		o.actors.ActionWebhookTimeout = time.Hour
	})
	c := h.dial(token(t, "u", "w"))
	c.emit("dashboard_action", map[string]any{"action": "approve"}, true)
	select {
	case <-arrived:
	case <-time.After(waitFor):
		t.Fatal("the webhook call never arrived")
	}
	h.stop() // returns once the call's goroutine has (goleak checks none is left)
	select {
	case <-cancelled: // the backend saw the call cancelled: Shutdown ended it
	case <-time.After(waitFor):
		t.Fatal("Shutdown left the webhook call in flight")
	}
}
