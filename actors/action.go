package actors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/hyvve/gateway/messages"
	"github.com/hyvve/gateway/security"
)

// maxWebhookAnswerBytes bounds the backend's answer that becomes the ack.
const maxWebhookAnswerBytes = 1 << 20

// dashboardAction validates and authorises a dashboard_action, then either
// broadcasts it to the other members of the workspace dashboard or hands it
// to the webhook, whose answer comes back as ActionAnswered.
func (a *connectionActor) dashboardAction(ctx actor.Context, data json.RawMessage, ackID int64) error {
	act, err := security.DecodeAction(data)
	if err != nil {
		a.securityEvent(security.EventValidationFailed, err.Error(), "")
		return err
	}
	if !a.d.policy.Allows(a.claims.Role, act.Action) {
		a.securityEvent(security.EventPermissionDenied, "action "+act.Action, "")
		return messages.NewError(messages.CodePermissionDenied)
	}
	if a.d.cfg.ActionWebhookURL != "" {
		a.postAction(ctx, act, ackID)
		return nil
	}
	body, _ := json.Marshal(struct {
		UserID  string  `json:"userId"`
		Action  string  `json:"action"`
		Payload *string `json:"payload"`
	}{a.claims.Subject, act.Action, act.Payload})
	if err := a.relay(ctx, security.DashboardRoom(a.claims.WorkspaceID), "dashboard_action", body); err != nil {
		return err
	}
	ok, _ := json.Marshal(map[string]any{"ok": true, "action": act.Action})
	a.ack(ackID, ok)
	return nil
}

// postAction calls the webhook off the actor's goroutine, bounded by
// ActionWebhookTimeout, and sends the outcome back to the connection.
func (a *connectionActor) postAction(ctx actor.Context, act security.Action, ackID int64) {
	body, _ := json.Marshal(struct {
		UserID      string  `json:"userId"`
		WorkspaceID string  `json:"workspaceId"`
		Action      string  `json:"action"`
		Payload     *string `json:"payload"`
	}{a.claims.Subject, a.claims.WorkspaceID, act.Action, act.Payload})
	self, root, d := ctx.Self(), a.d.root, a.d
	d.tasks.goTask(func(tctx context.Context) {
		result, err := callWebhook(tctx, d.httpClient, d.cfg.ActionWebhookURL, d.cfg.ActionWebhookTimeout, body)
		answer := &messages.ActionAnswered{AckID: ackID, Result: result}
		if err != nil {
			d.log.Warn("action webhook failed", "err", err)
			answer.Err = messages.CodeUpstreamUnavailable
		}
		root.Send(self, answer)
	})
}

// callWebhook POSTs body and returns the backend's JSON answer; a refused
// connection, a non-2xx status, a timeout or an answer that is not JSON is an
// error.
func callWebhook(parent context.Context, client *http.Client, url string, timeout time.Duration, body []byte) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookAnswerBytes+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, &webhookStatusError{status: resp.StatusCode}
	}
	answer = bytes.TrimSpace(answer)
	if len(answer) == 0 {
		return json.RawMessage(`{"ok":true}`), nil
	}
	// The answer becomes a text frame: invalid UTF-8 would drop the client.
	if len(answer) > maxWebhookAnswerBytes || !utf8.Valid(answer) || !json.Valid(answer) {
		return nil, errWebhookAnswer
	}
	return answer, nil
}

type webhookStatusError struct{ status int }

func (e *webhookStatusError) Error() string {
	return "action webhook answered " + http.StatusText(e.status)
}

var errWebhookAnswer = errors.New("action webhook answered something that is not JSON, or over 1 MiB")
