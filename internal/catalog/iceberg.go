package catalog

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"path"
	"regexp"
	"sort"
	"strconv"
	"time"

	"github.com/apache/iceberg-go"
	icecat "github.com/apache/iceberg-go/catalog"
	icebergio "github.com/apache/iceberg-go/io"
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat"
)

// CatalogType is how the adapter names itself to iceberg-go.
const CatalogType icecat.Type = "rat"

// DefaultTableProperties are set on every table rat creates.
var DefaultTableProperties = iceberg.Properties{
	table.PropertyFormatVersion: "2",
	// Planning stays fast after many appends (DESIGN, research probe).
	table.ManifestMergeEnabledKey: "true",
	// iceberg-go refreshes and replays a commit whose table moved underneath it.
	table.CommitNumRetriesKey:          "50",
	table.CommitMinRetryWaitMsKey:      "2",
	table.CommitMaxRetryWaitMsKey:      "200",
	table.CommitTotalRetryTimeoutMsKey: "120000",
	// Other branches still point at old metadata files: never delete them on commit.
	table.MetadataDeleteAfterCommitEnabledKey: "false",
}

// Iceberg is iceberg-go's catalog.Catalog (and TransactionalCatalog) bound to
// one branch of a rat catalog: every iceberg-go table operation loads from
// and commits to that branch, one rat commit per iceberg-go commit.
type Iceberg struct {
	store     Store
	ref       string
	fs        table.FSysF
	warehouse string // URL of the warehouse root, no trailing slash
	author    string
	message   string
	internal  bool // may write rat's own tables (layer _rat)
	cache     *metadataCache
	locs      Locator
}

var (
	_ icecat.Catalog              = (*Iceberg)(nil)
	_ icecat.TransactionalCatalog = (*Iceberg)(nil)
)

// IcebergConfig configures NewIceberg.
type IcebergConfig struct {
	Ref       string      // branch (or tag, read-only) to bind to
	FS        table.FSysF // file IO for metadata and manifests
	Warehouse string      // URL of the warehouse root: file:///abs/dir or s3://bucket/prefix
	Author    string
	// Locations records and resolves metadata locations (objstore.Locations);
	// nil records full locations as they are.
	Locations Locator
}

// Locator is the warehouse's location provider as the catalog uses it
// (objstore.Locations implements it): the catalog records locations in the
// provider's form and resolves them through it, so a warehouse that moved
// keeps its tables.
type Locator interface {
	// Stored is the form a location is recorded in (relative to the root).
	Stored(location string) string
	// Resolve turns a recorded location into a full one.
	Resolve(stored string) string
	// Learn registers a root the warehouse had, from a location known to
	// end in suffix.
	Learn(location, suffix string)
	// LearnFile is Learn for a file of a table:
	// <root>/<layer>/<name>/<dir>/<file>.
	LearnFile(location string)
	// Record makes sure files written under the current root can be found
	// after a move; it is called before each commit.
	Record(ctx context.Context) error
}

// plainLocations records full locations (no provider configured).
type plainLocations struct{}

func (plainLocations) Stored(l string) string       { return l }
func (plainLocations) Resolve(l string) string      { return l }
func (plainLocations) Learn(string, string)         {}
func (plainLocations) LearnFile(string)             {}
func (plainLocations) Record(context.Context) error { return nil }

// NewIceberg binds store to one ref.
func NewIceberg(store Store, cfg IcebergConfig) *Iceberg {
	author := cfg.Author
	if author == "" {
		author = "rat"
	}
	w := cfg.Warehouse
	for len(w) > 0 && w[len(w)-1] == '/' {
		w = w[:len(w)-1]
	}
	locs := cfg.Locations
	if locs == nil {
		locs = plainLocations{}
	}
	return &Iceberg{store: store, ref: cfg.Ref, fs: cfg.FS, warehouse: w, author: author, cache: newMetadataCache(4096), locs: locs}
}

// WithMessage returns a copy whose commits carry the given message.
func (c *Iceberg) WithMessage(msg string) *Iceberg {
	cp := *c
	cp.message = msg
	return &cp
}

// WithInternal returns a copy that may write rat's own tables (layer _rat):
// rat's file registry writes through it. Every other writer is refused
// there, whatever path its write takes.
func (c *Iceberg) WithInternal() *Iceberg {
	cp := *c
	cp.internal = true
	return &cp
}

// writable refuses a write into one of rat's own tables unless c is
// internal: the last guard of the write path.
func (c *Iceberg) writable(id rat.TableID) error {
	if id.Internal() && !c.internal {
		return rat.InternalTableError(id)
	}
	return nil
}

// Ref is the branch this catalog commits to.
func (c *Iceberg) Ref() string { return c.ref }

