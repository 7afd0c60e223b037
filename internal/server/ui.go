package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ratdata/rat/internal/ui"
)

// The browser signs in once with a token and gets a session (sessions.go)
// in an HttpOnly, SameSite=Strict cookie, so page loads carry it and page
// scripts never see it. The API accepts the session as it accepts a bearer
// token, except that a request changing something (anything but GET and
// HEAD) must also carry the uiHeader: a cross-site form cannot set a
// header, so a forged request from another site is refused (and the
// cross-origin check of guard.go refuses it first).
const (
	sessionCookie = "rat_session"
	uiHeader      = "X-Rat-UI"
)

// uiRoutes mounts the browser UI at /: its pages need a token like the API
// (read role), given once on the login page; its static files need none.
func (s *Server) uiRoutes() error {
	pages, err := ui.New()
	if err != nil {
		return err
	}
	s.mux.Handle("GET /static/", pages.Static())
	s.mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if !s.auth.enabled() {
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		s.renderPage(w, r, pages, http.StatusOK, "login", ui.Data{Next: safeNext(r.URL.Query().Get("next"))})
	})
	s.mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
		if err := r.ParseForm(); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				s.writeError(w, r, err)
				return
			}
		}
		next := safeNext(r.PostFormValue("next"))
		key, now := clientKey(r), s.cfg.Now()
		if wait := s.limiter.blocked(key, now); wait > 0 {
			msg := fmt.Sprintf("Too many failed sign-ins from this address: try again in %d seconds.", retryAfter(w, wait))
			s.renderPage(w, r, pages, http.StatusTooManyRequests, "login", ui.Data{Next: next, Error: msg})
			return
		}
		secret := strings.TrimSpace(r.PostFormValue("token"))
		t, ok := s.auth.find(secret)
		if !ok || secret == "" {
			s.limiter.fail(key, now)
			s.log.Warn("ui sign-in refused", "remote", r.RemoteAddr)
			s.renderPage(w, r, pages, http.StatusUnauthorized, "login", ui.Data{Next: next, Error: "That token is not valid. Paste a token from RAT_API_TOKEN or the token file."})
			return
		}
		id, expires, err := s.startSession(r.Context(), t)
		if err != nil {
			s.writeError(w, r, fmt.Errorf("sign in: %w", err))
			return
		}
		http.SetCookie(w, sessionCookieFor(r, id, expires))
		http.Redirect(w, r, next, http.StatusSeeOther)
	})
	s.mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		s.endSession(r)
		http.SetCookie(w, sessionCookieFor(r, "", time.Time{}))
		http.Redirect(w, r, "/login", http.StatusSeeOther)
	})
	for _, p := range ui.Pages {
		s.mux.HandleFunc("GET "+p.Pattern, func(w http.ResponseWriter, r *http.Request) {
			role, err := s.authenticate(w, r)
			if err != nil {
				// A page is refused like an API call, with a way to sign in.
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			s.renderPage(w, r, pages, http.StatusOK, p.Name, ui.Data{Page: p, Param: r.PathValue("id"), Role: role.String()})
		})
	}
	return nil
}

// renderPage fills in what every page shows and renders it.
func (s *Server) renderPage(w http.ResponseWriter, r *http.Request, pages *ui.UI, status int, name string, d ui.Data) {
	d.Auth = s.auth.enabled()
	d.Branch = s.cfg.Branch
	d.Version = s.cfg.Version
	if d.Version == "" {
		d.Version = "dev"
	}
	if err := pages.Render(w, status, name, d); err != nil {
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
