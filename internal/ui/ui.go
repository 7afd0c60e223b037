// Package ui is rat's browser UI: one server-rendered HTML page per thing
// a data engineer looks at (overview, lineage, runs, tables, query,
// branches, landing, settings), each with a small hand-written script that
// reads the JSON API under /api/v1. Its files sit beside this source and
// are embedded in the binary, so building rat needs no Node toolchain
// (DESIGN D12): templates/ (a layout and one HTML shell per page) and
// static/ (the stylesheet, core.js and one script per page). This package
// parses the templates once and renders them. It knows nothing about
// tokens or the catalog: internal/server mounts it behind its
// authentication (ui.go there: routes and sign-in).
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// assets holds templates/*.html and static/*.
//
//go:embed templates static
var assets embed.FS

// Page is one page of the UI.
type Page struct {
	Name    string // template and script name: overview, runs, …
	Pattern string // ServeMux pattern, without the method
	Title   string
	Nav     bool // listed in the navigation bar
}

// Pages lists every page, in navigation order.
var Pages = []Page{
	{Name: "overview", Pattern: "/{$}", Title: "Overview", Nav: true},
	{Name: "lineage", Pattern: "/lineage", Title: "Lineage", Nav: true},
	{Name: "pipeline", Pattern: "/pipelines/{id}", Title: "Pipeline"},
	{Name: "runs", Pattern: "/runs", Title: "Runs", Nav: true},
	{Name: "run", Pattern: "/runs/{id}", Title: "Run"},
	{Name: "tables", Pattern: "/tables", Title: "Tables", Nav: true},
	{Name: "table", Pattern: "/tables/{id}", Title: "Table"},
	{Name: "query", Pattern: "/query", Title: "Query", Nav: true},
	{Name: "branches", Pattern: "/branches", Title: "Branches", Nav: true},
	{Name: "landing", Pattern: "/landing", Title: "Landing", Nav: true},
	{Name: "settings", Pattern: "/settings", Title: "Settings", Nav: true},
}

// Data is what a page template sees.
type Data struct {
	Page    Page
	Param   string // the {id} of the path, if any
	Role    string // read, run or admin: the browser hides what the role cannot do
	Auth    bool   // tokens are configured: show the sign-out button
	Branch  string // the server's default branch
	Version string
	Error   string // login page: why the last attempt failed
	Next    string // login page: where to go after signing in
}

// UI renders the pages and serves the static files.
type UI struct {
	pages  map[string]*template.Template
	login  *template.Template
	static fs.FS
	etags  map[string]string // static file name → content hash
}

// New parses every template; a broken template is an error at start, not
// at the first request.
func New() (*UI, error) {
	u := &UI{pages: map[string]*template.Template{}, etags: map[string]string{}}
	funcs := template.FuncMap{"nav": func() []Page { return Pages }, "asset": u.asset}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html")
	if err != nil {
		return nil, fmt.Errorf("parse ui layout: %w", err)
	}
	for _, p := range Pages {
		t, err := template.Must(layout.Clone()).ParseFS(assets, "templates/"+p.Name+".html")
		if err != nil {
			return nil, fmt.Errorf("parse ui page %s: %w", p.Name, err)
		}
		u.pages[p.Name] = t
	}
	if u.login, err = template.Must(layout.Clone()).ParseFS(assets, "templates/login.html"); err != nil {
		return nil, fmt.Errorf("parse ui login page: %w", err)
	}
	u.static, err = fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	err = fs.WalkDir(u.static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(u.static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		u.etags[p] = hex.EncodeToString(sum[:8])
		return nil
	})
	return u, err
}

// asset is a static file's URL with its content hash, so browsers may
// cache it for good and still see a new version at once.
func (u *UI) asset(name string) string {
	return "/static/" + name + "?v=" + u.etags[name]
}

// Render writes a page. Every page carries the same security headers: no
// inline scripts, no framing, nothing fetched from elsewhere.
func (u *UI) Render(w http.ResponseWriter, status int, name string, d Data) error {
	t := u.pages[name]
	if name == "login" {
		t = u.login
		d.Page = Page{Name: "login", Title: "Sign in"}
	}
	if t == nil {
		return fmt.Errorf("no ui page %q", name)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", d); err != nil {
		return fmt.Errorf("render ui page %s: %w", name, err)
	}
	SecurityHeaders(w.Header())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	return err
}

// SecurityHeaders sets the headers every UI response carries.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
}

// Static serves /static/…: the files hold no data, so they need no token
// (the login page uses them too).
func (u *UI) Static() http.Handler {
	files := http.FileServerFS(u.static)
	return http.StripPrefix("/static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		tag, ok := u.etags[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		SecurityHeaders(w.Header())
		w.Header().Set("ETag", `"`+tag+`"`)
		if r.URL.Query().Get("v") == tag {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	}))
}
