// Package trigger decides when pipelines run: cron schedules with time
// zones and catch-up policies, signed webhooks, and freshness. It holds
// decisions only (pure functions of the clock and past state); the
// scheduler that acts on them lives with the queue.
package trigger

import (
	"fmt"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/ratdata/rat"
)

// Catch-up policies: what a schedule does about ticks missed while rat was
// down.
const (
	CatchUpNone = "none" // skip them; fire again at the next tick
	CatchUpOnce = "once" // fire once for all of them
	CatchUpAll  = "all"  // fire once per missed tick
)

// presets are the named schedules the original Ratatouille accepts.
var presets = map[string]string{
	"hourly": "0 * * * *", "daily": "0 0 * * *", "weekly": "0 0 * * 0",
	"monthly": "0 0 1 * *", "yearly": "0 0 1 1 *", "annually": "0 0 1 1 *",
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Schedule is a parsed schedule trigger.
type Schedule struct {
	Spec     string         // as written
	Location *time.Location // the time zone the spec is read in
	CatchUp  string
	sched    cron.Schedule
}

// ParseSchedule reads a schedule trigger's settings: cron (or schedule):
// a 5-field cron expression or a preset (hourly, daily, weekly, monthly,
// yearly, @every 10m); timezone (default UTC); catch_up: none (default),
// once or all. where names the trigger for errors (file:line).
func ParseSchedule(raw map[string]any, where string) (Schedule, error) {
	spec := str(raw, "cron")
	if spec == "" {
		spec = str(raw, "schedule")
	}
	if spec == "" {
		return Schedule{}, rat.Errorf(rat.EINVALID, "%s: a schedule trigger needs cron: (5 fields, like \"0 6 * * *\", or a preset such as hourly or daily)", where)
	}
	expr := spec
	if p, ok := presets[strings.ToLower(spec)]; ok {
		expr = p
	}
	s := Schedule{Spec: spec, Location: time.UTC, CatchUp: CatchUpNone}
	if tz := str(raw, "timezone"); tz != "" {
		loc, err := time.LoadLocation(tz)
		if err != nil {
			return Schedule{}, rat.Errorf(rat.EINVALID, "%s: timezone %q is not a known time zone: use a name like Europe/Paris or UTC", where, tz)
		}
		s.Location = loc
	}
	if c := str(raw, "catch_up"); c != "" {
		switch c {
		case CatchUpNone, CatchUpOnce, CatchUpAll:
			s.CatchUp = c
		default:
			return Schedule{}, rat.Errorf(rat.EINVALID, "%s: catch_up %q: want none, once or all", where, c)
		}
	}
	sched, err := parser.Parse("CRON_TZ=" + s.Location.String() + " " + expr)
	if err != nil {
		return Schedule{}, rat.Errorf(rat.EINVALID, "%s: cron %q: %s (want 5 fields: minute hour day-of-month month day-of-week)", where, spec, err.Error())
	}
	s.sched = sched
	return s, nil
}

// Next is the first tick strictly after t.
func (s Schedule) Next(t time.Time) time.Time { return s.sched.Next(t) }

// maxCatchUp bounds the ticks a catch-up may replay.
const maxCatchUp = 1000

// Due returns the ticks to fire now, given the last tick that fired (zero
// for a schedule that never fired: the scheduler then records now as its
// last tick, so a new schedule fires at its next tick, never in the past). grace is how late a tick may be and still count as on time: the
// scheduler's own polling delay. Ticks later than that were missed, and
// the catch-up policy decides.
func (s Schedule) Due(last, now time.Time, grace time.Duration) []time.Time {
	if last.IsZero() {
		return nil
	}
	var ticks []time.Time
	for t := s.Next(last); !t.After(now) && len(ticks) < maxCatchUp; t = s.Next(t) {
		ticks = append(ticks, t)
	}
	if len(ticks) == 0 {
		return nil
	}
	latest := ticks[len(ticks)-1]
	onTime := now.Sub(latest) <= grace
	missed := ticks
	if onTime {
		missed = ticks[:len(ticks)-1]
	}
	var out []time.Time
	switch s.CatchUp {
	case CatchUpAll:
		out = append(out, missed...)
	case CatchUpOnce:
		if len(missed) > 0 && !onTime {
			out = append(out, missed[len(missed)-1])
		}
	}
	if onTime {
		out = append(out, latest)
	}
	return out
}

// Latest returns the newest tick after last and at or before now, or last
// when there is none: where a scheduler's memory of the schedule moves to
// once it has dealt with the due ticks (fired or skipped).
func (s Schedule) Latest(last, now time.Time) time.Time {
	n := 0
	for t := s.Next(last); !t.After(now) && n < maxCatchUp; t = s.Next(t) {
		last = t
		n++
	}
	return last
}

func str(m map[string]any, key string) string {
	v, ok := m[key]
	if !ok || v == nil {
		return ""
	}
	return strings.TrimSpace(fmt.Sprint(v))
}
