package trigger

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat"
)

func mustSchedule(t *testing.T, raw map[string]any) Schedule {
	t.Helper()
	s, err := ParseSchedule(raw, "pipelines/x.yaml:3")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseSchedule(t *testing.T) {
	s := mustSchedule(t, map[string]any{"cron": "0 6 * * *", "timezone": "Europe/Paris"})
	got := s.Next(time.Date(2024, 1, 15, 0, 0, 0, 0, time.UTC))
	if want := time.Date(2024, 1, 15, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("06:00 Paris in winter = %s, want %s", got.UTC(), want)
	}
	h := mustSchedule(t, map[string]any{"schedule": "hourly"})
	if got := h.Next(time.Date(2024, 1, 1, 10, 20, 0, 0, time.UTC)); !got.Equal(time.Date(2024, 1, 1, 11, 0, 0, 0, time.UTC)) {
		t.Errorf("hourly next = %s", got)
	}
	e := mustSchedule(t, map[string]any{"cron": "@every 10m"})
	if got := e.Next(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)); got.Sub(time.Date(2024, 1, 1, 10, 0, 0, 0, time.UTC)) != 10*time.Minute {
		t.Errorf("@every 10m next = %s", got)
	}
	for _, bad := range []map[string]any{
		{},
		{"cron": "61 * * * *"},
		{"cron": "* * *"},
		{"cron": "hourly", "timezone": "Mars/Olympus"},
		{"cron": "hourly", "catch_up": "sometimes"},
	} {
		_, err := ParseSchedule(bad, "pipelines/x.yaml:3")
		if !rat.IsCode(err, rat.EINVALID) || !strings.Contains(err.Error(), "pipelines/x.yaml:3") {
			t.Errorf("%v: err = %v, want EINVALID naming the place", bad, err)
		}
	}
}

func TestDue(t *testing.T) {
	at := func(h, m, s int) time.Time { return time.Date(2024, 1, 1, h, m, s, 0, time.UTC) }
	grace := 2 * time.Second
	for _, tt := range []struct {
		catchUp string
		now     time.Time
		want    []time.Time
	}{
		{CatchUpNone, at(10, 0, 30), nil},                       // no tick yet
		{CatchUpNone, at(10, 1, 1), []time.Time{at(10, 1, 0)}},  // on time
		{CatchUpNone, at(10, 5, 30), nil},                       // down 4.5 min: all missed, skipped
		{CatchUpNone, at(10, 5, 1), []time.Time{at(10, 5, 0)}},  // missed ones skipped, the current one fires
		{CatchUpOnce, at(10, 5, 30), []time.Time{at(10, 5, 0)}}, // one run for all missed
		{CatchUpOnce, at(10, 5, 1), []time.Time{at(10, 5, 0)}},  // the on-time one covers them
		{CatchUpAll, at(10, 3, 30), []time.Time{at(10, 1, 0), at(10, 2, 0), at(10, 3, 0)}},
		{CatchUpAll, at(10, 3, 1), []time.Time{at(10, 1, 0), at(10, 2, 0), at(10, 3, 0)}},
	} {
		s := mustSchedule(t, map[string]any{"cron": "* * * * *", "catch_up": tt.catchUp})
		got := s.Due(at(10, 0, 0), tt.now, grace)
		if len(got) != len(tt.want) {
			t.Errorf("%s at %s: %v, want %v", tt.catchUp, tt.now.Format("15:04:05"), got, tt.want)
			continue
		}
		for i := range got {
			if !got[i].Equal(tt.want[i]) {
				t.Errorf("%s at %s: %v, want %v", tt.catchUp, tt.now.Format("15:04:05"), got, tt.want)
			}
		}
	}
	s := mustSchedule(t, map[string]any{"cron": "* * * * *"})
	if got := s.Latest(at(10, 0, 0), at(10, 5, 30)); !got.Equal(at(10, 5, 0)) {
		t.Errorf("Latest = %s", got)
	}
	if got := s.Latest(at(10, 0, 0), at(10, 0, 30)); !got.Equal(at(10, 0, 0)) {
		t.Errorf("Latest without a new tick = %s", got)
	}
	if got := s.Due(time.Time{}, at(10, 0, 0), grace); got != nil {
		t.Errorf("a schedule that never fired does not fire in the past: %v", got)
	}
}

