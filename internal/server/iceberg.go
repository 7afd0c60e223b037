package server

import (
	"net/http"
	"strings"

	"github.com/ratdata/rat/internal/icebergrest"
)

// icebergRoutes mounts the Iceberg REST catalog (internal/icebergrest)
// under /iceberg behind the API's tokens and Host/Origin rules: a read
// token may GET and HEAD, anything else needs run. Its errors, the
// server's own included, use the REST spec's error model.
func (s *Server) icebergRoutes() error {
	h, err := icebergrest.New(icebergrest.Config{
		Store: s.cfg.Store, Catalog: s.cfg.Lake.Catalog, Branch: s.cfg.Branch,
		TableConfig: s.cfg.IcebergTableConfig, MaxResponseBytes: s.cfg.Limits.ResultBytes, Logger: s.log,
	})
	if err != nil {
		return err
	}
	read, write := s.authorize(RoleRead, h), s.authorize(RoleRun, s.bodyTypes(h))
	s.mux.Handle(icebergrest.Mount+"/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			read.ServeHTTP(w, r)
			return
		}
		write.ServeHTTP(w, r)
	}))
	return nil
}

// isIceberg reports whether r is a request to the Iceberg REST catalog.
func isIceberg(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, icebergrest.Mount+"/")
}
