package server

import (
	"bytes"
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/trigger"
)

func TestWebhook(t *testing.T) {
	files := map[string]string{
		"pipelines/silver/orders.sql":   "SELECT 1 AS id\n",
		"pipelines/silver/orders.yaml":  "triggers:\n  - {type: webhook, secret_env: WH_SECRET}\n",
		"pipelines/silver/tokened.sql":  "SELECT 2 AS id\n",
		"pipelines/silver/tokened.yaml": "triggers:\n  - {type: webhook, token_env: WH_TOKEN}\n",
		"pipelines/silver/plain.sql":    "SELECT 3 AS id\n",
	}
	env := map[string]string{"WH_SECRET": "hook-secret", "WH_TOKEN": "hook-token-123"}
	e := newTestEnv(t, files, func(c *Config) {
		c.Env = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	})
	deliver := func(pipeline string, body []byte, ts int64, headers map[string]string) response {
		t.Helper()
		req, err := http.NewRequest("POST", e.http.URL+"/api/v1/webhooks/"+pipeline, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Rat-Timestamp", strconv.FormatInt(ts, 10))
		for k, v := range headers {
			req.Header.Set(k, v)
		}
		return e.send(req)
	}
	body := []byte(`{"export":"done"}`)
	now := time.Now().Unix()
	sig := trigger.Sign([]byte("hook-secret"), signedPayload(now, body))
	runs := func() int { return len(e.want(e.do("GET", "/api/v1/runs", nil), http.StatusOK).body["runs"].([]any)) }

	// A wrong signature starts nothing.
	bad := deliver("silver.orders", body, now, map[string]string{"X-Rat-Signature": trigger.Sign([]byte("guess"), signedPayload(now, body))})
	if bad.status != http.StatusUnauthorized || bad.errCode() != "unauthorized" {
		t.Fatalf("wrong signature: %d %s", bad.status, bad.raw)
	}
	if n := runs(); n != 0 {
		t.Fatalf("a rejected webhook started %d run(s)", n)
	}
	// The right one starts a run of the pipeline.
	ok := e.want(deliver("silver.orders", body, now, map[string]string{"X-Rat-Signature": sig}), http.StatusAccepted)
	id, _ := ok.body["id"].(string)
	done := e.waitRun(id)
	if done.body["status"] != "success" {
		t.Fatalf("webhook run: %s", done.raw)
	}
	// The same delivery again is a replay.
	if r := deliver("silver.orders", body, now, map[string]string{"X-Rat-Signature": sig}); r.status != http.StatusConflict {
		t.Fatalf("replay: %d %s", r.status, r.raw)
	}
	// Another serve replica on the same catalog refuses it too.
	other := &trigger.Replay{Record: e.lake.Store().(deliveryRecorder).RecordDelivery}
	mac, _ := trigger.ParseSignature(sig)
	if err := other.Check(context.Background(), trigger.SignedDeliveryKey(mac), time.Unix(now, 0)); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("the delivery replayed to another replica: %v", err)
	}
	if err := other.Check(context.Background(), "fresh-delivery", time.Unix(now, 0)); err != nil {
		t.Fatalf("a new delivery on another replica: %v", err)
	}
	// An old delivery is refused.
	old := now - 3600
	if r := deliver("silver.orders", body, old, map[string]string{"X-Rat-Signature": trigger.Sign([]byte("hook-secret"), signedPayload(old, body))}); r.status != http.StatusUnauthorized {
		t.Fatalf("old delivery: %d %s", r.status, r.raw)
	}
	// A body changed in flight breaks the signature.
	if r := deliver("silver.orders", []byte(`{"export":"evil"}`), now, map[string]string{"X-Rat-Signature": sig}); r.status != http.StatusUnauthorized {
		t.Fatalf("tampered body: %d", r.status)
	}
	// Bearer-token webhooks need a unique delivery id.
	tok := map[string]string{"Authorization": "Bearer hook-token-123", "X-Rat-Delivery": "d-1"}
	e.want(deliver("silver.tokened", body, now, tok), http.StatusAccepted)
	if r := deliver("silver.tokened", body, now, tok); r.status != http.StatusConflict {
		t.Fatalf("token replay: %d", r.status)
	}
	if r := deliver("silver.tokened", body, now, map[string]string{"Authorization": "Bearer nope", "X-Rat-Delivery": "d-2"}); r.status != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", r.status)
	}
	// A pipeline without a webhook trigger has no webhook.
	if r := deliver("silver.plain", body, now, nil); r.status != http.StatusNotFound {
		t.Fatalf("no trigger: %d", r.status)
	}

	// Triggers are listed, and switched off and on through the API.
	list := list(t, e.want(e.do("GET", "/api/v1/triggers", nil), http.StatusOK), "triggers")
	if len(list) != 2 || list[0]["id"] != "silver.orders:"+list[0]["name"].(string) || list[0]["type"] != "webhook" || list[0]["enabled"] != true ||
		list[0]["where"] != "pipelines/silver/orders.yaml:2" {
		t.Fatalf("triggers = %v", list)
	}
	off := e.want(e.do("POST", "/api/v1/triggers/silver.orders:0/disable", nil), http.StatusOK)
	if off.body["enabled"] != false || off.body["disabled_since"] == nil {
		t.Fatalf("disable: %s", off.raw)
	}
	before := runs()
	later := now + 1
	signed := map[string]string{"X-Rat-Signature": trigger.Sign([]byte("hook-secret"), signedPayload(later, body))}
	if r := deliver("silver.orders", body, later, signed); r.status != http.StatusConflict || !bytes.Contains([]byte(r.raw), []byte("disabled")) {
		t.Fatalf("disabled webhook: %d %s", r.status, r.raw)
	}
	if n := runs(); n != before {
		t.Fatalf("a disabled webhook started a run")
	}
	e.want(e.do("POST", "/api/v1/triggers/silver.orders:0/enable", nil), http.StatusOK)
	later++
	signed = map[string]string{"X-Rat-Signature": trigger.Sign([]byte("hook-secret"), signedPayload(later, body))}
	e.want(deliver("silver.orders", body, later, signed), http.StatusAccepted)
	for path, status := range map[string]int{
		"/api/v1/triggers/silver.orders:5/disable": http.StatusNotFound,
		"/api/v1/triggers/silver.nope:0/disable":   http.StatusNotFound,
		"/api/v1/triggers/silver.orders/disable":   http.StatusBadRequest,
	} {
		if r := e.do("POST", path, nil); r.status != status || r.errCode() == "" {
			t.Errorf("POST %s: %d %s, want %d", path, r.status, r.raw, status)
		}
	}
}