// CatalogType implements icecat.Catalog.
func (c *Iceberg) CatalogType() icecat.Type { return CatalogType }

// TableID converts an iceberg-go identifier to rat's.
func TableID(ident table.Identifier) (rat.TableID, error) {
	if len(ident) != 2 {
		return rat.TableID{}, rat.Errorf(rat.EINVALID, "table %v: want layer.name", ident)
	}
	id := rat.TableID{Layer: ident[0], Name: ident[1]}
	return id, id.Validate()
}

// Identifier converts rat's table id to iceberg-go's.
func Identifier(id rat.TableID) table.Identifier { return table.Identifier{id.Layer, id.Name} }

// TableLocation is where a table's files live: one place decides it, so a
// later migration can move warehouses mechanically.
func (c *Iceberg) TableLocation(id rat.TableID) string {
	return c.warehouse + "/" + id.Layer + "/" + id.Name
}

func (c *Iceberg) msg(fallback string) string {
	if c.message != "" {
		return c.message
	}
	return fallback
}

// CreateTable implements icecat.Catalog: it commits an empty table.
func (c *Iceberg) CreateTable(ctx context.Context, ident table.Identifier, schema *iceberg.Schema, opts ...icecat.CreateTableOpt) (*table.Table, error) {
	id, err := TableID(ident)
	if err != nil {
		return nil, err
	}
	if err := c.writable(id); err != nil {
		return nil, err
	}
	meta, err := c.newMetadata(id, schema, opts)
	if err != nil {
		return nil, err
	}
	loc, err := c.writeMetadata(ctx, meta, 0)
	if err != nil {
		return nil, err
	}
	if err := c.commitCreate(ctx, staged{id: id, meta: meta, loc: loc}, "create table "+id.String()); err != nil {
		return nil, err
	}
	return table.New(ident, meta, loc, c.fs, c), nil
}

// NewTable returns a table that does not exist yet. The first Commit of a
// transaction on it creates the table together with that transaction's
// changes (typically its first data) in one rat commit, so a failed first
// load never leaves an empty table behind.
func (c *Iceberg) NewTable(id rat.TableID, schema *iceberg.Schema, opts ...icecat.CreateTableOpt) (*table.Table, error) {
	meta, err := c.newMetadata(id, schema, opts)
	if err != nil {
		return nil, err
	}
	return table.New(Identifier(id), meta, "", c.fs, &creator{c: c, id: id, meta: meta}), nil
}

func (c *Iceberg) newMetadata(id rat.TableID, schema *iceberg.Schema, opts []icecat.CreateTableOpt) (table.Metadata, error) {
	var cfg icecat.CreateTableCfg
	for _, o := range opts {
		o(&cfg)
	}
	loc := cfg.Location
	if loc == "" {
		loc = c.TableLocation(id)
	}
	props := maps.Clone(DefaultTableProperties)
	maps.Copy(props, cfg.Properties)
	spec := cfg.PartitionSpec
	if spec == nil {
		spec = iceberg.UnpartitionedSpec
	}
	sortOrder := cfg.SortOrder
	if sortOrder.Len() == 0 {
		sortOrder = table.UnsortedSortOrder
	}
	meta, err := table.NewMetadata(schema, spec, sortOrder, loc, props)
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "create table %s: %w", id, err)
	}
	return meta, nil
}

type commitByKey struct{}

type commitBy struct {
	deadline time.Time
	refuse   func() error
}

// CommitBy returns a context whose commits through Iceberg (each attempt,
// retries included) are refused with refuse() once deadline has passed,
// before they reach the store: a writer whose files may already count as
// orphans (rat maintain orphans) must not commit them.
func CommitBy(ctx context.Context, deadline time.Time, refuse func() error) context.Context {
	return context.WithValue(ctx, commitByKey{}, commitBy{deadline: deadline, refuse: refuse})
}

// checkCommitBy refuses a commit past the context's CommitBy deadline.
func checkCommitBy(ctx context.Context) error {
	if cb, ok := ctx.Value(commitByKey{}).(commitBy); ok && time.Now().After(cb.deadline) {
		return cb.refuse()
	}
	return nil
}

// commitCreate commits a table that must not exist yet.
func (c *Iceberg) commitCreate(ctx context.Context, st staged, msg string) error {
	if err := checkCommitBy(ctx); err != nil {
		return err
	}
	_, err := c.store.Commit(ctx, CommitRequest{
		Branch: c.ref, Author: c.author, Message: c.msg(msg),
		Changes: []Change{{Table: st.id, Metadata: c.locs.Stored(st.loc)}},
	})
	if rat.IsCode(err, rat.ECONFLICT) {
		return fmt.Errorf("%w: %s on branch %s: %w", icecat.ErrTableAlreadyExists, st.id, c.ref, err)
	}
	if err != nil {
		return err
	}
	c.cache.put(st.loc, st.meta)
	return nil
}

