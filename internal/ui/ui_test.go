package ui

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestEveryPageRenders(t *testing.T) {
	ui, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(Pages, Page{Name: "login"}) {
		rec := httptest.NewRecorder()
		// A hostile path value is data, never markup.
		if err := ui.Render(rec, http.StatusOK, p.Name, Data{Page: p, Param: `"><script>alert(1)</script>`, Role: "run", Version: "v9.9.9"}); err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		body := rec.Body.String()
		if strings.Contains(body, "<script>alert(1)") {
			t.Errorf("%s: the path value is not escaped", p.Name)
		}
		if !strings.Contains(body, `/static/core.js?v=`) || !strings.Contains(body, `/static/app.css?v=`) {
			t.Errorf("%s: no versioned core.js/app.css", p.Name)
		}
		if p.Name != "login" && !strings.Contains(body, `/static/`+p.Name+`.js?v=`) {
			t.Errorf("%s: the page does not load its script", p.Name)
		}
		if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", p.Name, rec.Header())
		}
	}
	if err := ui.Render(httptest.NewRecorder(), http.StatusOK, "nope", Data{}); err == nil {
		t.Error("an unknown page renders")
	}
}

// Every page script exists, so no page loads a 404.
func TestEveryPageHasItsScript(t *testing.T) {
	ui, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range Pages {
		if _, ok := ui.etags[p.Name+".js"]; !ok {
			t.Errorf("no static/%s.js", p.Name)
		}
	}
}
