package server

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"

	"github.com/ratdata/rat/internal/web"
)

// The browser signs in once with a token; the server keeps it in an
// HttpOnly, SameSite=Strict cookie, so page loads carry it and page
// scripts never see it. The API accepts the cookie as it accepts a bearer
// token, except that a request changing something (anything but GET and
// HEAD) must also carry the uiHeader: a cross-site form cannot set a
// header, so a forged request from another site is refused.
const (
	sessionCookie = "rat_session"
	uiHeader      = "X-Rat-UI"
)

// credential returns the token a request presents: its bearer token, else
// the UI's session cookie.
func credential(r *http.Request) (string, bool) {
	if secret, ok := bearer(r); ok {
		return secret, true
	}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return "", false
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(uiHeader) == "" {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	if err != nil || len(b) == 0 {
		return "", false
	}
	return string(b), true
}

// uiRoutes mounts the browser UI at /: its pages need a token like the API
// (read role), given once on the login page; its static files need none.
func (s *Server) uiRoutes() error {
	ui, err := web.New()
	if err != nil {
		return err
	}
	s.mux.Handle("GET /static/", ui.Static())
	s.mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.enabled() {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.renderPage(w, r, ui, http.StatusOK, "login", web.Data{Next: safeNext(r.URL.Query().Get("next"))})
	})
	s.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		next := safeNext(r.PostFormValue("next"))
		secret := strings.TrimSpace(r.PostFormValue("token"))
		if _, ok := s.auth.lookup(secret); !ok || secret == "" {
			s.log.Warn("ui sign-in refused", "remote", r.RemoteAddr)
			s.renderPage(w, r, ui, http.StatusUnauthorized, "login", web.Data{Next: next, Error: "That token is not valid. Paste a token from RAT_API_TOKEN or the token file."})
			return
		}
		http.SetCookie(w, &http.Cookie{
			Name: sessionCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(secret)), Path: "/",
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r),
		})
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: isHTTPS(r)})
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	for _, p := range web.Pages {
		s.mux.HandleFunc("GET "+p.Pattern, func(w http.ResponseWriter, r *http.Request) {
			role, ok := s.auth.role(r)
			if !ok {
				// A page is refused like an API call, with a way to sign in.
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderPage(w, r, ui, http.StatusOK, p.Name, web.Data{Page: p, Param: r.PathValue("id"), Role: role.String()})
		})
	}
	return nil
}

// renderPage fills in what every page shows and renders it.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, ui *web.UI, status int, name string, d web.Data) {
	d.Auth = s.auth.enabled()
	d.Branch = s.cfg.Branch
	d.Version = s.cfg.Version
	if d.Version == "" {
		d.Version = "dev"
	}
	if err := ui.Render(w, status, name, d); err != nil {
		s.writeError(w, r, err)
	}
}

// enabled reports whether requests need a token.
func (a *authenticator) enabled() bool { return len(a.tokens) > 0 }

// safeNext keeps a post-login redirect on this site: a local path only.
// Browsers drop tabs and new lines from URLs and read a backslash as a
// slash, so "/\tevil.example" would leave the site: such values are refused.
func safeNext(next string) string {
	for _, r := range next {
		if r < 0x20 || r == 0x7f || r == '\\' {
			return "/"
		}
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return "/"
	}
	return next
}

func isHTTPS(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
