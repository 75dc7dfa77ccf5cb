package admin

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/hyvve/gateway/security"
	"github.com/hyvve/gateway/transport"
)

// publishForm is the body of POST /admin/api/publish: the publish API's,
// behind the admin key instead of the publish key.
type publishForm struct {
	Room  string          `json:"room"`
	Event string          `json:"event"`
	Data  json.RawMessage `json:"data"`
}

func (c *Console) servePublish(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(c.cfg.MaxMessageBytes)))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body over "+strconv.Itoa(c.cfg.MaxMessageBytes)+" bytes")
			return
		}
		writeError(w, http.StatusBadRequest, "could not read body")
		return
	}
	var f publishForm
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil || dec.More() {
		writeError(w, http.StatusBadRequest, `body must be JSON {"room", "event", "data"}`)
		return
	}
	if _, err := security.ParseRoom(f.Room); err != nil {
		writeError(w, http.StatusBadRequest, "invalid room")
		return
	}
	switch {
	case f.Event == "":
		writeError(w, http.StatusBadRequest, "event is required")
		return
	case transport.ReservedEvent(f.Event):
		writeError(w, http.StatusBadRequest, "event name "+strconv.Quote(f.Event)+" is reserved")
		return
	}
	if len(f.Data) == 0 {
		f.Data = json.RawMessage("null")
	}
	res, err := c.d.Publisher.Publish(r.Context(), f.Room, f.Event, f.Data)
	if err != nil {
		writeError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	c.d.Logger.Info("console publish", "room", f.Room, "event", f.Event, "recipients", res.Recipients)
	answer := map[string]any{"ok": true, "recipients": res.Recipients}
	if res.Partial {
		answer["partial"] = true
	}
	writeJSON(w, http.StatusOK, answer)
}
