package server

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// Failed sign-ins (the login form, or a wrong bearer token) are limited
// per client address: after signInFailures failures within signInWindow,
// every credential from that address is refused with 429 until the window
// ends, a correct one included, so guessing gains nothing. The address is
// the connection's: behind a reverse proxy all clients share the proxy's
// (X-Forwarded-For is not trusted, or a guesser would write a new one
// each time). IPv6 clients count per /64, which one host usually has whole.
const (
	signInFailures = 10
	signInWindow   = 5 * time.Minute
	signInClients  = 10_000 // addresses remembered at most
)

// signInLimiter counts failed sign-ins per client address.
type signInLimiter struct {
	mu      sync.Mutex
	clients map[string]*signInFails
}

type signInFails struct {
	since time.Time // the first failure of the window
	n     int
}

// clientKey is the address a request counts against.
func clientKey(r *http.Request) string { return remoteKey(r.RemoteAddr) }

// remoteKey is the key a client address (host:port) counts against: its
// IP, or its /64 for IPv6.
func remoteKey(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return host
	}
	if ip.To4() == nil {
		return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
	return ip.String()
}

// blocked returns how long a client must wait before trying again; 0 when
// it may try now.
func (l *signInLimiter) blocked(key string, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.clients[key]
	if f == nil || now.Sub(f.since) >= signInWindow {
		return 0
	}
	if f.n < signInFailures {
		return 0
	}
	return f.since.Add(signInWindow).Sub(now)
}

// fail counts a failed sign-in.
func (l *signInLimiter) fail(key string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.clients == nil {
		l.clients = map[string]*signInFails{}
	}
	f := l.clients[key]
	if f == nil || now.Sub(f.since) >= signInWindow {
		if f == nil && len(l.clients) >= signInClients {
			l.evict(now)
		}
		l.clients[key] = &signInFails{since: now, n: 1}
		return
	}
	f.n++
}

// evict forgets windows that ended, or else the oldest one, so the map
// stays bounded however many addresses fail.
func (l *signInLimiter) evict(now time.Time) {
	var oldest string
	for k, f := range l.clients {
		if now.Sub(f.since) >= signInWindow {
			delete(l.clients, k)
		} else if oldest == "" || f.since.Before(l.clients[oldest].since) {
			oldest = k
		}
	}
	if len(l.clients) >= signInClients {
		delete(l.clients, oldest)
	}
}
