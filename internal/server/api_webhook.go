package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/pipeline"
	"github.com/ratdata/rat/internal/trigger"
)

// webhookBodyLimit bounds a webhook's body.
const webhookBodyLimit = 1 << 20

// webhook starts a pipeline's run from its webhook trigger. It is not
// behind the API tokens: the trigger's own secret authenticates it.
//
//	triggers:
//	  - type: webhook
//	    secret_env: ORDERS_WEBHOOK_SECRET   # HMAC-SHA256 signatures, or
//	    token_env: ORDERS_WEBHOOK_TOKEN     # a bearer token
//
// A signed delivery sends X-Rat-Timestamp (Unix seconds) and
// X-Rat-Signature: sha256=HMAC(secret, "<timestamp>.<body>"); a bearer
// delivery sends Authorization: Bearer <token>, X-Rat-Timestamp and a
// unique X-Rat-Delivery. Deliveries older than five minutes, or seen
// before, are refused: a captured request cannot start a run again.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	p, err := ws.Resolve(r.PathValue("pipeline"))
	if err != nil {
		return err
	}
	var raw map[string]any
	name := ""
	for _, t := range p.Config.Triggers {
		if t.Type == "webhook" {
			raw, name = t.Raw, t.Name
			break
		}
	}
	if raw == nil {
		return rat.Errorf(rat.ENOTFOUND, "pipeline %s has no webhook trigger: add one under triggers: in %s", p.ID, p.ConfigFile)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, webhookBodyLimit))
	if err != nil {
		return err
	}
	unauthorized := rat.Errorf(rat.EUNAUTHORIZED, "webhook of %s: wrong or missing signature or token", p.ID)
	ts, err := strconv.ParseInt(r.Header.Get("X-Rat-Timestamp"), 10, 64)
	if err != nil {
		return rat.Errorf(rat.EUNAUTHORIZED, "webhook of %s: send X-Rat-Timestamp, the Unix time of the delivery", p.ID)
	}
	sent := time.Unix(ts, 0)
	var delivery string
	switch {
	case raw["secret_env"] != nil:
		secret, err := s.triggerSecret(raw, "secret_env")
		if err != nil {
			return err
		}
		sig := r.Header.Get("X-Rat-Signature")
		if !trigger.SignatureValid([]byte(secret), signedPayload(ts, body), sig) {
			return unauthorized
		}
		delivery = sig // a signature covers its timestamp and body: one use
	case raw["token_env"] != nil:
		token, err := s.triggerSecret(raw, "token_env")
		if err != nil {
			return err
		}
		got, _ := bearer(r)
		if !trigger.TokenValid(token, got) {
			return unauthorized
		}
		delivery = r.Header.Get("X-Rat-Delivery")
	default:
		return rat.Errorf(rat.EINVALID, "the webhook trigger of %s needs secret_env or token_env (%s)", p.ID, p.ConfigFile)
	}
	if err := s.replay.Check(r.Context(), delivery, sent); err != nil {
		return err
	}
	// Only an authenticated caller learns that the trigger is off.
	if off, err := s.triggerDisabled(r.Context(), p.ID.String(), name); err != nil {
		return err
	} else if off {
		return rat.Errorf(rat.ECONFLICT, "the webhook trigger of %s is disabled: enable it with POST /api/v1/triggers/%s/enable", p.ID, trigger.ID(p.ID.String(), name))
	}
	opts := pipeline.Options{ID: pipeline.NewRunID(s.cfg.Now()), Target: s.cfg.Branch, Selectors: []string{p.ID.String()}, Trigger: "webhook"}
	if err := s.startRun(opts); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": opts.ID, "pipeline": p.ID.String(), "status": "queued"})
	return nil
}

// signedPayload is what a webhook signature covers.
func signedPayload(ts int64, body []byte) []byte {
	return append([]byte(fmt.Sprintf("%d.", ts)), body...)
}

// triggerSecret reads the secret a trigger names by environment variable.
func (s *Server) triggerSecret(raw map[string]any, key string) (string, error) {
	name := fmt.Sprint(raw[key])
	lookup := s.cfg.Env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		return "", rat.Errorf(rat.EUNAVAILABLE, "the webhook's %s names %s, which is not set on this server", key, name)
	}
	return v, nil
}
