package icebergrest

// The commit of one table: POST /v1/{prefix}/namespaces/{namespace}/tables/{table}.

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// commitTableRequest is the spec's CommitTableRequest; iceberg-go decodes
// the requirements and updates.
type commitTableRequest struct {
	Identifier   *tableIdentifier   `json:"identifier,omitempty"`
	Requirements table.Requirements `json:"requirements"`
	Updates      table.Updates      `json:"updates"`
}

// commitTableResponse is the spec's CommitTableResponse.
type commitTableResponse struct {
	MetadataLocation string          `json:"metadata-location"`
	Metadata         json.RawMessage `json:"metadata"`
}

// commitTable applies a client's requirements and updates to a table on
// a branch as one rat commit (visible in rat log, its conflicts found the
// way every rat commit's are): a failed requirement or a table that moved
// is 409 CommitFailedException, which clients answer by reloading and
// retrying. Tags and rat's own branches (run/, ingest/) are read-only;
// the table must exist (creation is not served yet).
func (h *handler) commitTable(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref, err := h.branch(r)
	if err != nil {
		return err
	}
	id, _, err := h.table(r, ref.Name)
	if err != nil {
		return err
	}
	var req commitTableRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.Identifier != nil && (!slices.Equal(req.Identifier.Namespace, []string{id.Layer}) || req.Identifier.Name != id.Name) {
		return errorf(http.StatusBadRequest, "", "the body's identifier %v.%s is not the table of the path, %s", req.Identifier.Namespace, req.Identifier.Name, id)
	}
	if err := checkUpdates(id, req.Updates); err != nil {
		return err
	}
	cat := h.cfg.Catalog(ref.Name).WithMessage(fmt.Sprintf("iceberg REST: commit to %s", id))
	meta, loc, err := cat.CommitTable(ctx, catalog.Identifier(id), req.Requirements, req.Updates)
	switch {
	case errors.Is(err, table.ErrCommitFailed):
		return errorf(http.StatusConflict, "CommitFailedException", "commit to %s on %s failed: %s; reload the table and retry", id, ref.Name, rat.ErrorMessage(err))
	case err != nil:
		return err
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return fmt.Errorf("table %s: encode metadata: %w", id, err)
	}
	return h.writeCapped(w, r, commitTableResponse{MetadataLocation: loc, Metadata: raw})
}

// checkUpdates refuses updates that would undo what rat decides for every
// table: its location and its properties (keepsRatProperties).
func checkUpdates(id rat.TableID, updates table.Updates) error {
	for _, u := range updates {
		switch u.Action() {
		case table.UpdateSetLocation:
			return errorf(http.StatusBadRequest, "", "commit to %s: set-location: rat places tables itself", id)
		case table.UpdateSetProperties, table.UpdateRemoveProperties:
			b, err := json.Marshal(u)
			if err != nil {
				return err
			}
			var p struct {
				Updates  iceberg.Properties `json:"updates"`
				Removals []string           `json:"removals"`
			}
			if err := json.Unmarshal(b, &p); err != nil {
				return err
			}
			if err := keepsRatProperties("commit to", id, p.Updates, p.Removals); err != nil {
				return err
			}
		}
	}
	return nil
}

// branch resolves the {prefix} of a request that writes: a branch users
// may write (403 for a tag or one of rat's own branches).
func (h *handler) branch(r *http.Request) (rat.Ref, error) {
	ref, err := h.ref(r.Context(), r)
	if err != nil {
		return rat.Ref{}, err
	}
	if ref.Kind == rat.Tag {
		return rat.Ref{}, errorf(http.StatusForbidden, "ForbiddenException", "%q is a tag and tags are read-only: commit to a branch (ask for it as the warehouse)", ref.Name)
	}
	if rat.ReservedRefName(ref.Name) {
		return rat.Ref{}, errorf(http.StatusForbidden, "ForbiddenException", "%s", rat.ErrorMessage(rat.ReservedTargetError(ref.Name, "commit to")))
	}
	return ref, nil
}

// decodeJSON reads a request body (capped by ServeHTTP) as one JSON object
// with known fields.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, err = dec.Token(); errors.Is(err, io.EOF) {
			return nil
		}
		err = errors.New("more than one JSON value")
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "", "%s %s: the request body is empty: send a JSON object", r.Method, r.URL.Path)
	}
	return errorf(http.StatusBadRequest, "", "%s %s: the request body is not a valid request for this endpoint: %s", r.Method, r.URL.Path, err.Error())
}
