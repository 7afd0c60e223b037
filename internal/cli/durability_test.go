package cli

import (
	"bytes"
	"fmt"
	"math/rand"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestConcurrentProcesses has 8 processes append to one (new) table at
// once: every row must land, no commit may be lost, and the table must stay
// readable.
func TestConcurrentProcesses(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		const procs, rows = 8, 250
		for p := 0; p < procs; p++ {
			var b strings.Builder
			b.WriteString("proc,seq\n")
			for i := 0; i < rows; i++ {
				fmt.Fprintf(&b, "%d,%d\n", p, i)
			}
			u.write(fmt.Sprintf("part%d.csv", p), b.String())
		}
		before := u.commits()
		var wg sync.WaitGroup
		errs := make([]string, procs)
		for p := 0; p < procs; p++ {
			wg.Add(1)
			go func(p int) {
				defer wg.Done()
				c := u.cmd("load", fmt.Sprintf("part%d.csv", p), "--into", "bronze.events")
				var out bytes.Buffer
				c.Stdout, c.Stderr = &out, &out
				if err := c.Run(); err != nil {
					errs[p] = fmt.Sprintf("process %d: %v: %s", p, err, out.String())
				}
			}(p)
		}
		wg.Wait()
		for _, e := range errs {
			if e != "" {
				t.Fatal(e)
			}
		}
		if n := u.count("bronze.events"); n != strconv.Itoa(procs*rows) {
			t.Fatalf("rows = %s, want %d", n, procs*rows)
		}
		out := u.ok("query", "SELECT count(DISTINCT (proc, seq)) AS n, count(DISTINCT proc) AS p FROM bronze.events", "--format", "csv")
		if strings.TrimSpace(out) != fmt.Sprintf("n,p\n%d,%d", procs*rows, procs) {
			t.Fatalf("distinct rows/procs: %s", out)
		}
		if after := u.commits(); after != before+procs {
			t.Fatalf("commits: %d before, %d after, want +%d", before, after, procs)
		}
		if out := u.ok("describe", "bronze.events"); !strings.Contains(out, fmt.Sprintf("rows      %d in %d files", procs*rows, procs)) {
			t.Fatalf("describe:\n%s", out)
		}
	})
}

// TestCrashSafety kills a loading process at random moments, many times.
// Afterwards the table must be at a complete snapshot (a whole number of
// loads), queries must work, and a rerun must succeed.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	const rows = 20000
	var b strings.Builder
	b.WriteString("id,name,amount\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%d,name-%d,%d.%02d\n", i, i%97, i%1000, i%100)
	}
	u.write("big.csv", b.String())
	u.ok("load", "big.csv", "--into", "bronze.crash")
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	// Learn how long one load takes, to spread the kills over its whole life.
	start := time.Now()
	u.ok("load", "big.csv", "--into", "bronze.crash")
	span := time.Since(start)
	kills := 0
	for i := 0; i < 20; i++ {
		if killAtRandom(t, u, rng, span, "load", "big.csv", "--into", "bronze.crash") {
			kills++
		}
		n, err := strconv.Atoi(u.count("bronze.crash"))
		if err != nil {
			t.Fatal(err)
		}
		if n%rows != 0 {
			t.Fatalf("after kill %d the table has %d rows: not a whole number of loads of %d", i, n, rows)
		}
	}
	if kills == 0 {
		t.Fatal("no process was killed: the test proved nothing")
	}
	before, _ := strconv.Atoi(u.count("bronze.crash"))
	u.ok("load", "big.csv", "--into", "bronze.crash")
	after, _ := strconv.Atoi(u.count("bronze.crash"))
	if after != before+rows {
		t.Fatalf("rerun: %d -> %d rows, want +%d", before, after, rows)
	}
	out := u.ok("query", "SELECT count(DISTINCT id) AS ids, min(amount) AS lo FROM bronze.crash", "--format", "csv")
	if !strings.HasPrefix(out, "ids,lo\n"+strconv.Itoa(rows)+",") {
		t.Fatalf("data check: %s", out)
	}
	u.ok("describe", "bronze.crash")
	u.ok("log", "-n", "0")
	t.Logf("%d kills over loads of about %s", kills, span)
}

// TestRunCrashSafety kills `rat run` at random moments: the target must
// always hold a complete, consistent publication (or none), and the next
// run must succeed and consume every file exactly once.
func TestRunCrashSafety(t *testing.T) {
	t.Parallel()
	u := newUser(t, false)
	u.ok("init", "ws", "--demo")
	u.dir = filepath.Join(u.dir, "ws")
	start := time.Now()
	u.ok("run")
	span := time.Since(start)
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	consistent := func(when string) {
		t.Helper()
		// gold is built from silver in the same publication: they agree.
		out := u.ok("query", `SELECT (SELECT count(*) FROM silver.orders WHERE status <> 'returned') = (SELECT sum(orders) FROM gold.daily_revenue) AS ok,
			(SELECT count(*) FROM silver.orders) = (SELECT count(DISTINCT order_id) FROM bronze.raw_orders) AS ok2`, "--format", "csv")
		if strings.TrimSpace(out) != "ok,ok2\ntrue,true" {
			t.Fatalf("%s: tables disagree:\n%s", when, out)
		}
	}
	kills := 0
	for i := 0; i < 8; i++ {
		u.write(fmt.Sprintf("landing/orders/extra_%d.csv", i), fmt.Sprintf("order_id,customer_id,status,amount,updated_at\n%d,1,placed,1.00,2030-01-%02d 00:00:00\n", 5000+i, i+1))
		if killAtRandom(t, u, rng, span, "run") {
			kills++
		}
		consistent(fmt.Sprintf("after kill %d", i))
	}
	if kills == 0 {
		t.Fatal("no run was killed")
	}
	u.ok("run")
	consistent("after the final run")
	if n := u.count("silver.orders"); n != "1008" {
		t.Fatalf("silver.orders = %s, want 1008: every file consumed exactly once", n)
	}
}

// killAtRandom starts rat with args, kills it (SIGKILL) at a random moment
// within span and waits for it; it reports whether the process was still
// there to kill.
func killAtRandom(t *testing.T, u *ratUser, rng *rand.Rand, span time.Duration, args ...string) bool {
	t.Helper()
	c := u.cmd(args...)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Duration(rng.Int63n(int64(span) + 1)))
	killed := c.Process.Signal(syscall.SIGKILL) == nil
	_ = c.Wait()
	return killed
}
