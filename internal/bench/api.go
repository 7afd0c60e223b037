package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/lake"
	"github.com/ratdata/rat/internal/proc"
	"github.com/ratdata/rat/internal/textout"
	"github.com/ratdata/rat/internal/workspace"
)

// benchAPISlack is what rat serve may use beyond the result cap while it
// answers the bench's query: the process itself, DuckDB's scan, buffers.
const benchAPISlack = 256 << 20

// APIOptions are the flags of rat bench api.
type APIOptions struct {
	Dir      string // workspace directory ("": a temporary one, removed afterwards)
	Rows     int    // rows in the table
	RowBytes int    // bytes of each row's text value
	Batch    int    // rows per append (data file) when building the table
	Cap      int64  // max_result_bytes of the server (0: the configured value)
	Compare  string // another rat binary to measure side by side
	SQL      string // the query to send
}

// API builds a wide table, starts rat serve on it and measures the
// server's memory while it answers a query whose result is far larger
// than its cap, as JSON and as a Parquet download (Linux: /proc).
func API(ctx context.Context, env Env, o APIOptions) error {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		return rat.Errorf(rat.EINVALID, "rat bench api reads memory figures from /proc: it runs on Linux only")
	}
	dir, cleanup, err := tempDir(o.Dir, "rat-bench-api-")
	if err != nil {
		return err
	}
	defer cleanup()
	if err := workspace.WriteTree(dir, map[string]string{"workspace.yaml": "name: bench-api\n"}); err != nil {
		return err
	}
	o.Dir = dir
	return benchAPI(ctx, env, o)
}

// apiMeasure is one request to one freshly started server.
type apiMeasure struct {
	status     int
	body       int64
	cut        string // truncated_by, "no", or the refusal
	wall       time.Duration
	firstByte  time.Duration
	idle, peak int64 // resident bytes of the server
	// sampled resident bytes at their highest before the first byte of the
	// answer, and after
	execPeak, streamPeak int64
}

func benchAPI(ctx context.Context, env Env, o APIOptions) error {
	out, progress := env.Out, env.Progress
	self, err := os.Executable()
	if err != nil {
		return err
	}
	a, err := env.Open(ctx, o.Dir, nil)
	if err != nil {
		return err
	}
	capBytes := o.Cap
	if capBytes == 0 {
		capBytes = int64(a.Config.MaxResultBytes)
	}
	id := rat.TableID{Layer: "bench", Name: "wide"}
	start := time.Now()
	for from := 0; from < o.Rows; from += o.Batch {
		// Distinct values, so that Parquet cannot store one of them for all.
		src := fmt.Sprintf("SELECT i, lpad(CAST(i AS VARCHAR), 8, '0') || repeat('x', %d) AS s FROM range(%d, %d) t(i)", o.RowBytes-8, from, min(from+o.Batch, o.Rows))
		if _, err := a.Lake.Write(ctx, rat.DefaultBranch, id, src, lake.WriteOptions{Message: "bench data"}); err != nil {
			a.Close()
			return err
		}
	}
	a.Close()
	fmt.Fprintf(progress, "built bench.wide: %d rows of %s in appends of %d rows in %s\n", o.Rows, textout.Bytes(int64(o.RowBytes)), o.Batch, rat.Duration(time.Since(start)))

	builds := []struct{ name, bin string }{{"this build", self}}
	if o.Compare != "" {
		builds = append(builds, struct{ name, bin string }{"compared (" + o.Compare + ")", o.Compare})
	}
	query, err := json.Marshal(map[string]any{"sql": o.SQL, "limit": o.Rows})
	if err != nil {
		return err
	}
	requests := []struct{ name, path string }{{"JSON", "/api/v1/query"}, {"Parquet", "/api/v1/query/parquet"}}
	results := map[string]map[string]apiMeasure{}
	for _, b := range builds {
		results[b.name] = map[string]apiMeasure{}
		for _, r := range requests {
			fmt.Fprintf(progress, "%s: %s...\n", b.name, r.name)
			var vars []string
			if o.Cap != 0 && b.bin == self {
				vars = []string{"RAT_MAX_RESULT_BYTES=" + strconv.FormatInt(o.Cap, 10)}
			}
			m, err := measureAPI(ctx, env, b.bin, o.Dir, vars, r.path, string(query))
			if err != nil {
				return fmt.Errorf("%s, %s: %w", b.name, r.name, err)
			}
			results[b.name][r.name] = m
		}
	}

	fmt.Fprintln(out)
	limit := capBytes + benchAPISlack
	var table [][]string
	for _, b := range builds {
		for _, r := range requests {
			m := results[b.name][r.name]
			after := "—" // the answer came in one piece
			if m.streamPeak > 0 {
				after = textout.Bytes(m.streamPeak)
			}
			table = append(table, []string{r.name, b.name, strconv.Itoa(m.status), textout.Bytes(m.body), m.cut, ms(m.firstByte), ms(m.wall),
				textout.Bytes(m.idle), textout.Bytes(m.execPeak), after, textout.Bytes(m.peak), fmt.Sprintf("%.2f", float64(m.peak)/float64(limit))})
		}
	}
	textout.Table(out, []string{"ANSWER", "SERVER", "STATUS", "BODY", "CUT", "FIRST BYTE", "WALL", "IDLE RSS", "RSS TO 1ST BYTE", "RSS AFTER", "PEAK RSS", "PEAK / (CAP + 256 MiB)"}, table)
	fmt.Fprintln(out, "RSS columns: resident memory of the server; the two in the middle are sampled every 2ms, PEAK is the kernel's high-water mark (VmHWM)")
	fmt.Fprintf(out, "query %q; table: %d rows × %s (%s) in appends of %d rows; cap (max_result_bytes of this build) %s; target peak ≤ %s\n",
		o.SQL, o.Rows, textout.Bytes(int64(o.RowBytes)), textout.Bytes(int64(o.Rows)*int64(o.RowBytes)), o.Batch, textout.Bytes(capBytes), textout.Bytes(limit))
	for _, r := range requests {
		m := results["this build"][r.name]
		verdict := "within"
		if m.peak > limit {
			verdict = "OVER"
		}
		fmt.Fprintf(out, "%s: peak RSS %s %s the target %s", r.name, textout.Bytes(m.peak), verdict, textout.Bytes(limit))
		if len(builds) > 1 {
			c := results[builds[1].name][r.name]
			fmt.Fprintf(out, "; compared build / this build: peak RSS %.1fx, wall %.1fx", float64(c.peak)/float64(m.peak), float64(c.wall)/float64(m.wall))
			if c.status == http.StatusOK && m.status == http.StatusOK {
				fmt.Fprintf(out, ", body %.1fx", float64(c.body)/float64(max(m.body, 1)))
			}
		}
		fmt.Fprintln(out)
	}
	return nil
}

