package client_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ratdata/rat/internal/client"
)

// TestUserAgent: every request names rat's client, which the server counts
// as kind cli in rat_query_duration_seconds (it matches "rat-client/").
func TestUserAgent(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.UserAgent())
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	defer srv.Close()
	c, err := client.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(context.Background(), "POST", "/api/v1/query", map[string]string{"sql": "SELECT 1"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Stream(context.Background(), "/api/v1/runs/x/logs", func([]byte) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !strings.HasPrefix(got[0], "rat-client/") || got[1] != got[0] || client.UserAgent != got[0] {
		t.Fatalf("User-Agent of the requests: %q, want %q", got, client.UserAgent)
	}
}
