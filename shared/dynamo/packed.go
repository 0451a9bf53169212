package dynamo

import (
	"bytes"
	"compress/flate"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// packedText is a large text attribute (an event payload, a request or
// response body) stored deflated when that makes it smaller. DynamoDB bills
// every write by the whole item's size, a call is rewritten on every claim
// and record, and its JSON bodies repeat themselves: deflating them takes a
// delivered call from about 5.7 KB to about 2 KB (docs/performance.md).
//
// A short or incompressible text is stored as a string, as before; a
// deflated one as binary. Reading accepts both, so items written either
// way stay readable.
type packedText string

// packMin is the length below which deflating is not tried: a write is
// billed per started KB, and short texts gain little.
const packMin = 256

// deflaters keep their compression state between writes; empty at first.
var deflaters sync.Pool

// inflaters keep their 32 KB windows between reads.
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

var packBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (p packedText) MarshalDynamoDBAttributeValue() (types.AttributeValue, error) {
	if len(p) < packMin {
		return &types.AttributeValueMemberS{Value: string(p)}, nil
	}
	buf := packBuffers.Get().(*bytes.Buffer)
	defer packBuffers.Put(buf)
	buf.Reset()
	w, _ := deflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriter(buf, flate.BestSpeed); err != nil {
			return nil, fmt.Errorf("deflate: %w", err)
		}
	} else {
		w.Reset(buf)
	}
	defer deflaters.Put(w)
	if _, err := io.WriteString(w, string(p)); err != nil {
		return nil, fmt.Errorf("deflate: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("deflate: %w", err)
	}
	if buf.Len() >= len(p) {
		return &types.AttributeValueMemberS{Value: string(p)}, nil
	}
	return &types.AttributeValueMemberB{Value: bytes.Clone(buf.Bytes())}, nil
}

// maxUnpacked bounds what a stored text may inflate to: the largest item
// DynamoDB holds is 400 KB, and no text Herald stores deflates by more than
// a few times; a stored bomb must not exhaust the function's memory.
const maxUnpacked = 16 << 20

func (p *packedText) UnmarshalDynamoDBAttributeValue(av types.AttributeValue) error {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		*p = packedText(v.Value)
	case *types.AttributeValueMemberB:
		r := inflaters.Get().(io.ReadCloser)
		defer inflaters.Put(r)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(v.Value), nil); err != nil {
			return fmt.Errorf("inflate: %w", err)
		}
		buf := packBuffers.Get().(*bytes.Buffer)
		defer packBuffers.Put(buf)
		buf.Reset()
		n, err := buf.ReadFrom(io.LimitReader(r, maxUnpacked+1))
		if err != nil {
			return fmt.Errorf("inflate: %w", err)
		}
		if n > maxUnpacked {
			return fmt.Errorf("inflate: more than %d bytes", maxUnpacked)
		}
		*p = packedText(buf.String())
	case *types.AttributeValueMemberNULL:
		*p = ""
	default:
		return fmt.Errorf("a packed text is a string or binary, not %T", av)
	}
	return nil
}

func pack(s *string) *packedText {
	if s == nil {
		return nil
	}
	p := packedText(*s)
	return &p
}

func unpack(p *packedText) *string {
	if p == nil {
		return nil
	}
	s := string(*p)
	return &s
}

// An event's payload document is stored deflated with a preset dictionary:
// the parts of a DatoCMS event that every one of them repeats (the keys of
// a record's meta and relationships, of a model among the related
// entities, of the payload itself). Events are small, and a dictionary is
// where most of their redundancy is: it takes the payload of a 2.3 KB record
// update from 670 to 500 bytes, and of a model update from 219 to 78
// (TestPayloadDictionary). The dictionary is part of the stored format:
// payloadDictV1 is read as long as items written with it live; a new one
// would be stored under another attribute.
var payloadDictV1 = []byte(`"publication_scheduled_at":null,"unpublishing_scheduled_at":null,"is_current_version_valid":true,` +
	`"is_published_version_valid":true,"status":"published","is_valid":true,"current_version":"","stage":null},` +
	`"relationships":{"item_type":{"data":{"id":"","type":"item_type"}},"creator":{"data":{"id":"","type":"user"}}},` +
	`"meta":{"created_at":"","updated_at":"","published_at":"","first_published_at":"",` +
	`"related_entities":[{"id":"","type":"item_type","attributes":{"name":"","api_key":"","singleton":false,"sortable":false,` +
	`"modular_block":false,"draft_mode_active":false}}],"previous_entity":{"id":"","type":"item","attributes":{` +
	`{"event_id":"","environment":"main","is_environment_primary":true,"event_triggered_at":"","entity":{"id":"","type":"item","attributes":{`)

// packPayload deflates a payload document with payloadDictV1. A writer with
// a dictionary holds about 800 KB of state: writers are pooled, and Reset
// keeps the dictionary (building one per event cost ingest most of its CPU).
func packPayload(doc []byte) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := dictDeflaters.Get().(*flate.Writer)
	if w == nil {
		var err error
		if w, err = flate.NewWriterDict(&buf, flate.DefaultCompression, payloadDictV1); err != nil {
			return nil, fmt.Errorf("deflate payload: %w", err)
		}
	} else {
		w.Reset(&buf)
	}
	defer dictDeflaters.Put(w)
	if _, err := w.Write(doc); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("deflate payload: %w", err)
	}
	return buf.Bytes(), nil
}

var (
	dictDeflaters sync.Pool
	dictInflaters sync.Pool
)

// unpackPayload inflates what packPayload made, up to maxUnpacked bytes.
func unpackPayload(b []byte) ([]byte, error) {
	r, _ := dictInflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(bytes.NewReader(b), payloadDictV1)
	} else if err := r.(flate.Resetter).Reset(bytes.NewReader(b), payloadDictV1); err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	defer dictInflaters.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, maxUnpacked+1))
	if err != nil {
		return nil, fmt.Errorf("inflate payload: %w", err)
	}
	if len(out) > maxUnpacked {
		return nil, fmt.Errorf("inflate payload: more than %d bytes", maxUnpacked)
	}
	return out, nil
}
