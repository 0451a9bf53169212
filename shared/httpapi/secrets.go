package httpapi

import (
	"net/http"
	"time"

	"github.com/heraldhq/herald/shared/herald"
)

// SecretGrace is how long a rotated-out signing secret keeps signing beside
// the new one, so receivers can switch without rejecting calls.
const SecretGrace = 24 * time.Hour

// secretResource shows a webhook's signing secret. It is a sub-resource, not
// a webhook attribute, so that listing webhooks never spreads secrets into
// logs and screenshots: it is read on purpose.
type secretResource struct {
	ID         string           `json:"id"`
	Type       string           `json:"type"`
	Attributes secretAttributes `json:"attributes"`
}

type secretAttributes struct {
	Secret                  string   `json:"secret"`
	PreviousSecretExpiresAt *apiTime `json:"previous_secret_expires_at"`
}

func secretJSON(w *herald.Webhook, now time.Time) secretResource {
	r := secretResource{ID: w.ID, Type: "webhook_secret", Attributes: secretAttributes{Secret: w.Secret.Current}}
	if w.Secret.Previous != "" && now.Before(w.Secret.PreviousExpiresAt) {
		r.Attributes.PreviousSecretExpiresAt = optTime(&w.Secret.PreviousExpiresAt)
	}
	return r
}

func (s *Server) getSecret(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	hook, err := s.webhooks.GetWebhook(r.Context(), project, p["id"])
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"data": secretJSON(hook, s.clock.Now())})
	return nil
}

// rotateSecret gives the webhook a new signing secret; the old one keeps
// signing beside it for SecretGrace.
func (s *Server) rotateSecret(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	var rotated herald.Webhook
	var now time.Time
	err := s.changeWebhook(r.Context(), project, p["id"], func(old *herald.Webhook) error {
		now = s.clock.Now()
		rotated = *old
		rotated.Secret = herald.Secret{Current: s.newSecret(), Previous: old.Secret.Current, PreviousExpiresAt: now.Add(SecretGrace)}
		rotated.UpdatedAt = now
		return s.webhooks.UpdateWebhook(r.Context(), old, &rotated)
	})
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"data": secretJSON(&rotated, now)})
	return nil
}
