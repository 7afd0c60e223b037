// Package client talks to a rat serve's HTTP API: the commands that act on
// a remote server (--server URL) and the benchmarks that drive one.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ratdata/rat"
)

// Client talks to a rat serve at one URL, with RAT_API_TOKEN as the bearer
// token.
type Client struct {
	base  string
	token string
	http  *http.Client
	// maxAnswer bounds the bytes of an answer Do and Upload read; 0 = no
	// bound.
	maxAnswer int64
}

// Capped returns a client that refuses answers of more than n bytes
// (EUNAVAILABLE, naming the bound) instead of reading them whole.
func (c *Client) Capped(n int64) *Client {
	c2 := *c
	c2.maxAnswer = n
	return &c2
}

// New returns a client of the rat serve at server (--server URL).
func New(server string) (*Client, error) {
	if !strings.HasPrefix(server, "http://") && !strings.HasPrefix(server, "https://") {
		return nil, rat.Errorf(rat.EINVALID, "--server %q: want a URL like http://127.0.0.1:3030", server)
	}
	return &Client{base: strings.TrimSuffix(server, "/"), token: os.Getenv("RAT_API_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// Do sends a request and decodes a JSON answer into out; an API error
// comes back as the rat error it describes.
func (c *Client) Do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	c.authorize(req)
	resp, err := c.http.Do(req)
	if err != nil {
		return rat.Errorf(rat.EUNAVAILABLE, "cannot reach rat serve at %s: %v", c.base, err)
	}
	return c.answer(method, path, resp, out)
}

// Upload posts local files to path as one multipart/form-data request,
// each a file part named by its base name, streamed from disk (no file is
// held in memory; the request has no time limit but ctx's), and decodes
// the JSON answer into out.
func (c *Client) Upload(ctx context.Context, path string, files []string, out any) error {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeParts(mw, files)) }()
	defer pr.Close() // stops the writer when the server answered early
	req, err := http.NewRequestWithContext(ctx, "POST", c.base+path, pr)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.untimed(req) // a large file takes as long as it takes
	if err != nil {
		return err
	}
	return c.answer("POST", path, resp, out)
}

// writeParts writes each file as a part of mw, then ends it.
func writeParts(mw *multipart.Writer, files []string) error {
	for _, p := range files {
		part, err := mw.CreateFormFile("file", filepath.Base(p))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		_, err = io.Copy(part, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	return mw.Close()
}

// answer reads an API answer: an error answer comes back as the rat error
// it describes, else the JSON body is decoded into out.
func (c *Client) answer(method, path string, resp *http.Response, out any) error {
	defer resp.Body.Close()
	var body io.Reader = resp.Body
	if c.maxAnswer > 0 {
		body = io.LimitReader(resp.Body, c.maxAnswer+1)
	}
	data, err := io.ReadAll(body)
	if err != nil {
		return err
	}
	if c.maxAnswer > 0 && int64(len(data)) > c.maxAnswer {
		return rat.Errorf(rat.EUNAVAILABLE, "%s %s: the answer of %s is larger than %d bytes: is it a rat serve?", method, path, c.base, c.maxAnswer)
	}
	if resp.StatusCode >= 400 {
		return apiError(method, path, resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = data
		return nil
	}
	return json.Unmarshal(data, out)
}

// Stream reads a JSON-lines answer, calling fn for each line until the
// server ends it.
func (c *Client) Stream(ctx context.Context, path string, fn func(line []byte) error) error {
	req, err := http.NewRequestWithContext(ctx, "GET", c.base+path, nil)
	if err != nil {
		return err
	}
	resp, err := c.untimed(req) // a followed log lasts as long as its run
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		data, _ := io.ReadAll(resp.Body)
		return apiError("GET", path, resp.StatusCode, data)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if err := fn(sc.Bytes()); err != nil {
			return err
		}
	}
	return sc.Err()
}

// untimed sends an authorized request with no time limit but its
// context's.
func (c *Client) untimed(req *http.Request) (*http.Response, error) {
	c.authorize(req)
	hc := *c.http
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, rat.Errorf(rat.EUNAVAILABLE, "cannot reach rat serve at %s: %v", c.base, err)
	}
	return resp, nil
}

// UserAgent names rat's own client to the server, which counts its
// queries apart (rat_query_duration_seconds{kind="cli"}).
const UserAgent = "rat-client/1"

// authorize names the client and sends the token, if any.
func (c *Client) authorize(req *http.Request) {
	req.Header.Set("User-Agent", UserAgent)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
}

// apiError turns an API error answer back into the rat error it describes.
func apiError(method, path string, status int, data []byte) error {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if json.Unmarshal(data, &e) == nil && e.Error.Message != "" {
		return rat.Errorf(e.Error.Code, "%s", e.Error.Message)
	}
	return rat.Errorf(rat.EUNAVAILABLE, "%s %s: HTTP %d", method, path, status)
}

// WaitRun polls a run every interval until it has ended (success,
// failed or skipped) and returns its result; progress, if set, sees each
// new status.
func (c *Client) WaitRun(ctx context.Context, id string, every time.Duration, progress func(status string)) (*rat.RunDetail, error) {
	last := ""
	for {
		var raw json.RawMessage
		if err := c.Do(ctx, "GET", "/api/v1/runs/"+url.PathEscape(id), nil, &raw); err != nil && !rat.IsCode(err, rat.ENOTFOUND) {
			return nil, err
		}
		var res rat.RunDetail
		_ = json.Unmarshal(raw, &res)
		if st := string(res.Status); st != last && progress != nil {
			progress(st)
			last = st
		}
		switch res.Status {
		case rat.RunSuccess, rat.RunFailed, rat.RunSkipped:
			return &res, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(every):
		}
	}
}

// UploadedFile is one file a rat serve took into a landing zone.
type UploadedFile struct {
	Name string
	Size int64
}

// UploadLanding uploads local files into a landing zone of the server
// (POST /api/v1/landing/ZONE, one streamed request) and returns what it
// took.
func (c *Client) UploadLanding(ctx context.Context, zone string, files []string) ([]UploadedFile, error) {
	var res struct{ Files []UploadedFile }
	if err := c.Upload(ctx, "/api/v1/landing/"+url.PathEscape(zone), files, &res); err != nil {
		return nil, err
	}
	return res.Files, nil
}
