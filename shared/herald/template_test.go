package herald

import "testing"

func TestTemplateRender(t *testing.T) {
	doc := []byte(`{"event_type":"update","entity":{"id":"42","attributes":{"title":"Say \"hi\"\n","tags":["a","b"],"draft":false,"body":null}},"n":1.50}`)
	tests := map[string]struct{ src, want string }{
		"escaped inside JSON string": {`{"t":"{{entity.attributes.title}}"}`, `{"t":"Say \"hi\"\n"}`},
		"raw triple":                 {`{{{entity.attributes.title}}}`, "Say \"hi\"\n"},
		"section walks object":       {`{{#entity}}{{id}}{{/entity}}`, `42`},
		"object renders as JSON":     {`{{{entity.attributes.tags}}}`, `["a","b"]`},
		"object escaped as string":   {`"{{entity.attributes.tags}}"`, `"[\"a\",\"b\"]"`},
		"number keeps its form":      {`{{n}}`, `1.50`},
		"null is empty":              {`[{{entity.attributes.body}}]`, `[]`},
		"null is falsy":              {`{{^entity.attributes.body}}none{{/entity.attributes.body}}`, `none`},
		"false is falsy":             {`{{#entity.attributes.draft}}draft{{/entity.attributes.draft}}`, ``},
		"missing is empty":           {`<{{nope.nothing}}>`, `<>`},
		"list section":               {`{{#entity.attributes.tags}}[{{.}}]{{/entity.attributes.tags}}`, `[a][b]`},
		"html not escaped":           {`{{x}}`, ``},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, err := ParseTemplate(tc.src)
			if err != nil {
				t.Fatalf("ParseTemplate: %v", err)
			}
			got, err := tmpl.Render(doc)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tc.want {
				t.Errorf("got %q; want %q", got, tc.want)
			}
		})
	}
}

func TestURLTemplateEscapesPathSegments(t *testing.T) {
	tmpl, err := ParseURLTemplate("https://example.com/hooks/{{entity.id}}?raw={{{entity.id}}}")
	if err != nil {
		t.Fatal(err)
	}
	got, err := tmpl.Render([]byte(`{"entity":{"id":"a/b c"}}`))
	if err != nil {
		t.Fatal(err)
	}
	if want := "https://example.com/hooks/a%2Fb%20c?raw=a/b c"; got != want {
		t.Errorf("got %q; want %q", got, want)
	}
}

func TestTemplateRefusesPartials(t *testing.T) {
	for _, src := range []string{"{{> /etc/passwd}}", "{{#a}}{{>x}}{{/a}}", "{{^a}}{{> y}}{{/a}}"} {
		if _, err := ParseTemplate(src); err == nil {
			t.Errorf("ParseTemplate(%q) accepted a partial", src)
		}
	}
}

// TestURLTagsCannotInjectQueryParameters is issue 10's ninth defect: URL
// tags were escaped with url.PathEscape wherever they stood, which leaves
// '&', '=' and '?' alone, so a value "1&sig=x" in the query added a
// parameter. A tag in the query is escaped as a query value; in the path,
// as a path segment.
func TestURLTagsCannotInjectQueryParameters(t *testing.T) {
	doc := []byte(`{"entity":{"id":"1&sig=x","title":"a b/c?d#e"}}`)
	tests := map[string]struct{ src, want string }{
		"query value":       {"https://x.example/hook?id={{entity.id}}&sig=mine", "https://x.example/hook?id=1%26sig%3Dx&sig=mine"},
		"path segment":      {"https://x.example/{{entity.id}}/{{entity.title}}", "https://x.example/1&sig=x/a%20b%2Fc%3Fd%23e"},
		"both":              {"https://x.example/{{entity.title}}?q={{entity.title}}", "https://x.example/a%20b%2Fc%3Fd%23e?q=a+b%2Fc%3Fd%23e"},
		"no query":          {"https://x.example/a?b", "https://x.example/a?b"},
		"tag before query":  {"https://x.example/{{entity.id}}?x=1", "https://x.example/1&sig=x?x=1"},
		"raw stays raw":     {"https://x.example/hook?{{{entity.id}}}", "https://x.example/hook?1&sig=x"},
		"fragment as query": {"https://x.example/?a=1#{{entity.id}}", "https://x.example/?a=1#1%26sig%3Dx"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			tmpl, err := ParseURLTemplate(tc.src)
			if err != nil {
				t.Fatal(err)
			}
			got, err := tmpl.Render(doc)
			if err != nil || got != tc.want {
				t.Errorf("rendered %q (%v); want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ParseURLTemplate("https://x.example/{{#entity}}a?b{{/entity}}"); err == nil {
		t.Error("a section across the '?' parsed; each part of the URL is escaped its own way, so it cannot")
	}
}