// creator is the catalog of a table made by NewTable: its first commit
// creates the table; later ones go to the real catalog.
type creator struct {
	c       *Iceberg
	id      rat.TableID
	meta    table.Metadata
	created bool
}

func (cr *creator) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	return cr.c.LoadTable(ctx, ident)
}

func (cr *creator) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	if cr.created {
		return cr.c.CommitTable(ctx, ident, reqs, updates)
	}
	st, err := cr.c.stageOn(ctx, cr.id, cr.meta, "", table.TableCommit{Identifier: ident, Requirements: reqs, Updates: updates})
	if err != nil {
		return nil, "", err
	}
	if err := cr.c.commitCreate(ctx, st, "create table "+cr.id.String()); err != nil {
		return nil, "", err
	}
	cr.created = true
	return st.meta, st.loc, nil
}

// LoadTable implements icecat.Catalog.
func (c *Iceberg) LoadTable(ctx context.Context, ident table.Identifier) (*table.Table, error) {
	id, err := TableID(ident)
	if err != nil {
		return nil, err
	}
	e, err := c.store.Table(ctx, c.ref, id)
	if rat.IsCode(err, rat.ENOTFOUND) {
		return nil, fmt.Errorf("%w: %w", icecat.ErrNoSuchTable, err)
	}
	if err != nil {
		return nil, err
	}
	return c.Open(ctx, id, e.Metadata)
}

// Open returns the table whose metadata file is at loc (any commit's, as
// the catalog records it).
func (c *Iceberg) Open(ctx context.Context, id rat.TableID, loc string) (*table.Table, error) {
	meta, err := c.ReadMetadata(ctx, loc)
	if err != nil {
		return nil, err
	}
	c.locs.Learn(meta.Location(), "/"+id.Layer+"/"+id.Name)
	return table.New(Identifier(id), meta, c.locs.Resolve(loc), c.fs, c), nil
}

// ReadMetadata reads and parses a metadata file (loc as the catalog records
// it, or full). Metadata files are immutable, so parsed copies are cached
// in memory.
func (c *Iceberg) ReadMetadata(ctx context.Context, loc string) (table.Metadata, error) {
	loc = c.locs.Resolve(loc)
	if m, ok := c.cache.get(loc); ok {
		return m, nil
	}
	// A full location recorded before locations were relative names the
	// root it was written under (<root>/<layer>/<name>/metadata/<file>):
	// the warehouse may have moved since.
	c.locs.LearnFile(loc)
	fsys, err := c.fs(ctx)
	if err != nil {
		return nil, err
	}
	f, err := fsys.Open(loc)
	if err != nil {
		return nil, fmt.Errorf("open table metadata %s: %w", loc, err)
	}
	defer f.Close()
	meta, err := table.ParseMetadata(f)
	if err != nil {
		return nil, fmt.Errorf("parse table metadata %s: %w", loc, err)
	}
	c.cache.put(loc, meta)
	return meta, nil
}

// CommitTable implements icecat.Catalog: it applies updates to the table's
// state at the head of the branch and commits the new metadata file. A table
// that moved since it was loaded returns table.ErrCommitFailed, which makes
// iceberg-go reload and replay.
func (c *Iceberg) CommitTable(ctx context.Context, ident table.Identifier, reqs []table.Requirement, updates []table.Update) (table.Metadata, string, error) {
	st, err := c.stage(ctx, table.TableCommit{Identifier: ident, Requirements: reqs, Updates: updates})
	if err != nil {
		return nil, "", err
	}
	if st.noop {
		return st.meta, st.loc, nil
	}
	if err := c.commit(ctx, []staged{st}); err != nil {
		return nil, "", err
	}
	return st.meta, st.loc, nil
}

// CommitTransaction implements icecat.TransactionalCatalog: all tables land
// in one rat commit, or none does.
func (c *Iceberg) CommitTransaction(ctx context.Context, commits []table.TableCommit) error {
	if len(commits) == 0 {
		return icecat.ErrEmptyCommitList
	}
	var all []staged
	for _, tc := range commits {
		st, err := c.stage(ctx, tc)
		if err != nil {
			return err
		}
		if !st.noop {
			all = append(all, st)
		}
	}
	if len(all) == 0 {
		return nil
	}
	return c.commit(ctx, all)
}

type staged struct {
	id       rat.TableID
	expected string
	meta     table.Metadata
	loc      string
	noop     bool
}

