package cli

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ratdata/rat"
	"github.com/spf13/cobra"
)

// healthBodyCap bounds how much of a failed answer rat health reads and
// shows.
const healthBodyCap = 1 << 10

const healthLong = `Ask a running rat serve (or a rat worker started with --listen) whether it
is alive: GET <URL>/health/live, or /health/ready with --ready (the catalog,
warehouse and queue answer). Exit status 0 when it answers 200 within
--timeout, else 1 with what went wrong.

Without URL it asks the local server at the configured listen address
(--listen's default: RAT_LISTEN or workspace.yaml's listen, else
127.0.0.1:3030); a server listening on every interface (0.0.0.0 or [::]) is
asked on loopback. The health endpoints need no token.

Made for container health checks, where no curl or wget is around: the
image's HEALTHCHECK runs 'rat health'.`

func newHealthCmd(g *globals) *cobra.Command {
	var ready bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "health [URL]",
		Short: "Check that a running rat serve or rat worker answers its health endpoint",
		Long:  healthLong,
		Example: `  rat health
  rat health --ready http://rat-serve:3030
  rat health http://127.0.0.1:9090   # a 'rat worker --listen 127.0.0.1:9090'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return &usageError{msg: "rat health: want at most one URL, like http://127.0.0.1:3030 (see 'rat health --help')"}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return &usageError{msg: fmt.Sprintf("rat health: --timeout %s: want a positive duration such as 5s", timeout)}
			}
			base := ""
			if len(args) == 1 {
				base = args[0]
			} else {
				cfg, err := g.loadConfig(nil)
				if err != nil {
					return err
				}
				base = listenURL(cfg.Listen)
			}
			path := "/health/live"
			if ready {
				path = "/health/ready"
			}
			target, err := healthURL(base, path)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			if err := getHealth(ctx, target); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "ok: %s\n", target)
			return nil
		},
	}
	cmd.Flags().BoolVar(&ready, "ready", false, "ask /health/ready (every dependency answers) instead of /health/live")
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Second, "give up and fail after this long")
	return cmd
}

// listenURL is the URL a local client reaches a listen address at: an
// address on every interface is asked on loopback.
func listenURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen
	}
	switch ip := net.ParseIP(host); {
	case host == "" || ip != nil && ip.To4() != nil && ip.IsUnspecified():
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// healthURL joins a server's base URL and a health path.
func healthURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", &usageError{msg: fmt.Sprintf("rat health: %q: want a URL like http://127.0.0.1:3030", base)}
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + path
	return u.String(), nil
}

// getHealth GETs target and wants 200; anything else is an unavailable
// error naming the address and, for an answer, its status and body.
func getHealth(ctx context.Context, target string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rat.Errorf(rat.EUNAVAILABLE, "%s: %v", target, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, healthBodyCap+1))
	if resp.StatusCode == http.StatusOK {
		return nil
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > healthBodyCap {
		msg = msg[:healthBodyCap] + "…"
	}
	return rat.Errorf(rat.EUNAVAILABLE, "%s: %s: %s", target, resp.Status, msg)
}
