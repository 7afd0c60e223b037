package trigger

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/ratdata/rat"
)

// Key names a pipeline's trigger in the catalog database: layer.name#index,
// the index counting the pipeline's triggers from 0.
func Key(pipeline string, index int) string { return fmt.Sprintf("%s#%d", pipeline, index) }

// ID is the trigger's name in the API and the CLI: layer.name:index.
func ID(pipeline string, index int) string { return fmt.Sprintf("%s:%d", pipeline, index) }

// ParseID splits an API trigger id into its pipeline and index.
func ParseID(id string) (string, int, error) {
	p, i, ok := strings.Cut(id, ":")
	n, err := strconv.Atoi(i)
	if !ok || p == "" || err != nil || n < 0 {
		return "", 0, rat.Errorf(rat.EINVALID, "trigger id %q: want layer.name:index, like gold.daily:0 (see GET /api/v1/triggers)", id)
	}
	return strings.ToLower(p), n, nil
}
