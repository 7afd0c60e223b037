package cli

import (
	"context"
	"fmt"

	"github.com/ratdata/rat/internal/trigger"
	"github.com/ratdata/rat/internal/workspace"
)

// adoptTriggerKeys moves trigger state that an older rat kept by the
// trigger's place in its pipeline's list (layer.name#index) to the
// trigger's name, as the workspace lists them now, the first time a
// workspace is loaded after the upgrade: a schedule keeps its last tick
// (no catch-up fires again) and a switched-off trigger stays off. State
// under an index that names no trigger any more is dropped, so no later
// trigger can inherit it.
func (a *app) adoptTriggerKeys(ctx context.Context, ws *workspace.Workspace) error {
	keys, err := a.Store.TriggerKeys(ctx)
	if err != nil {
		return err
	}
	renames := map[string]string{}
	for _, k := range keys {
		if trigger.IsLegacyKey(k) {
			renames[k] = ""
		}
	}
	if len(renames) == 0 {
		return nil
	}
	for _, p := range ws.Pipelines() {
		for i, tr := range p.Config.Triggers {
			old := trigger.LegacyKey(p.ID.String(), i)
			if _, legacy := renames[old]; legacy {
				renames[old] = trigger.Key(p.ID.String(), tr.Name)
			}
		}
	}
	if err := a.Store.RenameTriggerKeys(ctx, renames); err != nil {
		return fmt.Errorf("move trigger state to trigger names: %w", err)
	}
	return nil
}
