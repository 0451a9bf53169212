package httpapi

import (
	"context"
	"net/http"

	"github.com/heraldhq/herald/shared/herald"
)

// maxUpdateAttempts bounds the read-apply-write loop of an update; each
// round loses only to a write that landed in between, so a few suffice.
const maxUpdateAttempts = 8

func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	hooks, err := s.webhooks.ListWebhooks(r.Context(), project)
	if err != nil {
		return err
	}
	data, err := s.withHealth(r.Context(), project, hooks, false)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data})
	return nil
}

func (s *Server) getWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	hook, err := s.webhooks.GetWebhook(r.Context(), project, p["id"])
	if err != nil {
		return err
	}
	return s.writeWebhook(r.Context(), w, project, hook, true)
}

// writeWebhook answers with one webhook and its health, hourly or not.
func (s *Server) writeWebhook(ctx context.Context, w http.ResponseWriter, project string, hook *herald.Webhook, hourly bool) error {
	data, err := s.withHealth(ctx, project, []*herald.Webhook{hook}, hourly)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data[0]})
	return nil
}

// readWebhookInput reads a create (id "") or update request's attributes.
func readWebhookInput(r *http.Request, id string) (herald.WebhookInput, error) {
	doc, err := readDocument(r, "webhook", id)
	if err != nil {
		return herald.WebhookInput{}, err
	}
	return webhookInput(doc.Attributes)
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	in, err := readWebhookInput(r, "")
	if err != nil {
		return err
	}
	now := s.clock.Now()
	hook, err := herald.NewWebhook(project, herald.NewID(now), in, now)
	if err != nil {
		return err
	}
	hook.Secret.Current = s.newSecret()
	if err := s.webhooks.CreateWebhook(r.Context(), hook); err != nil {
		return err
	}
	res := webhookJSON(hook)
	res.Attributes.Health = newHealthJSON(herald.BuildHealth(herald.HealthState{}, herald.FirstSuccesses{}, now), false)
	writeJSON(w, http.StatusCreated, map[string]any{"data": res})
	return nil
}

// changeWebhook reads the webhook as stored now and hands it to change,
// whose write is conditional on that version. When another write got in
// between (ECONFLICT), it reads again and changes again, so concurrent
// changes are serialized and none is lost.
func (s *Server) changeWebhook(ctx context.Context, project, id string, change func(old *herald.Webhook) error) error {
	for attempt := 1; ; attempt++ {
		old, err := s.webhooks.GetWebhook(ctx, project, id)
		if err != nil {
			return err
		}
		err = change(old)
		if herald.ErrorCode(err) != herald.ECONFLICT || attempt >= maxUpdateAttempts {
			return err
		}
	}
}

// updateWebhook applies the given attributes to the webhook as stored now.
func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	in, err := readWebhookInput(r, p["id"])
	if err != nil {
		return err
	}
	var updated *herald.Webhook
	err = s.changeWebhook(r.Context(), project, p["id"], func(old *herald.Webhook) (err error) {
		if updated, err = old.Update(in, s.clock.Now()); err != nil {
			return err
		}
		return s.webhooks.UpdateWebhook(r.Context(), old, updated)
	})
	if err != nil {
		return err
	}
	return s.writeWebhook(r.Context(), w, project, updated, false)
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	var deleted *herald.Webhook
	err := s.changeWebhook(r.Context(), project, p["id"], func(old *herald.Webhook) error {
		deleted = old
		return s.webhooks.DeleteWebhook(r.Context(), old)
	})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": webhookJSON(deleted)})
	return nil
}
