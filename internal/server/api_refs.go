package server

import (
	"net/http"
	"time"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/catalog"
)

// refJSON is a branch or tag.
type refJSON struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Head string `json:"head"`
}

// plural names a ref kind's collection: branches, tags.
func plural(kind rat.RefKind) string {
	if kind == rat.Branch {
		return "branches"
	}
	return "tags"
}

func toRefJSON(r rat.Ref) refJSON { return refJSON{Name: r.Name, Kind: string(r.Kind), Head: r.Head} }

func (s *Server) listRefs(kind rat.RefKind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		refs, err := s.cfg.Store.Refs(r.Context())
		if err != nil {
			return err
		}
		out := []refJSON{}
		for _, ref := range refs {
			if ref.Kind == kind {
				out = append(out, toRefJSON(ref))
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{plural(kind): out})
		return nil
	}
}

// getRef returns one ref of the given kind; a ref of the other kind is
// not found here.
func (s *Server) getRef(kind rat.RefKind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref, err := s.refOfKind(r, kind)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, toRefJSON(ref))
		return nil
	}
}

// refOfKind loads the {name} ref of the request; a ref of the other kind
// is not found here.
func (s *Server) refOfKind(r *http.Request, kind rat.RefKind) (rat.Ref, error) {
	name := r.PathValue("name")
	ref, err := s.cfg.Store.Ref(r.Context(), name)
	if err != nil {
		return rat.Ref{}, err
	}
	if ref.Kind != kind {
		return rat.Ref{}, rat.Errorf(rat.ENOTFOUND, "%s is a %s, not a %s", name, ref.Kind, kind)
	}
	return ref, nil
}

func (s *Server) createRef(kind rat.RefKind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		var req struct {
			Name string `json:"name"`
			From string `json:"from"`
		}
		if err := decode(r, &req); err != nil {
			return err
		}
		if err := rat.ValidateUserRefName(req.Name, kind); err != nil {
			return err
		}
		if req.From == "" {
			req.From = s.cfg.Branch
		}
		head, err := catalog.ResolveRef(r.Context(), s.cfg.Store, req.From)
		if err != nil {
			return err
		}
		ref := rat.Ref{Name: req.Name, Kind: kind, Head: head}
		if err := s.cfg.Store.CreateRef(r.Context(), ref); err != nil {
			return err
		}
		w.Header().Set("Location", "/api/v1/"+plural(kind)+"/"+req.Name)
		writeJSON(w, http.StatusCreated, toRefJSON(ref))
		return nil
	}
}

func (s *Server) deleteRef(kind rat.RefKind) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		ref, err := s.refOfKind(r, kind)
		if err != nil {
			return err
		}
		if err := s.cfg.Store.DeleteRef(r.Context(), ref.Name); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// commitJSON is one commit of the log.
type commitJSON struct {
	ID      string    `json:"id"`
	Parents []string  `json:"parents"`
	Author  string    `json:"author"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
	Changes []string  `json:"tables"`
}

func (s *Server) listCommits(w http.ResponseWriter, r *http.Request) error {
	ref := r.URL.Query().Get("ref")
	if ref == "" {
		ref = s.cfg.Branch
	}
	limit, err := intParam(r, "limit", 50)
	if err != nil {
		return err
	}
	head, err := catalog.ResolveRef(r.Context(), s.cfg.Store, ref)
	if err != nil {
		return err
	}
	commits, err := s.cfg.Store.Log(r.Context(), head, limit)
	if err != nil {
		return err
	}
	out := make([]commitJSON, len(commits))
	for i, c := range commits {
		out[i] = commitJSON{ID: c.ID, Parents: c.Parents, Author: c.Author, Message: c.Message, Time: c.Time.UTC(), Changes: []string{}}
		if out[i].Parents == nil {
			out[i].Parents = []string{}
		}
		for _, ch := range c.Changes {
			out[i].Changes = append(out[i].Changes, ch.Table.String())
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"ref": ref, "commits": out})
	return nil
}

// merge merges source into a branch. A conflict answers 409 with the
// error and the tables, so a client can show what conflicted.
func (s *Server) merge(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Source  string `json:"source"`
		Into    string `json:"into"`
		DryRun  bool   `json:"dry_run"`
		Message string `json:"message"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Source == "" {
		return rat.Errorf(rat.EINVALID, "source is empty: send {\"source\": \"dev\", \"into\": \"main\"}")
	}
	if req.Into == "" {
		req.Into = s.cfg.Branch
	}
	into, err := s.cfg.Store.Ref(r.Context(), req.Into)
	if err != nil {
		return err
	}
	if into.Kind != rat.Branch {
		return rat.Errorf(rat.EINVALID, "%s is a tag: tags are read-only; merge into a branch", req.Into)
	}
	res, err := s.cfg.Lake.Catalog(req.Into).Merge(r.Context(), req.Source, catalog.MergeOptions{DryRun: req.DryRun, Message: req.Message})
	if err != nil {
		if len(res.Conflicts()) == 0 {
			return err
		}
		var body errorBody
		body.Error.Code = rat.ErrorCode(err)
		body.Error.Message = rat.ErrorMessage(err)
		writeJSON(w, statusOf[rat.ECONFLICT], struct {
			errorBody
			Merge mergeJSON `json:"merge"`
		}{body, toMergeJSON(res)})
		return nil
	}
	writeJSON(w, http.StatusOK, toMergeJSON(res))
	return nil
}

// mergeJSON is a merge's answer, tables named layer.name as everywhere else
// in the API.
type mergeJSON struct {
	catalog.MergeResult
	Tables []mergedTableJSON `json:"tables"`
}

type mergedTableJSON struct {
	Table  string `json:"table"`
	Action string `json:"action"`
	Detail string `json:"detail,omitempty"`
}

func toMergeJSON(r catalog.MergeResult) mergeJSON {
	out := mergeJSON{MergeResult: r, Tables: []mergedTableJSON{}}
	for _, t := range r.Tables {
		out.Tables = append(out.Tables, mergedTableJSON{Table: t.Table.String(), Action: string(t.Action), Detail: t.Detail})
	}
	return out
}

func (s *Server) diff(w http.ResponseWriter, r *http.Request) error {
	from, to := r.URL.Query().Get("from"), r.URL.Query().Get("to")
	if from == "" {
		return rat.Errorf(rat.EINVALID, "diff needs ?from=REF (and optionally &to=REF, default %s)", s.cfg.Branch)
	}
	if to == "" {
		to = s.cfg.Branch
	}
	d, err := s.cfg.Lake.Diff(r.Context(), from, to)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"from": from, "to": to, "tables": nonNil(d)})
	return nil
}

// nonNil makes an empty list encode as [] rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
