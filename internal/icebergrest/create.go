package icebergrest

// The creation of a table: POST /v1/{prefix}/namespaces/{namespace}/tables.

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// createTableRequest is the spec's CreateTableRequest. The partition spec
// and write order refer to the request's schema: iceberg-go binds them when
// it builds the metadata.
type createTableRequest struct {
	Name          string                        `json:"name"`
	Location      string                        `json:"location,omitempty"`
	Schema        *iceberg.Schema               `json:"schema"`
	PartitionSpec *iceberg.UnboundPartitionSpec `json:"partition-spec,omitempty"`
	WriteOrder    *table.UnboundSortOrder       `json:"write-order,omitempty"`
	StageCreate   bool                          `json:"stage-create,omitempty"`
	Properties    iceberg.Properties            `json:"properties,omitempty"`
}

// createTable creates an empty table on a branch as one rat commit and
// answers as loadTable does. A layer needs no creation: a table's
// namespace comes to exist with it. rat places tables itself (a location
// is refused unless it is rat's own), keeps the properties it sets on
// every table (DefaultTableProperties: old metadata files stay, other
// branches read them), and serves no staged creation yet.
func (h *handler) createTable(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	ref, err := h.branch(r)
	if err != nil {
		return err
	}
	var req createTableRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	ns := r.PathValue("namespace")
	id, err := rat.ParseTableID(ns + "." + req.Name)
	if err != nil || id.Layer != ns || id.Name != req.Name {
		return errorf(http.StatusBadRequest, "", "table name %s.%s: rat names a table layer.name, lower-case letters, digits and _ (for example bronze.sales), one namespace level", strings.ReplaceAll(ns, namespaceSeparator, "."), req.Name)
	}
	if req.Schema == nil {
		return errorf(http.StatusBadRequest, "", "create table %s: the request has no schema", id)
	}
	if req.StageCreate {
		return errorf(http.StatusNotAcceptable, "", "create table %s: staged creation (stage-create) is not supported yet: create the table, then commit to it", id)
	}
	cat := h.cfg.Catalog(ref.Name).WithMessage(fmt.Sprintf("iceberg REST: create table %s", id))
	if req.Location != "" && strings.TrimSuffix(req.Location, "/") != cat.TableLocation(id) {
		return errorf(http.StatusBadRequest, "", "create table %s: location %q: rat places tables itself (at %s); send no location", id, req.Location, cat.TableLocation(id))
	}
	if err := keepsRatProperties("create table", id, req.Properties, nil); err != nil {
		return err
	}
	if _, err := h.cfg.Store.Table(ctx, ref.Name, id); err == nil {
		return errorf(http.StatusConflict, "AlreadyExistsException", "table %s already exists on %s", id, ref.Name)
	} else if !rat.IsCode(err, rat.ENOTFOUND) {
		return err
	}
	opts := []icecat.CreateTableOpt{icecat.WithProperties(req.Properties)}
	if req.PartitionSpec != nil {
		opts = append(opts, icecat.WithPartitionSpec(&req.PartitionSpec.PartitionSpec))
	}
	if req.WriteOrder != nil {
		opts = append(opts, icecat.WithSortOrder(req.WriteOrder.SortOrder))
	}
	tbl, err := cat.CreateTable(ctx, catalog.Identifier(id), req.Schema, opts...)
	if errors.Is(err, icecat.ErrTableAlreadyExists) {
		return errorf(http.StatusConflict, "AlreadyExistsException", "table %s already exists on %s", id, ref.Name)
	}
	if err != nil {
		return err
	}
	return h.writeLoaded(w, r, id, tbl)
}

// keepsRatProperties refuses to set or remove a property rat sets on every
// table (catalog.DefaultTableProperties) to anything else: with
// write.metadata.delete-after-commit.enabled a client would delete
// metadata files other branches still read.
func keepsRatProperties(op string, id rat.TableID, set iceberg.Properties, removed []string) error {
	for k, v := range set {
		if want, ok := catalog.DefaultTableProperties[k]; ok && v != want {
			return errorf(http.StatusBadRequest, "", "%s %s: property %s=%s: rat sets %s=%s on every table and keeps it", op, id, k, v, k, want)
		}
	}
	for _, k := range removed {
		if want, ok := catalog.DefaultTableProperties[k]; ok {
			return errorf(http.StatusBadRequest, "", "%s %s: removing property %s: rat sets %s=%s on every table and keeps it", op, id, k, k, want)
		}
	}
	return nil
}
