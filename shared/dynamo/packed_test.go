package dynamo

import (
	"bytes"
	"compress/flate"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/heraldhq/herald/shared/herald"
)

func TestPackedTextRoundTrips(t *testing.T) {
	random := make([]byte, 3000)
	_, _ = rand.Read(random)
	cases := map[string]struct {
		text   string
		binary bool
	}{
		"empty":          {"", false},
		"short":          {`{"ok":true}`, false},
		"a JSON body":    {`{"entity":{"id":"1","attributes":{"title":"` + strings.Repeat("héllo wörld ", 300) + `"}}}`, true},
		"incompressible": {string(random), false},
	}
	for name, tc := range cases {
		av, err := packedText(tc.text).MarshalDynamoDBAttributeValue()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, isBinary := av.(*types.AttributeValueMemberB)
		if isBinary != tc.binary {
			t.Errorf("%s: stored as %T; want binary %v", name, av, tc.binary)
		}
		if isBinary && len(b.Value) >= len(tc.text)/4 {
			t.Errorf("%s: %d bytes deflated to %d", name, len(tc.text), len(b.Value))
		}
		var back packedText
		if err := back.UnmarshalDynamoDBAttributeValue(av); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if string(back) != tc.text {
			t.Errorf("%s: read back %q…", name, string(back)[:min(len(back), 40)])
		}
	}
}

func TestPackedTextReadsStringsAndRefusesBombs(t *testing.T) {
	var p packedText
	if err := p.UnmarshalDynamoDBAttributeValue(&types.AttributeValueMemberS{Value: "as stored before"}); err != nil || p != "as stored before" {
		t.Errorf("a plain string attribute read as %q, %v", p, err)
	}
	var bomb bytes.Buffer
	w, _ := flate.NewWriter(&bomb, flate.BestCompression)
	zeros := make([]byte, 1<<20)
	for range maxUnpacked>>20 + 1 {
		_, _ = w.Write(zeros)
	}
	_ = w.Close()
	if err := p.UnmarshalDynamoDBAttributeValue(&types.AttributeValueMemberB{Value: bomb.Bytes()}); err == nil {
		t.Errorf("%d bytes inflating past %d were accepted", bomb.Len(), maxUnpacked)
	}
	if err := p.UnmarshalDynamoDBAttributeValue(&types.AttributeValueMemberB{Value: []byte("not deflate")}); err == nil {
		t.Errorf("a corrupt binary attribute was accepted")
	}
	if err := p.UnmarshalDynamoDBAttributeValue(&types.AttributeValueMemberN{Value: "1"}); err == nil {
		t.Errorf("a number attribute was accepted")
	}
}

// TestPayloadDictionary: the events/ samples' payload documents come back
// whole from packPayload, each smaller than plain deflate makes it.
func TestPayloadDictionary(t *testing.T) {
	files, err := filepath.Glob("../../events/ingest/*-*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("samples: %v %v", files, err)
	}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		ev, _, err := herald.ParseEvent(raw)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		doc, err := herald.MarshalPayload(ev.Payload())
		if err != nil {
			t.Fatal(err)
		}
		packed, err := packPayload(doc)
		if err != nil {
			t.Fatal(err)
		}
		back, err := unpackPayload(packed)
		if err != nil || !bytes.Equal(back, doc) {
			t.Fatalf("%s: round trip: %v", f, err)
		}
		var plain bytes.Buffer
		w, _ := flate.NewWriter(&plain, flate.DefaultCompression)
		_, _ = w.Write(doc)
		_ = w.Close()
		if len(packed) >= plain.Len() {
			t.Errorf("%s: %d bytes with the dictionary, %d without", filepath.Base(f), len(packed), plain.Len())
		}
		t.Logf("%s: %d bytes, %d deflated, %d with the dictionary", filepath.Base(f), len(doc), plain.Len(), len(packed))
	}
}
