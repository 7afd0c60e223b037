package app

import (
	"context"
	neturl "net/url"
	"path/filepath"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/config"
	"github.com/ratdata/rat/internal/objstore"
)

// GCSEndpoint is the endpoint of Google Cloud Storage's S3 interoperability
// API: a gs:// warehouse is an S3 warehouse there unless an endpoint is given.
const GCSEndpoint = "https://storage.googleapis.com"

// Target describes where rat migrate copies a workspace to. Empty fields
// keep the source's value.
type Target struct {
	CatalogURL   string // postgres://…, sqlite:PATH or a path
	WarehouseURL string // s3://bucket/prefix, gs://bucket/prefix, file://PATH or a path
	// S3 settings of an S3 (or gs://) target; empty ones default to the
	// source's S3 settings (S3_ENDPOINT, S3_REGION, S3_PATH_STYLE).
	S3Endpoint, S3Region, S3PathStyle string
}

// Target credentials: rat migrate reads them from these variables (never
// from flags, which other users can see in the process list); unset, the
// source's S3_ACCESS_KEY and S3_SECRET_KEY are used.
const (
	TargetAccessKeyEnv = "RAT_MIGRATE_S3_ACCESS_KEY"
	TargetSecretKeyEnv = "RAT_MIGRATE_S3_SECRET_KEY"
)

// TargetConfig is the configuration a migration target would have: src's,
// with the target's catalog, warehouse and S3 settings, and a state
// directory (read cache, temporary files) of its own. env looks up the
// target credentials (os.LookupEnv).
func TargetConfig(src *config.Config, t Target, stateDir string, env func(string) (string, bool)) (*config.Config, error) {
	cfg := *src
	cfg.StateDir = stateDir
	if t.CatalogURL != "" {
		u, err := catalogURL(t.CatalogURL)
		if err != nil {
			return nil, err
		}
		cfg.CatalogURL = u
	}
	if t.WarehouseURL != "" {
		wh, gcs, err := warehouseURL(t.WarehouseURL)
		if err != nil {
			return nil, err
		}
		cfg.Warehouse = wh
		if gcs && t.S3Endpoint == "" {
			cfg.S3.Endpoint = GCSEndpoint
		}
	}
	if t.S3Endpoint != "" {
		cfg.S3.Endpoint = t.S3Endpoint
	}
	if t.S3Region != "" {
		cfg.S3.Region = t.S3Region
	}
	if t.S3PathStyle != "" {
		cfg.S3.PathStyle = t.S3PathStyle
	}
	access, okA := env(TargetAccessKeyEnv)
	secret, okS := env(TargetSecretKeyEnv)
	if (okA && access != "") != (okS && secret != "") {
		return nil, rat.Errorf(rat.EINVALID, "set both %s and %s for the target, or neither (then the source's S3 keys are used)",
			TargetAccessKeyEnv, TargetSecretKeyEnv)
	}
	if access != "" {
		cfg.S3.AccessKey, cfg.S3.SecretKey = access, config.Secret(secret)
	}
	if (t.S3Endpoint != "" || t.S3Region != "" || t.S3PathStyle != "" || access != "") && !cfg.IsS3() {
		return nil, rat.Errorf(rat.EINVALID, "S3 settings for the target were given, but the target warehouse %s is not on S3: give --to-warehouse s3://BUCKET/PREFIX (or gs://…)",
			cfg.Warehouse)
	}
	return &cfg, nil
}

// catalogURL normalises a target catalog: a Postgres URL as it is, a SQLite
// file (sqlite:PATH, sqlite://PATH or a plain path) as an absolute path.
func catalogURL(u string) (string, error) {
	if config.IsPostgresURL(u) {
		return u, nil
	}
	p := u
	if rest, ok := strings.CutPrefix(u, "sqlite://"); ok {
		p = rest
	} else if rest, ok := strings.CutPrefix(u, "sqlite:"); ok {
		p = rest
	} else if scheme, _, ok := strings.Cut(u, "://"); ok {
		return "", rat.Errorf(rat.EINVALID, "--to-catalog %s: unknown scheme %q: want postgres://USER@HOST/DB, sqlite:PATH or a file path",
			config.RedactURL(u), scheme)
	}
	if p == "" {
		return "", rat.Errorf(rat.EINVALID, "--to-catalog %q names no file: want sqlite:PATH, a file path or postgres://…", u)
	}
	return filepath.Abs(p)
}