func TestWebhook(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event":"export_done"}`)
	sig := Sign(secret, body)
	if !SignatureValid(secret, body, sig) || !SignatureValid(secret, body, strings.TrimPrefix(sig, "sha256=")) {
		t.Fatal("a correct signature is refused")
	}
	if SignatureValid(secret, []byte(`{"event":"other"}`), sig) || SignatureValid([]byte("wrong"), body, sig) || SignatureValid(secret, body, "sha256=zz") {
		t.Fatal("a wrong signature is accepted")
	}
	if !TokenValid("tok", "tok") || TokenValid("tok", "tok2") || TokenValid("", "") {
		t.Fatal("TokenValid")
	}
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	r := &Replay{Now: func() time.Time { return now }}
	if err := r.Check(context.Background(), "d1", now.Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := r.Check(context.Background(), "d1", now); !rat.IsCode(err, rat.ECONFLICT) {
		t.Fatalf("replay: %v", err)
	}
	if err := r.Check(context.Background(), "d2", now.Add(-time.Hour)); !rat.IsCode(err, rat.EUNAUTHORIZED) {
		t.Fatalf("old delivery: %v", err)
	}
	if err := r.Check(context.Background(), "", now); err == nil {
		t.Fatal("a delivery without id is accepted")
	}
}

// TestSignatureForms: the canonical header and its aliases decode to one
// MAC, so they are one delivery; anything else is refused.
func TestSignatureForms(t *testing.T) {
	secret, body := []byte("s3cret"), []byte(`{"event":"export_done"}`)
	sig := Sign(secret, body)
	hexsig := strings.TrimPrefix(sig, "sha256=")
	want, ok := VerifySignature(secret, body, sig)
	if !ok {
		t.Fatal("the canonical form is refused")
	}
	for _, form := range []string{hexsig, strings.ToUpper(hexsig), "sha256=" + strings.ToUpper(hexsig), "SHA256=" + hexsig, " " + sig + "\t"} {
		mac, ok := VerifySignature(secret, body, form)
		if !ok || SignedDeliveryKey(mac) != SignedDeliveryKey(want) {
			t.Errorf("form %q: ok=%v, key %s, want %s", form, ok, SignedDeliveryKey(mac), SignedDeliveryKey(want))
		}
	}
	for _, bad := range []string{"", "sha256=", "sha1=" + hexsig, "sha256=" + hexsig[:62], "sha256=" + hexsig + "00", "sha256= " + hexsig, "sha256=sha256=" + hexsig} {
		if _, ok := VerifySignature(secret, body, bad); ok {
			t.Errorf("form %q is accepted", bad)
		}
	}
	if TokenDeliveryKey("silver.a", "d-1") == TokenDeliveryKey("silver.b", "d-1") || TokenDeliveryKey("silver.a", "d-1") != TokenDeliveryKey("silver.a", "d-1") {
		t.Error("token delivery ids are per pipeline")
	}
}

func TestFreshness(t *testing.T) {
	now := time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		age  time.Duration
		want string
	}{{time.Hour, Fresh}, {7 * time.Hour, Stale}, {25 * time.Hour, Expired}} {
		if got := FreshnessOf(now.Add(-tt.age), 6*time.Hour, 24*time.Hour, now); got != tt.want {
			t.Errorf("age %s: %s, want %s", tt.age, got, tt.want)
		}
	}
	if FreshnessOf(time.Time{}, time.Hour, 0, now) != Unknown {
		t.Error("no data yet is unknown")
	}
}
