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

// ParseSignature decodes a webhook signature header. The canonical form is
// "sha256=<hex>" (GitHub's); the documented aliases are the bare hex and
// hex in upper or mixed case. Every form of one MAC decodes to the same
// bytes, which is what replay protection keys on.
func ParseSignature(signature string) ([]byte, bool) {
	s := strings.TrimSpace(signature)
	if len(s) > len("sha256=") && strings.EqualFold(s[:len("sha256=")], "sha256=") {
		s = s[len("sha256="):]
	}
	mac, err := hex.DecodeString(s)
	if err != nil || len(mac) != sha256.Size {
		return nil, false
	}
	return mac, true
}

// VerifySignature checks an HMAC-SHA256 signature of a webhook's payload
// and returns the MAC it carries: the delivery's identity, whatever form
// the header had. The comparison takes constant time.
func VerifySignature(secret, payload []byte, signature string) ([]byte, bool) {
	sig, ok := ParseSignature(signature)
	if !ok {
		return nil, false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(payload)
	if !hmac.Equal(sig, mac.Sum(nil)) {
		return nil, false
	}
	return sig, true
}

// SignatureValid reports whether signature is the HMAC-SHA256 of body.
func SignatureValid(secret, body []byte, signature string) bool {
	_, ok := VerifySignature(secret, body, signature)
	return ok
}

// SignedDeliveryKey is the replay key of a signed delivery: its MAC. It is
// the same for every form of the header, and for every pipeline the
// delivery is sent to (the signature does not cover the URL, so a delivery
// to one pipeline must not start another that shares the secret).
func SignedDeliveryKey(mac []byte) string {
	return "sig:" + hex.EncodeToString(mac)
}

// TokenDeliveryKey is the replay key of a bearer-token delivery: the
// sender's delivery id, within the pipeline (senders number their own
// deliveries). Hashed, so a long id costs the table no more than a short one.
func TokenDeliveryKey(pipeline, id string) string {
	sum := sha256.Sum256([]byte(pipeline + "\x00" + id))
	return "token:" + hex.EncodeToString(sum[:])
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

// Check accepts a delivery once: its key (SignedDeliveryKey or
// TokenDeliveryKey) must be new, and sent (the sender's timestamp) within
// the window of now, either way. Keys are kept for twice the window (a
// delivery stamped up to one window ahead stays refusable until its
// timestamp is a window old), then pruned: the table stays bounded.
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
		return rat.Errorf(rat.EUNAUTHORIZED, "webhook delivery was sent at %s (X-Rat-Timestamp), outside the %s window around this server's clock: resend it with a fresh timestamp", sent.UTC().Format(time.RFC3339), window)
	}
	if r.Record != nil {
		fresh, err := r.Record(ctx, id, now, now.Add(-2*window))
		if err != nil {
			return err
		}
		if !fresh {
			return errReplayed()
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
		return errReplayed()
	}
	r.seen[id] = now
	return nil
}

func errReplayed() error {
	return rat.Errorf(rat.ECONFLICT, "this webhook delivery was already received: replays are refused (send each event once, with its own timestamp and signature or X-Rat-Delivery)")
}