func (c *Iceberg) stage(ctx context.Context, tc table.TableCommit) (staged, error) {
	id, err := TableID(tc.Identifier)
	if err != nil {
		return staged{}, err
	}
	var (
		current    table.Metadata
		currentLoc string
	)
	e, err := c.store.Table(ctx, c.ref, id)
	switch {
	case err == nil:
		currentLoc = e.Metadata
		if current, err = c.ReadMetadata(ctx, currentLoc); err != nil {
			return staged{}, err
		}
		c.locs.Learn(current.Location(), "/"+id.Layer+"/"+id.Name)
	case rat.IsCode(err, rat.ENOTFOUND):
	default:
		return staged{}, err
	}
	return c.stageOn(ctx, id, current, currentLoc, tc)
}

// stageOn validates a commit's requirements against current (whose file is
// currentLoc, "" for a table not committed yet), applies its updates and
// writes the resulting metadata file.
func (c *Iceberg) stageOn(ctx context.Context, id rat.TableID, current table.Metadata, currentLoc string, tc table.TableCommit) (staged, error) {
	if err := c.writable(id); err != nil {
		return staged{}, err
	}
	for _, r := range tc.Requirements {
		if err := r.Validate(current); err != nil {
			// A failed requirement means the table moved: iceberg-go may
			// refresh and replay (the REST protocol's 409).
			return staged{}, fmt.Errorf("%w: table %s: %w", table.ErrCommitFailed, id, err)
		}
	}
	base := current
	version := 0
	var err error
	switch {
	case base == nil:
		if base, err = table.NewMetadata(iceberg.NewSchema(0), nil, table.UnsortedSortOrder, "", nil); err != nil {
			return staged{}, err
		}
	case currentLoc != "":
		v := metadataVersion(currentLoc)
		if v < 0 {
			return staged{}, rat.Errorf(rat.EINTERNAL, "table %s: unexpected metadata file name %s", id, currentLoc)
		}
		version = v + 1
	}
	updated, err := table.UpdateTableMetadata(base, tc.Updates, c.locs.Resolve(currentLoc))
	if err != nil {
		return staged{}, fmt.Errorf("update table %s: %w", id, err)
	}
	if current != nil && currentLoc != "" && updated.Equals(current) {
		return staged{id: id, meta: current, loc: c.locs.Resolve(currentLoc), noop: true}, nil
	}
	loc, err := c.writeMetadata(ctx, updated, version)
	if err != nil {
		return staged{}, err
	}
	return staged{id: id, expected: currentLoc, meta: updated, loc: loc}, nil
}

func (c *Iceberg) commit(ctx context.Context, all []staged) error {
	changes := make([]Change, len(all))
	names := make([]string, len(all))
	for i, st := range all {
		changes[i] = Change{Table: st.id, Expected: st.expected, Metadata: c.locs.Stored(st.loc)}
		names[i] = st.id.String()
	}
	sort.Strings(names)
	if err := checkCommitBy(ctx); err != nil {
		return err
	}
	_, err := c.store.Commit(ctx, CommitRequest{
		Branch: c.ref, Author: c.author, Message: c.msg(fmt.Sprintf("update %v", names)), Changes: changes,
	})
	if rat.IsCode(err, rat.ECONFLICT) {
		return fmt.Errorf("%w: %w", table.ErrCommitFailed, err)
	}
	if err != nil {
		return err
	}
	for _, st := range all {
		c.cache.put(st.loc, st.meta)
	}
	return nil
}

// writeMetadata writes a new metadata file with a fresh, unique name.
func (c *Iceberg) writeMetadata(ctx context.Context, meta table.Metadata, version int) (string, error) {
	provider, err := table.LoadLocationProvider(meta.Location(), meta.Properties())
	if err != nil {
		return "", fmt.Errorf("location provider: %w", err)
	}
	loc, err := provider.NewTableMetadataFileLocation(version)
	if err != nil {
		return "", fmt.Errorf("metadata location: %w", err)
	}
	fsys, err := c.fs(ctx)
	if err != nil {
		return "", err
	}
	wfs, ok := fsys.(icebergio.WriteFileIO)
	if !ok {
		return "", rat.Errorf(rat.EINTERNAL, "file IO cannot write")
	}
	data, err := json.Marshal(meta)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	if err := wfs.WriteFile(loc, data); err != nil {
		return "", fmt.Errorf("write metadata %s: %w", loc, err)
	}
	// The commit that follows makes this file (and the data files and
	// manifests written before it) reachable: their root must be on record.
	if err := c.locs.Record(ctx); err != nil {
		return "", err
	}
	return loc, nil
}

var metadataFileName = regexp.MustCompile(`^(\d+)-[0-9a-fA-F-]{36}(?:\.\w+)?\.metadata\.json$`)

func metadataVersion(loc string) int {
	m := metadataFileName.FindStringSubmatch(path.Base(loc))
	if m == nil {
		return -1
	}
	v, err := strconv.Atoi(m[1])
	if err != nil {
		return -1
	}
	return v
}
