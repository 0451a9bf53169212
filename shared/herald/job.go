package herald

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// A job's message body is the job as JSON, then, for a first attempt that
// carries its event's payload, a newline and the payload document as
// MarshalPayload made it. encoding/json never writes a raw newline (one in
// a string is escaped), so the first newline ends the job. Keeping the
// payload out of the job's JSON spares the delivery function a validating
// pass over a few KB on every message: the document is read once, by
// ParsePayload. Messages written before (the payload inside the JSON, as
// "payload") decode the same.

// EncodeJob returns the message body of a job.
func EncodeJob(job Job) ([]byte, error) {
	payload := job.Payload
	job.Payload = nil
	b, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encode job for call %s: %w", job.CallID, err)
	}
	if len(payload) > 0 {
		b = append(append(b, '\n'), payload...)
	}
	return b, nil
}

// DecodeJob reads a message body EncodeJob wrote. The job's JSON in the
// form encoding/json writes it (Job's fields in order, strings without
// escapes) is read in one pass; any other goes through encoding/json.
func DecodeJob(body []byte) (Job, error) {
	head, payload, split := bytes.Cut(body, []byte{'\n'})
	job, ok := scanJob(head)
	if !ok {
		job = Job{}
		if err := json.Unmarshal(head, &job); err != nil {
			return Job{}, fmt.Errorf("decode job: %w", err)
		}
	}
	if split {
		job.Payload = payload
	}
	return job, nil
}

// scanJob reads a job's JSON as json.Marshal writes it, and reports false
// for anything else (an escape, another order, a field it does not know).
func scanJob(doc []byte) (Job, bool) {
	s := payloadScanner{b: doc, ok: true}
	var j Job
	s.lit(`{"project_id":`)
	j.ProjectID = s.str()
	s.lit(`,"call_id":`)
	j.CallID = s.str()
	s.lit(`,"trigger":`)
	j.Trigger = s.str()
	if s.has(`,"retry":`) {
		j.Retry = int(s.integer())
	}
	for _, f := range []struct {
		name string
		to   *string
	}{{`,"resend_id":`, &j.ResendID}, {`,"webhook_id":`, &j.WebhookID}, {`,"entity_type":`, &j.EntityType},
		{`,"event_type":`, &j.EventType}, {`,"event_id":`, &j.EventID}} {
		if s.has(f.name) {
			*f.to = s.str()
		}
	}
	if s.has(`,"expires_at":`) {
		j.ExpiresAt = s.integer()
	}
	if s.has(`,"replay":`) {
		s.lit("true") // omitempty: present only when true
		j.Replay = true
	}
	s.lit("}")
	return j, s.ok && s.i == len(s.b)
}