// warehouseURL normalises a target warehouse to the form ICEBERG_WAREHOUSE
// takes: s3://bucket/prefix/ or an absolute directory. gcs reports a gs://
// location (an S3 warehouse at Google Cloud Storage).
func warehouseURL(u string) (wh string, gcs bool, err error) {
	switch {
	case strings.HasPrefix(u, "s3://"), strings.HasPrefix(u, "s3a://"), strings.HasPrefix(u, "gs://"):
		gcs = strings.HasPrefix(u, "gs://")
		s := u
		if gcs {
			s = "s3://" + strings.TrimPrefix(u, "gs://")
		}
		bucket, prefix, err := objstore.ParseS3URL(s)
		if err != nil {
			return "", false, rat.Errorf(rat.EINVALID, "--to-warehouse %s: %s", u, rat.ErrorMessage(err))
		}
		return "s3://" + bucket + "/" + prefix, gcs, nil
	case strings.HasPrefix(u, "file://"):
		p := strings.TrimPrefix(u, "file://")
		if !strings.HasPrefix(p, "/") {
			return "", false, rat.Errorf(rat.EINVALID, "--to-warehouse %s: a file:// location needs an absolute path (file:///srv/warehouse); give a plain path for a relative one", u)
		}
		return filepath.Clean(p), false, nil
	case strings.Contains(u, "://"):
		scheme, _, _ := strings.Cut(u, "://")
		return "", false, rat.Errorf(rat.EINVALID, "--to-warehouse %s: unknown scheme %q: want s3://BUCKET/PREFIX, gs://BUCKET/PREFIX, file://PATH or a directory", u, scheme)
	}
	abs, err := filepath.Abs(u)
	return abs, false, err
}

// OpenWarehouse opens the warehouse cfg names without creating anything on
// S3: a missing bucket is an error (rat migrate must not create a stray
// bucket from a typo). A local directory is created.
func OpenWarehouse(ctx context.Context, cfg *config.Config) (objstore.Store, error) {
	return openWarehouse(ctx, cfg, false)
}

// OpenTarget opens a migration target described by cfg (TargetConfig): its
// catalog, warehouse (checked, never created on S3), read cache and a lake
// over them that shares src's DuckDB. Closing it leaves src's DuckDB open.
func OpenTarget(ctx context.Context, src *App, cfg *config.Config) (_ *App, err error) {
	a := &App{Config: cfg, DB: src.DB, sharedDB: true}
	defer func() {
		if err != nil {
			a.Close()
		}
	}()
	if a.Store, err = OpenCatalog(ctx, cfg.CatalogURL); err != nil {
		return nil, err
	}
	if a.Objects, err = OpenWarehouse(ctx, cfg); err != nil {
		return nil, err
	}
	if a.Cache, err = objstore.NewCache(a.Objects, cacheDir(cfg.StateDir), int64(cfg.CacheMB)<<20); err != nil {
		return nil, err
	}
	a.Lake = a.NewLake("")
	return a, nil
}

// TargetEnv is the environment of a process that uses a migration target
// (TargetConfig): the variables to set, and comments for what is left out.
// No secret is included: a catalog URL loses its password (pgx reads
// PGPASSWORD), and the S3 keys are named only.
func TargetEnv(cfg *config.Config) (settings [][2]string, comments []string) {
	url := cfg.CatalogURL
	if config.IsPostgresURL(url) {
		if stripped, had := stripPassword(url); had {
			url = stripped
			comments = append(comments, "RAT_CATALOG_URL: its password is not written here; set PGPASSWORD (or add it to the URL)")
		}
	}
	settings = append(settings, [2]string{"RAT_CATALOG_URL", url}, [2]string{"ICEBERG_WAREHOUSE", cfg.Warehouse})
	if cfg.IsS3() {
		if cfg.S3.Endpoint != "" {
			settings = append(settings, [2]string{"S3_ENDPOINT", cfg.S3.Endpoint})
		}
		if cfg.S3.Region != "" {
			settings = append(settings, [2]string{"S3_REGION", cfg.S3.Region})
		}
		if cfg.S3.PathStyle != "" {
			settings = append(settings, [2]string{"S3_PATH_STYLE", cfg.S3.PathStyle})
		}
		comments = append(comments, "S3_ACCESS_KEY and S3_SECRET_KEY: set them to the target's keys (secrets are not written here)")
	}
	return settings, comments
}

// stripPassword removes the password from a URL's user info and from a
// password= parameter.
func stripPassword(u string) (string, bool) {
	p, err := neturl.Parse(u)
	if err != nil {
		return config.RedactURL(u), true
	}
	had := false
	if p.User != nil {
		if _, ok := p.User.Password(); ok {
			p.User, had = neturl.User(p.User.Username()), true
		}
	}
	q := p.Query()
	if q.Has("password") {
		q.Del("password")
		p.RawQuery, had = q.Encode(), true
	}
	return p.String(), had
}
