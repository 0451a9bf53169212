package main

import (
	"testing"
	"time"
)

// TestEventsDoNotShareWhatTheyChange: each event carries its own id, time
// and marker, and making one leaves the sample and the others as they were.
func TestEventsDoNotShareWhatTheyChange(t *testing.T) {
	f, err := newEventFactory("p1", "run")
	if err != nil {
		t.Fatal(err)
	}
	sampleID := f.sample["event_id"]
	at := time.Unix(1_800_000_000, 0)
	a, b := f.event(1, at), f.event(2, at.Add(time.Second))
	if a["event_id"] == b["event_id"] || a["project_id"] != "p1" {
		t.Errorf("ids %v and %v, project %v; want two ids of project p1", a["event_id"], b["event_id"], a["project_id"])
	}
	marker := func(ev map[string]any) loadMarker {
		return ev["entity"].(map[string]any)["meta"].(map[string]any)["herald_load"].(loadMarker)
	}
	if marker(a).Seq != 1 || marker(b).Seq != 2 {
		t.Errorf("markers %+v and %+v; want seq 1 and 2", marker(a), marker(b))
	}
	if f.sample["event_id"] != sampleID {
		t.Errorf("the sample's id became %v", f.sample["event_id"])
	}
	if _, ok := f.meta["herald_load"]; ok {
		t.Error("the sample's meta took an event's marker")
	}
}
