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
