package httpauth

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for listen, want := range map[string]bool{
		"127.0.0.1:3030": true, "localhost:3030": true, "LOCALHOST:1": true, "[::1]:3030": true,
		"0.0.0.0:3030": false, ":3030": false, "[::]:3030": false, "192.168.1.10:3030": false,
		"rat.example.com:3030": false, "127.0.0.1": false,
	} {
		if got := IsLoopback(listen); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", listen, got, want)
		}
	}
}

func TestCheckTokenLength(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", MinRemoteToken)
	for _, c := range []struct {
		listen, secret string
		ok             bool
	}{
		{"127.0.0.1:3030", "short", true},
		{"0.0.0.0:3030", long, true},
		{"0.0.0.0:3030", long[1:], false},
		{":3030", "short", false},
	} {
		err := CheckTokenLength(c.listen, "RAT_X", c.secret)
		if (err == nil) != c.ok {
			t.Errorf("CheckTokenLength(%s, %d bytes) = %v", c.listen, len(c.secret), err)
		}
		if err != nil && (!strings.Contains(err.Error(), "token RAT_X is") || strings.Contains(err.Error(), c.secret)) {
			t.Errorf("error names the token, never its value: %v", err)
		}
	}
}

func TestBearer(t *testing.T) {
	t.Parallel()
	for header, want := range map[string]string{
		"Bearer abc": "abc", "bearer  abc ": "abc", "Basic abc": "", "Bearer ": "", "": "", "Bearerabc": "",
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if header != "" {
			r.Header.Set("Authorization", header)
		}
		got, ok := Bearer(r)
		if got != want || ok != (want != "") {
			t.Errorf("Bearer(%q) = %q, %v; want %q", header, got, ok, want)
		}
	}
}