// TestWebhookReplayVariants re-sends one signed delivery in every form the
// signature header may take: each is the same delivery, so only the first
// starts a run — also on another pipeline that shares the secret.
func TestWebhookReplayVariants(t *testing.T) {
	files := map[string]string{
		"pipelines/silver/orders.sql":   "SELECT 1 AS id\n",
		"pipelines/silver/orders.yaml":  "triggers:\n  - {type: webhook, secret_env: WH_SECRET}\n",
		"pipelines/silver/refunds.sql":  "SELECT 2 AS id\n",
		"pipelines/silver/refunds.yaml": "triggers:\n  - {type: webhook, secret_env: WH_SECRET}\n",
	}
	e := newTestEnv(t, files, func(c *Config) {
		c.Env = func(k string) (string, bool) { return "hook-secret", k == "WH_SECRET" }
	})
	body := []byte(`{"export":"done"}`)
	now := time.Now().Unix()
	sig := trigger.Sign([]byte("hook-secret"), signedPayload(now, body)) // sha256=<lower-case hex>
	hexsig := strings.TrimPrefix(sig, "sha256=")
	deliver := func(pipeline, ts, signature string) response {
		t.Helper()
		req, err := http.NewRequest("POST", e.http.URL+"/api/v1/webhooks/"+pipeline, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Rat-Timestamp", ts)
		req.Header.Set("X-Rat-Signature", signature)
		return e.send(req)
	}
	ts := strconv.FormatInt(now, 10)
	first := e.want(deliver("silver.orders", ts, sig), http.StatusAccepted)
	if done := e.waitRun(first.body["id"].(string)); done.body["status"] != "success" {
		t.Fatalf("webhook run: %s", done.raw)
	}
	for _, v := range []struct{ name, pipeline, ts, sig string }{
		{"the same", "silver.orders", ts, sig},
		{"upper-case hex", "silver.orders", ts, "sha256=" + strings.ToUpper(hexsig)},
		{"no sha256= prefix", "silver.orders", ts, hexsig},
		{"no prefix, upper case", "silver.orders", ts, strings.ToUpper(hexsig)},
		{"mixed case", "silver.orders", ts, "sha256=" + strings.ToUpper(hexsig[:10]) + hexsig[10:]},
		{"spaces around", "silver.orders", ts, "  " + sig + " "},
		{"timestamp with a plus sign", "silver.orders", "+" + ts, sig},
		{"timestamp with a leading zero", "silver.orders", "0" + ts, sig},
		{"another pipeline with the same secret", "silver.refunds", ts, sig},
	} {
		r := deliver(v.pipeline, v.ts, v.sig)
		if r.status != http.StatusConflict || !strings.Contains(r.errMessage(), "already received") {
			t.Errorf("%s: %d %s, want 409 (a replay)", v.name, r.status, r.raw)
		}
	}
	if runs := list(t, e.want(e.do("GET", "/api/v1/runs", nil), http.StatusOK), "runs"); len(runs) != 1 {
		t.Fatalf("one delivery in several forms started %d runs, want 1", len(runs))
	}
}

// TestWebhookNotFoundSaysNothing: an unknown pipeline, a name close to a
// real one and a pipeline without a webhook get the same answer, so the
// webhook endpoint does not tell a stranger which pipelines exist.
func TestWebhookNotFoundSaysNothing(t *testing.T) {
	t.Parallel()
	files := map[string]string{
		"pipelines/silver/orders.sql":  "SELECT 1 AS id\n",
		"pipelines/silver/orders.yaml": "triggers:\n  - {type: webhook, secret_env: WH_SECRET}\n",
		"pipelines/silver/plain.sql":   "SELECT 3 AS id\n",
	}
	e := newTestEnv(t, files, nil)
	var answers []string
	for _, p := range []string{"silver.nope", "silver.order", "silver.plain", "gold.x"} {
		req, _ := http.NewRequest("POST", e.http.URL+"/api/v1/webhooks/"+p, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		r := e.send(req)
		if r.status != http.StatusNotFound {
			t.Errorf("%s: %d %s, want 404", p, r.status, r.raw)
		}
		for _, leak := range []string{"silver.orders", "silver.plain", "pipelines/", "did you mean"} {
			if strings.Contains(r.raw, leak) {
				t.Errorf("%s: the 404 mentions %q: %s", p, leak, r.raw)
			}
		}
		answers = append(answers, r.raw)
	}
	for i := range answers {
		if answers[i] != answers[0] {
			t.Errorf("404 answers differ:\n%s\n%s", answers[0], answers[i])
		}
	}
}
