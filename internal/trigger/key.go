package trigger

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
)

// A trigger is known by a name that does not depend on its place in the
// pipeline's triggers list, so reordering the list keeps each trigger's
// state (a schedule's last tick, a switch-off): its name: when it has one,
// otherwise its type and a short hash of the fields that define what it
// fires on (a schedule's cron and time zone, a landing trigger's zone, an
// after trigger's pipelines, a webhook's secret or token variable, a
// freshness trigger's thresholds). Policies such as catch_up are not part
// of it: changing them keeps the trigger's state.

var nameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// ignored are the fields that do not define a trigger.
var ignored = []string{"type", "name", "catch_up"}

// Name returns the stable name of a trigger of type typ (landing for the
// original's s3_sensor) with settings raw. where names it for errors.
func Name(typ string, raw map[string]any, where string) (string, error) {
	if v, ok := raw["name"]; ok {
		s, _ := v.(string)
		if !nameRE.MatchString(s) {
			return "", rat.Errorf(rat.EINVALID, "%s: name %v: start with a letter and use letters, digits, '_', '-' or '.' (at most 64), like nightly", where, v)
		}
		return s, nil
	}
	def := map[string]any{}
	for k, v := range raw {
		if !slices.Contains(ignored, k) {
			def[k] = v
		}
	}
	switch typ {
	case "schedule":
		spec, _ := def["cron"].(string)
		if spec == "" {
			spec, _ = def["schedule"].(string)
		}
		delete(def, "schedule")
		expr := strings.Join(strings.Fields(spec), " ")
		if p, ok := presets[strings.ToLower(expr)]; ok {
			expr = p
		}
		def["cron"] = expr
		if tz, _ := def["timezone"].(string); tz == "" {
			def["timezone"] = "UTC"
		}
	case "after":
		var ups []string
		list, _ := def["pipelines"].([]any)
		for _, v := range list {
			if s, ok := v.(string); ok && !slices.Contains(ups, strings.ToLower(s)) {
				ups = append(ups, strings.ToLower(s))
			}
		}
		slices.Sort(ups)
		def["pipelines"] = ups
	}
	if len(def) == 0 {
		return typ, nil
	}
	b, err := json.Marshal(def) // map keys sorted: one text per content
	if err != nil {
		return "", rat.Errorf(rat.EINVALID, "%s: %s", where, err.Error())
	}
	sum := sha256.Sum256(b)
	return typ + "-" + hex.EncodeToString(sum[:4]), nil
}

// Key names a pipeline's trigger in the catalog database:
// layer.name#trigger-name.
func Key(pipeline, name string) string { return pipeline + "#" + name }

// LegacyKey is how rat keyed triggers before they had names: by their
// place in the list, layer.name#index. State under such keys is moved to
// the named keys when a workspace is loaded.
func LegacyKey(pipeline string, index int) string { return fmt.Sprintf("%s#%d", pipeline, index) }

var legacyKey = regexp.MustCompile(`#[0-9]+$`)

// IsLegacyKey reports whether key is a LegacyKey (a name never starts
// with a digit, so a named key never is).
func IsLegacyKey(key string) bool { return legacyKey.MatchString(key) }

// ID is the trigger's name in the API and the CLI: layer.name:trigger-name.
func ID(pipeline, name string) string { return pipeline + ":" + name }

// ParseID splits an API trigger id into its pipeline and the trigger's
// name. index is the trigger's place in the list (from 0) when the id
// gives one instead of a name, as ids did before triggers had names;
// otherwise -1.
func ParseID(id string) (pipeline, name string, index int, err error) {
	p, n, ok := strings.Cut(id, ":")
	if !ok || p == "" || n == "" {
		return "", "", -1, rat.Errorf(rat.EINVALID, "trigger id %q: want layer.name:trigger, like gold.daily:nightly (see GET /api/v1/triggers)", id)
	}
	index = -1
	if i, err := strconv.Atoi(n); err == nil && i >= 0 {
		index = i
	}
	return strings.ToLower(p), n, index, nil
}
