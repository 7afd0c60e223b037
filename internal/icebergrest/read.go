package icebergrest

// The read side: config, namespaces, tables.

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"strings"

	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// namespaceSeparator joins the parts of a multi-level namespace in a path
// or a parent parameter (the spec's default, url-encoded %1F).
const namespaceSeparator = "\x1f"

// catalogConfig is the spec's CatalogConfig.
type catalogConfig struct {
	Defaults  map[string]string `json:"defaults"`
	Overrides map[string]string `json:"overrides"`
	Endpoints []string          `json:"endpoints"`
}

// config answers GET /v1/config. A warehouse names the branch or tag the
// client reads, returned as the prefix override; without one the default
// branch is only the default, so a client's own prefix wins.
func (h *handler) config(w http.ResponseWriter, r *http.Request) error {
	out := catalogConfig{Defaults: map[string]string{}, Overrides: map[string]string{}, Endpoints: Endpoints}
	if wh := r.URL.Query().Get("warehouse"); wh != "" {
		if _, err := h.cfg.Store.Ref(r.Context(), wh); err != nil {
			if rat.IsCode(err, rat.ENOTFOUND) {
				return noSuchWarehouse(wh)
			}
			return err
		}
		// The prefix is a path segment as clients send it: a branch
		// named feature/x is feature%2Fx there.
		out.Overrides["prefix"] = url.PathEscape(wh)
	} else {
		out.Defaults["prefix"] = h.cfg.Branch
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// tables lists the Iceberg tables at the head of ref: rat's views are
// stored in another format and are not listed (yet).
func (h *handler) tables(ctx context.Context, ref string) ([]rat.TableID, error) {
	entries, err := h.cfg.Store.Tables(ctx, ref)
	if err != nil {
		return nil, err
	}
	var out []rat.TableID
	for _, e := range entries {
		if !catalog.IsView(e.Metadata) {
			out = append(out, e.Table)
		}
	}
	return out, nil
}

// namespace resolves the {prefix} and {namespace} of a request to a ref
// and a layer that holds a table there (404 NoSuchNamespaceException
// otherwise), with the tables of that layer.
func (h *handler) namespace(r *http.Request) (string, string, []rat.TableID, error) {
	ref, err := h.ref(r.Context(), r)
	if err != nil {
		return "", "", nil, err
	}
	layer, tables, err := h.layer(r.Context(), ref.Name, r.PathValue("namespace"))
	return ref.Name, layer, tables, err
}

// layer finds the tables of a namespace given as the spec encodes it.
func (h *handler) layer(ctx context.Context, ref, ns string) (string, []rat.TableID, error) {
	all, err := h.tables(ctx, ref)
	if err != nil {
		return "", nil, err
	}
	var in []rat.TableID
	for _, id := range all {
		if id.Layer == ns {
			in = append(in, id)
		}
	}
	if len(in) == 0 {
		why := ""
		if strings.Contains(ns, namespaceSeparator) {
			why = " (rat's namespaces are its layers, one level deep)"
		}
		return "", nil, errorf(http.StatusNotFound, "NoSuchNamespaceException", "namespace %q does not exist on %s%s: a namespace is a layer that holds a table", strings.ReplaceAll(ns, namespaceSeparator, "."), ref, why)
	}
	return ns, in, nil
}

// listNamespaces answers GET /v1/{prefix}/namespaces: every layer, or
// none under a layer (they are one level deep).
func (h *handler) listNamespaces(w http.ResponseWriter, r *http.Request) error {
	ref, err := h.ref(r.Context(), r)
	if err != nil {
		return err
	}
	out := [][]string{}
	if parent := r.URL.Query().Get("parent"); parent != "" {
		if _, _, err := h.layer(r.Context(), ref.Name, parent); err != nil {
			return err
		}
	} else {
		all, err := h.tables(r.Context(), ref.Name)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, id := range all {
			if !seen[id.Layer] {
				seen[id.Layer] = true
				out = append(out, []string{id.Layer})
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespaces": out})
	return nil
}

// loadNamespace answers GET and HEAD /v1/{prefix}/namespaces/{namespace}.
// Layers have no properties: an empty object.
func (h *handler) loadNamespace(w http.ResponseWriter, r *http.Request) error {
	_, layer, _, err := h.namespace(r)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"namespace": []string{layer}, "properties": map[string]string{}})
	return nil
}

// tableIdentifier is the spec's TableIdentifier.
type tableIdentifier struct {
	Namespace []string `json:"namespace"`
	Name      string   `json:"name"`
}

// listTables answers GET /v1/{prefix}/namespaces/{namespace}/tables.
func (h *handler) listTables(w http.ResponseWriter, r *http.Request) error {
	_, _, tables, err := h.namespace(r)
	if err != nil {
		return err
	}
	out := make([]tableIdentifier, 0, len(tables))
	for _, id := range tables {
		out = append(out, tableIdentifier{Namespace: []string{id.Layer}, Name: id.Name})
	}
	writeJSON(w, http.StatusOK, map[string]any{"identifiers": out})
	return nil
}

// loadTableResult is the spec's LoadTableResult.
type loadTableResult struct {
	MetadataLocation string            `json:"metadata-location"`
	Metadata         json.RawMessage   `json:"metadata"`
	Config           map[string]string `json:"config"`
}

// loadTable answers GET and HEAD
// /v1/{prefix}/namespaces/{namespace}/tables/{table}: the table's current
// metadata on the ref, where its metadata file is, and the storage config
// a client reads its files with.
func (h *handler) loadTable(w http.ResponseWriter, r *http.Request) error {
	ref, err := h.ref(r.Context(), r)
	if err != nil {
		return err
	}
	id, loc, err := h.table(r, ref.Name)
	if err != nil {
		return err
	}
	if r.Method == http.MethodHead {
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	tbl, err := h.cfg.Catalog(ref.Name).Open(r.Context(), id, loc)
	if err != nil {
		return err
	}
	return h.writeLoaded(w, r, id, tbl)
}

// writeLoaded answers a LoadTableResult for tbl.
func (h *handler) writeLoaded(w http.ResponseWriter, r *http.Request, id rat.TableID, tbl *table.Table) error {
	meta, err := json.Marshal(tbl.Metadata())
	if err != nil {
		return fmt.Errorf("table %s: encode metadata: %w", id, err)
	}
	cfg := map[string]string{}
	maps.Copy(cfg, h.cfg.TableConfig)
	return h.writeCapped(w, r, loadTableResult{MetadataLocation: tbl.MetadataLocation(), Metadata: meta, Config: cfg})
}

// table resolves the {namespace} and {table} of a request to a table on
// ref and its metadata location as the catalog records it: 404
// NoSuchTableException when there is none (or a rat view).
func (h *handler) table(r *http.Request, ref string) (rat.TableID, string, error) {
	ns, name := r.PathValue("namespace"), r.PathValue("table")
	noSuchTable := errorf(http.StatusNotFound, "NoSuchTableException", "table %s.%s does not exist on %s", strings.ReplaceAll(ns, namespaceSeparator, "."), name, ref)
	if strings.Contains(ns, namespaceSeparator) {
		return rat.TableID{}, "", noSuchTable
	}
	id, err := rat.ParseTableID(ns + "." + name)
	if err != nil || id.Layer != ns || id.Name != name {
		return rat.TableID{}, "", noSuchTable // not a name rat gives a table (rat names are lower case)
	}
	e, err := h.cfg.Store.Table(r.Context(), ref, id)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return rat.TableID{}, "", noSuchTable
	}
	if err != nil {
		return rat.TableID{}, "", err
	}
	if catalog.IsView(e.Metadata) {
		noSuchTable.Message = fmt.Sprintf("%s on %s is a rat view, not an Iceberg table: views are not served through the REST catalog yet", id, ref)
		return rat.TableID{}, "", noSuchTable
	}
	return id, e.Metadata, nil
}
