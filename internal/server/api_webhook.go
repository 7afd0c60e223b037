package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/httpauth"
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
// X-Rat-Signature: sha256=HMAC(secret, "<timestamp>.<body>") in hex (the
// canonical form; the bare hex and upper-case hex are accepted aliases); a
// bearer delivery sends Authorization: Bearer <token>, X-Rat-Timestamp and a
// unique X-Rat-Delivery. The body is not parsed, so any Content-Type is
// accepted. Deliveries stamped more than five minutes from the server's
// clock, or seen before, are refused: a captured request cannot start a run
// again. A signed delivery is known by its MAC, so no rewriting of the
// header makes it new, and it is accepted once across all pipelines.
func (s *Server) webhook(w http.ResponseWriter, r *http.Request) error {
	// One answer for every address without a webhook, so the endpoint
	// tells a stranger nothing about which pipelines exist.
	notFound := rat.Errorf(rat.ENOTFOUND, "no webhook at this address: POST /api/v1/webhooks/<layer.name> of a pipeline whose triggers list {type: webhook}")
	ws, err := s.workspace(r)
	if err != nil {
		return err
	}
	p, err := ws.Resolve(r.PathValue("pipeline"))
	if rat.IsCode(err, rat.ENOTFOUND) || rat.IsCode(err, rat.EINVALID) {
		return notFound
	} else if err != nil {
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
		return notFound
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
		secret, err := s.triggerSecret(p.ID.String(), raw, "secret_env")
		if err != nil {
			return err
		}
		mac, ok := trigger.VerifySignature([]byte(secret), signedPayload(ts, body), r.Header.Get("X-Rat-Signature"))
		if !ok {
			return unauthorized
		}
		delivery = trigger.SignedDeliveryKey(mac) // a MAC covers its timestamp and body: one use
	case raw["token_env"] != nil:
		token, err := s.triggerSecret(p.ID.String(), raw, "token_env")
		if err != nil {
			return err
		}
		got, _ := httpauth.Bearer(r)
		if !trigger.TokenValid(token, got) {
			return unauthorized
		}
		if id := strings.TrimSpace(r.Header.Get("X-Rat-Delivery")); id != "" {
			delivery = trigger.TokenDeliveryKey(p.ID.String(), id)
		}
	default:
		s.log.Error("webhook trigger without secret_env or token_env", "pipeline", p.ID.String(), "file", p.ConfigFile)
		return rat.Errorf(rat.EUNAVAILABLE, "the webhook of %s cannot check deliveries: its trigger names no secret_env or token_env", p.ID)
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
// A missing one is the operator's to fix: the log names the variable, the
// caller learns only that the webhook cannot check deliveries.
func (s *Server) triggerSecret(pipeline string, raw map[string]any, key string) (string, error) {
	name := fmt.Sprint(raw[key])
	lookup := s.cfg.Env
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(name)
	if !ok || v == "" {
		s.log.Error("webhook secret not set", "pipeline", pipeline, key, name)
		return "", rat.Errorf(rat.EUNAVAILABLE, "the webhook of %s cannot check deliveries: the variable its %s names is not set on this server (the server log names it)", pipeline, key)
	}
	return v, nil
}
