package cli

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ratdata/rat/internal/ingest"
)

// landingZones is what rat landing list --json and GET /api/v1/landing
// give: each zone with its files and their status.
type landingZones []struct {
	Zone      string
	Consumers []string
	Files     []struct {
		Name, Status string
		Size         int64
		Consumed     []struct{ Pipeline, Run string }
	}
}

// status returns the status of zone/name, "" when it is not listed.
func (z landingZones) status(zone, name string) string {
	for _, lz := range z {
		for _, f := range lz.Files {
			if lz.Zone == zone && f.Name == name {
				return f.Status
			}
		}
	}
	return ""
}

func (u *ratUser) landingList(args ...string) landingZones {
	u.t.Helper()
	var z landingZones
	out := u.ok(append([]string{"landing", "list", "--json"}, args...)...)
	if err := json.Unmarshal([]byte(out), &z); err != nil {
		u.t.Fatalf("rat landing list --json: %v\n%s", err, out)
	}
	return z
}

// apiUpload posts one file to a landing zone through rat serve's API.
func apiUpload(t *testing.T, base, zone, name, content string) (int, string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(fw, content)
	mw.Close()
	resp, err := http.Post(base+"/api/v1/landing/"+zone, mw.FormDataContentType(), &buf)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestDemoWithLandingUploads: the demo runs unchanged on the embedded
// default and on Postgres + MinIO (where the landing area is
// <warehouse>/_landing/); files uploaded with rat landing upload are read by
// the next run and recorded as consumed; with a landing trigger, a file
// uploaded through the API starts the pipeline on rat serve and is
// consumed too.
func TestDemoWithLandingUploads(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		out := u.ok("demo", "ws")
		if !strings.Contains(out, "gold.daily_revenue") || !strings.Contains(out, "2024-03-01") {
			t.Fatalf("rat demo printed:\n%s", out)
		}
		u.dir = filepath.Join(u.dir, "ws")
		if got := u.count("bronze.raw_orders"); got != "1000" {
			t.Fatalf("bronze.raw_orders after the demo: %s rows, want 1000", got)
		}
		z := u.landingList()
		if s := z.status("orders", "orders_2024_03.csv"); s != "consumed" {
			t.Fatalf("the demo's orders file is %q, want consumed: %+v", s, z)
		}

		// The CLI upload: read by the next run, then consumed.
		u.write("new/orders_2024_04.csv", "order_id,customer_id,status,amount,updated_at\n9001,1,delivered,5.5,2024-05-01 10:00:00\n9002,2,shipped,7.25,2024-05-01 11:00:00\n")
		if out := u.ok("landing", "upload", "orders", "new/orders_2024_04.csv"); !strings.Contains(out, "uploaded new/orders_2024_04.csv (") || !strings.Contains(out, "orders/orders_2024_04.csv") {
			t.Fatalf("rat landing upload printed:\n%s", out)
		}
		if s := u.landingList("orders").status("orders", "orders_2024_04.csv"); s != "waiting" {
			t.Fatalf("an uploaded file is %q, want waiting", s)
		}
		u.ok("run")
		if got := u.count("bronze.raw_orders"); got != "1002" {
			t.Fatalf("bronze.raw_orders after an upload and a run: %s rows, want 1002", got)
		}
		if got := u.count("silver.orders WHERE order_id IN (9001, 9002)"); got != "2" {
			t.Fatalf("silver.orders lacks the uploaded orders: %s", got)
		}
		z = u.landingList("orders")
		if s := z.status("orders", "orders_2024_04.csv"); s != "consumed" {
			t.Fatalf("after the run the upload is %q, want consumed: %+v", s, z)
		}
		// A second run reads nothing again.
		u.ok("run")
		if got := u.count("bronze.raw_orders"); got != "1002" {
			t.Fatalf("bronze.raw_orders after a second run: %s rows, want 1002", got)
		}

		// The API upload starts the sensor on rat serve.
		u.write("pipelines/bronze/raw_orders.yaml", "triggers:\n  - {type: landing}\n")
		base := startServe(t, u)
		if code, body := apiUpload(t, base, "orders", "orders_2024_05.csv", "order_id,customer_id,status,amount,updated_at\n9003,3,delivered,1.5,2024-06-01 09:00:00\n"); code != http.StatusCreated {
			t.Fatalf("API upload: %d %s", code, body)
		}
		deadline := time.Now().Add(90 * time.Second)
		for u.count("bronze.raw_orders") != "1003" {
			if time.Now().After(deadline) {
				t.Fatalf("the sensor's run did not publish the API upload:\n%s", u.ok("runs", "list"))
			}
			time.Sleep(300 * time.Millisecond)
		}
		// The same through rat landing upload --server: one streamed request.
		u.write("new/orders_2024_07.csv", "order_id,customer_id,status,amount,updated_at\n9004,4,placed,2.5,2024-07-01 09:00:00\n")
		if out := u.ok("landing", "upload", "orders", "new/orders_2024_07.csv", "--server", base); !strings.Contains(out, "uploaded orders_2024_07.csv (") || !strings.Contains(out, "through "+base) {
			t.Fatalf("rat landing upload --server printed:\n%s", out)
		}
		for u.count("bronze.raw_orders") != "1004" {
			if time.Now().After(deadline) {
				t.Fatalf("the sensor's run did not publish the upload through --server:\n%s", u.ok("runs", "list"))
			}
			time.Sleep(300 * time.Millisecond)
		}
		var api struct{ Zones landingZones }
		resp, err := http.Get(base + "/api/v1/landing")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := json.Unmarshal(b, &api); err != nil {
			t.Fatalf("GET /api/v1/landing: %v\n%s", err, b)
		}
		for _, name := range []string{"orders_2024_03.csv", "orders_2024_04.csv", "orders_2024_05.csv", "orders_2024_07.csv"} {
			if s := api.Zones.status("orders", name); s != "consumed" {
				t.Fatalf("GET /api/v1/landing: %s is %q, want consumed:\n%s", name, s, b)
			}
		}
		if local, remote := u.ok("landing", "list", "--json"), u.ok("landing", "list", "--json", "--server", base); local != remote {
			t.Fatalf("rat landing list --server differs from the local listing:\n%s\nvs\n%s", remote, local)
		}
		if out := u.ok("landing", "list", "orders", "--server", base); !strings.Contains(out, "orders_2024_07.csv") || !strings.Contains(out, "consumed") {
			t.Fatalf("rat landing list orders --server:\n%s", out)
		}
		if runs := u.ok("runs", "list"); !strings.Contains(runs, "landing") {
			t.Fatalf("the sensor's run should have the landing trigger:\n%s", runs)
		}

		// rat landing rm removes a file; what was ingested stays.
		if out := u.ok("landing", "rm", "orders", "orders_2024_04.csv"); !strings.Contains(out, "removed ") {
			t.Fatalf("rat landing rm printed:\n%s", out)
		}
		if s := u.landingList().status("orders", "orders_2024_04.csv"); s != "" {
			t.Fatalf("a removed file is still listed (%s)", s)
		}
		if got := u.count("bronze.raw_orders"); got != "1004" {
			t.Fatalf("bronze.raw_orders after rm: %s rows, want 1004", got)
		}
	})
}

