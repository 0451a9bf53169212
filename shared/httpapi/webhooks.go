package httpapi

import (
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
	data, err := s.withHealth(r.Context(), project, []*herald.Webhook{hook}, true)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data[0]})
	return nil
}

func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, project string, _ map[string]string) error {
	doc, err := readDocument(r, "webhook", "")
	if err != nil {
		return err
	}
	in, err := webhookInput(doc.Attributes)
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

// updateWebhook applies the given attributes to the webhook as stored now.
// Each write is conditional on the version it read; when another update got
// in between, it reads again and re-applies, so concurrent updates are
// serialized and none is lost.
func (s *Server) updateWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	doc, err := readDocument(r, "webhook", p["id"])
	if err != nil {
		return err
	}
	in, err := webhookInput(doc.Attributes)
	if err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		old, err := s.webhooks.GetWebhook(r.Context(), project, p["id"])
		if err != nil {
			return err
		}
		updated, err := old.Update(in, s.clock.Now())
		if err != nil {
			return err
		}
		err = s.webhooks.UpdateWebhook(r.Context(), old, updated)
		if herald.ErrorCode(err) == herald.ECONFLICT && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return err
		}
		data, err := s.withHealth(r.Context(), project, []*herald.Webhook{updated}, false)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": data[0]})
		return nil
	}
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, project string, p map[string]string) error {
	for attempt := 1; ; attempt++ {
		hook, err := s.webhooks.GetWebhook(r.Context(), project, p["id"])
		if err != nil {
			return err
		}
		err = s.webhooks.DeleteWebhook(r.Context(), hook)
		if herald.ErrorCode(err) == herald.ECONFLICT && attempt < maxUpdateAttempts {
			continue
		}
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]any{"data": webhookJSON(hook)})
		return nil
	}
}
