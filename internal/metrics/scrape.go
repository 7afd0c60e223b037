package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/ratdata/rat/internal/trigger"
)

// queueCollector asks the queue once per scrape; a queue that cannot answer
// leaves both series out of that scrape rather than reporting zeros.
type queueCollector struct {
	waiting     func(context.Context) (int, time.Duration, error)
	depth, wait *prometheus.Desc
}

func newQueueCollector(waiting func(context.Context) (int, time.Duration, error)) *queueCollector {
	return &queueCollector{waiting: waiting,
		depth: prometheus.NewDesc("rat_queue_depth", "Runs waiting for a worker (available, retrying or scheduled).", nil, nil),
		wait:  prometheus.NewDesc("rat_queue_oldest_wait_seconds", "How long the oldest run ready to start has waited for a worker.", nil, nil),
	}
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.depth; ch <- c.wait }

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, oldest, err := c.waiting(ctx)
	if err != nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.GaugeValue, oldest.Seconds())
}

// Freshness is one table with a freshness policy, as a scrape sees it.
type Freshness struct {
	Table      string
	Status     string  // trigger.Fresh, Stale, Expired or Unknown (never built)
	AgeSeconds float64 // since the table last changed; meaningful when Built
	Built      bool
}

// WatchFreshness reports the freshness of tables at each scrape
// (rat_table_age_seconds, rat_table_freshness_status), as fn finds it on
// the served branch. The API server calls it once it can answer.
func (m *Metrics) WatchFreshness(fn func(ctx context.Context) ([]Freshness, error)) error {
	return m.register(&freshnessCollector{m: m, tables: fn,
		age: prometheus.NewDesc("rat_table_age_seconds",
			"Seconds since a table with a freshness policy last changed on the served branch.", []string{"table"}, nil),
		status: prometheus.NewDesc("rat_table_freshness_status",
			"Freshness of a table with a freshness policy: 0 ok, 1 warn (older than warn_after), 2 error (older than error_after), -1 never built.", []string{"table"}, nil),
	})
}

// freshnessCollector reports the freshness of tables at each scrape.
type freshnessCollector struct {
	m           *Metrics
	tables      func(context.Context) ([]Freshness, error)
	age, status *prometheus.Desc
}

func (c *freshnessCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.age; ch <- c.status }

func (c *freshnessCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tables, err := c.tables(ctx)
	if err != nil {
		c.m.log.Warn("freshness metrics", "err", err)
		return
	}
	code := map[string]float64{trigger.Fresh: 0, trigger.Stale: 1, trigger.Expired: 2, trigger.Unknown: -1}
	for _, t := range tables {
		ch <- prometheus.MustNewConstMetric(c.status, prometheus.GaugeValue, code[t.Status], t.Table)
		if t.Built {
			ch <- prometheus.MustNewConstMetric(c.age, prometheus.GaugeValue, t.AgeSeconds, t.Table)
		}
	}
}