// TestLandingUploadErrors: each bad input is one clear error, a non-zero
// exit, and nothing lands; on both setups.
func TestLandingUploadErrors(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("workspace.yaml", "name: bad\n")
		good := u.write("good.csv", "id\n1\n")
		u.write("notes.doc", "hello\n")
		u.write("dir/a.csv", "id\n1\n")
		u.write("other/good.csv", "id\n2\n")
		// Over the 1 GiB cap: a sparse file, refused before any byte is read.
		big := filepath.Join(u.dir, "big.csv")
		f, err := os.Create(big)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(ingest.MaxUploadBytes + 1); err != nil {
			t.Fatal(err)
		}
		f.Close()
		for _, c := range []struct {
			want string
			args []string
		}{
			{"no file missing.csv: check the path", []string{"upload", "orders", "missing.csv"}},
			{`landing zone "orders/../x": use a plain name`, []string{"upload", "orders/../x", "good.csv"}},
			{`landing zone "../orders"`, []string{"upload", "../orders", "good.csv"}},
			{`landing zone "/tmp/orders"`, []string{"upload", "/tmp/orders", "good.csv"}},
			{`landing zone "_rat": names starting with '_' or '.' are reserved`, []string{"upload", "_rat", "good.csv"}},
			{`landing zone ".tmp-x": names starting with '_' or '.' are reserved`, []string{"upload", ".tmp-x", "good.csv"}},
			{"big.csv is larger than the landing upload limit of 1.0 GiB", []string{"upload", "orders", "big.csv"}},
			{`file name "notes.doc": rat reads .csv`, []string{"upload", "orders", "notes.doc"}},
			{"dir is not a regular file", []string{"upload", "orders", "dir"}},
			{"would both land as good.csv", []string{"upload", "orders", "good.csv", "other/good.csv"}},
			{"no file good.csv in ", []string{"rm", "orders", "good.csv"}},
			{`file name "../good.csv"`, []string{"rm", "orders", "../good.csv"}},
			{"want a landing zone and one or more files", []string{"upload", "orders"}},
			{"rat serve at http://127.0.0.1:1", []string{"upload", "orders", "good.csv", "--server", "http://127.0.0.1:1"}},
		} {
			// A bad file among good ones: nothing is uploaded.
			args := append([]string{"landing"}, c.args...)
			if c.args[0] == "upload" && len(c.args) > 2 && c.args[1] == "orders" && c.args[2] != "good.csv" {
				args = append([]string{"landing", "upload", "orders", good}, c.args[2:]...)
			}
			u.fails(c.want, args...)
		}
		if z := u.landingList(); len(z) != 0 {
			t.Fatalf("failed uploads left files in the landing area: %+v", z)
		}
		// The same checks hold on the API.
		base := startServe(t, u)
		for _, c := range []struct {
			zone, name, want string
		}{
			{"_rat", "a.csv", "reserved"},
			{"or.ders", "a.csv", "plain name"},
			{"orders", ".hidden.csv", "plain name"},
			{"orders", "notes.doc", "rat reads .csv"},
		} {
			code, body := apiUpload(t, base, c.zone, c.name, "id\n1\n")
			if code/100 != 4 || !strings.Contains(body, c.want) {
				t.Errorf("API upload %s/%s: %d %s, want 4xx with %q", c.zone, c.name, code, body, c.want)
			}
		}
		if z := u.landingList(); len(z) != 0 {
			t.Fatalf("failed API uploads left files in the landing area: %+v", z)
		}
		u.ok("landing", "upload", "orders", "good.csv")
		if s := u.landingList().status("orders", "good.csv"); s != "unread" {
			t.Fatalf("good.csv is %q after its upload, want unread (no pipeline reads orders)", s)
		}
	})
}

// TestInitDemoRunOnS3: rat init --demo writes the raw files into the
// workspace's landing/; on an S3 warehouse the landing area is
// <warehouse>/_landing/, so the first run fails with the command that
// uploads them, and after it runs.
func TestInitDemoRunOnS3(t *testing.T) {
	t.Parallel()
	u := newUser(t, true)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	_, errs, code := u.run("run")
	lines := strings.Split(strings.TrimSpace(errs), "\n")
	last := lines[len(lines)-1]
	if code == 0 || !strings.Contains(last, "/_landing/: upload them from the workspace with 'rat landing upload customers landing/customers/*'") {
		t.Fatalf("rat run of an S3 warehouse with the files in landing/: exit %d\n%s", code, errs)
	}
	u.ok("landing", "upload", "customers", "landing/customers/customers.csv")
	u.ok("landing", "upload", "orders", "landing/orders/orders_2024_03.csv")
	u.ok("run")
	if got := u.count("gold.daily_revenue"); got == "0" {
		t.Fatal("gold.daily_revenue is empty after the upload and run")
	}
}