// measureAPI starts bin serving dir (vars added to its environment), sends one query request and reads the
// whole answer, and reports the server's memory around it.
func measureAPI(ctx context.Context, env Env, bin, dir string, vars []string, path, body string) (apiMeasure, error) {
	p := &benchProcs{self: bin, dir: dir, extra: env.globalArgs()}
	defer p.stop()
	cmd := p.command(ctx, "serve", "--listen", "127.0.0.1:0", "--no-worker")
	cmd.Env = append(cmd.Env, vars...)
	base, err := proc.StartAndWait(cmd, regexp.MustCompile(`listening on (http://127\.0\.0\.1:\d+)`), 60*time.Second)
	if cmd.Process != nil {
		p.procs = append(p.procs, cmd)
	}
	if err != nil {
		return apiMeasure{}, err
	}
	pid := cmd.Process.Pid
	var m apiMeasure
	if m.idle, _, err = procMemory(pid); err != nil {
		return m, err
	}
	req, err := http.NewRequestWithContext(ctx, "POST", base+path, strings.NewReader(body))
	if err != nil {
		return m, err
	}
	req.Header.Set("Content-Type", "application/json")
	// Sampled resident memory: its peak before the answer's first byte
	// (DuckDB executing) and after (the answer streaming).
	var first time.Time
	sampled := make(chan [2]int64)
	stop := make(chan struct{})
	var mu sync.Mutex
	go func() {
		var peaks [2]int64
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				sampled <- peaks
				return
			case <-tick.C:
			}
			rss, _, err := procMemory(pid)
			if err != nil {
				continue
			}
			mu.Lock()
			i := 0
			if !first.IsZero() {
				i = 1
			}
			mu.Unlock()
			peaks[i] = max(peaks[i], rss)
		}
	}()
	t := time.Now()
	resp, err := http.DefaultClient.Do(req)
	mu.Lock()
	first = time.Now()
	mu.Unlock()
	if err != nil {
		close(stop)
		<-sampled
		return m, err
	}
	tail := &tailWriter{}
	m.body, err = io.Copy(tail, resp.Body)
	resp.Body.Close()
	m.wall = time.Since(t)
	m.firstByte = first.Sub(t)
	close(stop)
	peaks := <-sampled
	m.execPeak, m.streamPeak = peaks[0], peaks[1]
	if err != nil {
		return m, fmt.Errorf("read the answer: %w", err)
	}
	m.status = resp.StatusCode
	if _, m.peak, err = procMemory(pid); err != nil {
		return m, err
	}
	m.cut = answerCut(resp, tail.b)
	return m, nil
}

// answerCut says how an answer was cut, from its end: the JSON fields of a
// query answer, the error of a refusal.
func answerCut(resp *http.Response, tail []byte) string {
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		if json.Unmarshal(tail, &e) == nil && e.Error.Code != "" {
			return "refused: " + e.Error.Code
		}
		return "refused"
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		return "no"
	}
	if m := regexp.MustCompile(`"truncated_by":\s*"(\w+)"`).FindSubmatch(tail); m != nil {
		return string(m[1])
	}
	if bytes.Contains(tail, []byte(`"truncated": true`)) || bytes.Contains(tail, []byte(`"truncated":true`)) {
		return "rows"
	}
	return "no"
}

// tailWriter keeps the last bytes written to it.
type tailWriter struct{ b []byte }

func (t *tailWriter) Write(p []byte) (int, error) {
	const keep = 4096
	t.b = append(t.b, p[max(0, len(p)-keep):]...)
	if len(t.b) > keep {
		t.b = append(t.b[:0], t.b[len(t.b)-keep:]...)
	}
	return len(p), nil
}

// procMemory reads a process's resident memory now and at its peak
// (VmRSS, VmHWM), in bytes.
func procMemory(pid int) (rss, hwm int64, err error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("server memory: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		name, v, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("server memory: %s: %w", line, err)
		}
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			hwm = kb << 10
		}
	}
	return rss, hwm, nil
}
