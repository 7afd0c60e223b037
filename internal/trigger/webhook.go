package trigger

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/ratdata/rat"
)

// SignatureValid checks an HMAC-SHA256 signature of a webhook's raw body,
// given as hex, optionally prefixed "sha256=" (GitHub's form). The
// comparison takes constant time.
func SignatureValid(secret, body []byte, signature string) bool {
	sig, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(signature), "sha256="))
	if err != nil || len(sig) != sha256.Size {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(sig, mac.Sum(nil))
}

// Sign returns the signature SignatureValid accepts, for senders and tests.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// TokenValid compares a bearer token with the expected one in constant time.
func TokenValid(expected, got string) bool {
	return expected != "" && subtle.ConstantTimeCompare([]byte(expected), []byte(got)) == 1
}

// Replay refuses a webhook delivery seen before, or sent outside the window:
// a captured request cannot start a run again.
type Replay struct {
	Window time.Duration // how old a delivery may be (default 5 minutes)
	Now    func() time.Time
	// Record, when set, keeps the ids where every serve replica sees them
	// (the catalog database): it reports false for an id recorded before
	// and forgets ids received before forget. Without it, ids are kept in
	// this process.
	Record func(ctx context.Context, id string, at, forget time.Time) (bool, error)

	mu   sync.Mutex
	seen map[string]time.Time
}

// Check accepts a delivery once: id must be new within the window, and
// sent (the sender's timestamp) within the window of now, either way.
func (r *Replay) Check(ctx context.Context, id string, sent time.Time) error {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	window := r.Window
	if window <= 0 {
		window = 5 * time.Minute
	}
	if id == "" {
		return rat.Errorf(rat.EUNAUTHORIZED, "webhook delivery has no id: send a unique X-Rat-Delivery header")
	}
	if d := now.Sub(sent); d > window || d < -window {
		return rat.Errorf(rat.EUNAUTHORIZED, "webhook delivery %s was sent at %s, outside the %s window: resend it with a fresh timestamp", id, sent.UTC().Format(time.RFC3339), window)
	}
	if r.Record != nil {
		fresh, err := r.Record(ctx, id, now, now.Add(-2*window))
		if err != nil {
			return err
		}
		if !fresh {
			return replayed(id)
		}
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen == nil {
		r.seen = map[string]time.Time{}
	}
	for k, t := range r.seen {
		if now.Sub(t) > 2*window {
			delete(r.seen, k)
		}
	}
	if _, dup := r.seen[id]; dup {
		return replayed(id)
	}
	r.seen[id] = now
	return nil
}

func replayed(id string) error {
	return rat.Errorf(rat.ECONFLICT, "webhook delivery %s was already received: replays are refused", id)
}
