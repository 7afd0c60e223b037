package workspace

import (
	"fmt"
	"time"

	"github.com/ratdata/rat"
)

// Materialization says how a pipeline's result is stored.
type Materialization string

// Materializations.
const (
	Table       Materialization = "table"       // full rebuild on every run
	View        Materialization = "view"        // a stored definition, resolved at query time
	Incremental Materialization = "incremental" // only new rows, merged by MergeStrategy
)

// MergeStrategy says how an incremental batch lands in its table.
type MergeStrategy string

// Merge strategies.
const (
	Merge        MergeStrategy = "merge"         // rows replace rows with the same unique key
	Append       MergeStrategy = "append"        // rows are added
	DeleteInsert MergeStrategy = "delete_insert" // rows whose key (or partition) is in the batch are deleted, then the batch is inserted
)

// Severity says whether a failing test blocks publication.
type Severity string

// Severities.
const (
	SeverityError Severity = "error"
	SeverityWarn  Severity = "warn"
)

// Layout says which of the two workspace layouts defines a pipeline.
type Layout string

// Layouts.
const (
	Flat   Layout = "flat"   // pipelines/<layer>/<name>.sql (+ <name>.yaml)
	Folder Layout = "folder" // pipelines/<layer>/<name>/pipeline.sql (+ config.yaml, tests/)
)

// Schema-change and bad-row policies.
const (
	OnSchemaChangeFail   = "fail"
	OnSchemaChangeAppend = "append_new_columns"
	OnBadRowsReject      = "reject"
	OnBadRowsQuarantine  = "quarantine"
)

// Overlap policies: what a run does when another run is building one of
// its pipelines on the same branch.
const (
	OverlapQueue = "queue" // wait until the other run ends
	OverlapSkip  = "skip"  // give up, recorded as skipped
)

// Warning is a problem that does not stop loading, such as a contradiction
// between a SQL annotation and the pipeline's YAML.
type Warning struct {
	File    string // workspace-relative path
	Line    int    // 0 when the warning is about a whole file
	Message string
}

// String formats the warning as file:line: message.
func (w Warning) String() string {
	if w.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", w.File, w.Line, w.Message)
	}
	return w.File + ": " + w.Message
}

// Pipeline is one SQL file that builds one table.
type Pipeline struct {
	ID         rat.TableID
	Aliases    []string // other names ref() accepts, from @name (never a rename)
	Layout     Layout
	File       string // the SQL file, workspace-relative with '/' separators
	ConfigFile string // the YAML file, or ""
	SQL        string // the SQL file as written (header included)
	Config     Config // annotations and YAML merged (annotations win)

	QualityTests []*QualityTest
	UnitTests    []*UnitTest
	Mocks        []*MockFile

	// Refs are the tables the SQL reads through ref(), in either incremental
	// mode, sorted: pipelines of this workspace and tables of the catalog.
	Refs []rat.TableID
	// Landings are the landing zones the SQL reads through landing()/source().
	Landings []string
	// Hash is a sha256 (hex) over the SQL, config and test files: it changes
	// when any of them does (state:modified).
	Hash string

	ws      *Workspace
	refLine map[rat.TableID]int // first line that refs each table, for messages
}

// Config is a pipeline's settings: SQL header annotations merged with its
// YAML file.
type Config struct {
	Description   string
	Owner         Owner
	Materialized  Materialization // default table
	UniqueKey     []string
	PartitionBy   []Partition
	PartitionFrom string        // where PartitionBy is set, as file:line: key (the pipeline's, or its layer's in workspace.yaml)
	MergeStrategy MergeStrategy // incremental only: default merge with a unique key, append without
	// SortBy orders the rows of the files rat optimize writes (helps
	// DuckDB skip row groups); SortFrom is where it is set (file:line).
	SortBy          []string
	SortFrom        string
	WatermarkColumn string
	OnSchemaChange  string   // fail (default) | append_new_columns
	Tags            []string // @tags, tags and documentation.tags together, sorted
	Columns         []Column
	Freshness       Freshness
	Tests           []*CustomTest
	Triggers        []Trigger
	Documentation   Documentation
	Retries         int
	RetryDelay      time.Duration
	OnBadRows       string         // reject (default) | quarantine
	Overlap         string         // queue (default) | skip: a run while another run builds it on the same branch
	Vars            map[string]any // var() values of this pipeline (over workspace.yaml's)
	// RetentionDays: rows older than this many days are deleted by rat
	// maintain retention (nil = the layer's layers.<layer>.retention_days).
	RetentionDays *int
	// RetentionColumn is the date or timestamp column retention measures
	// ("" = the layer's retention_column, else the default).
	RetentionColumn string
	// RetentionFrom and RetentionColumnFrom say where those are set
	// (file:line: key); "" when not set in the pipeline.
	RetentionFrom, RetentionColumnFrom string
}

// Owner is who answers for a pipeline: a plain name (owner: x, @owner: x)
// and/or the contact details of the mapping form.
type Owner struct {
	Name  string
	Team  string
	Email string
	Slack string
}

// String returns the first of Name, Team, Email and Slack that is set.
func (o Owner) String() string {
	for _, s := range []string{o.Name, o.Team, o.Email, o.Slack} {
		if s != "" {
			return s
		}
	}
	return ""
}

// Partition is one partition field: a column and its Iceberg transform.
type Partition = rat.Partition

// Column documents one output column and carries its tests.
type Column struct {
	Name        string
	Type        string
	Description string
	PII         bool
	PIIType     string
	Example     string
	Tests       []ColumnTest
	Line        int // in the config file
}

// Column test kinds.
const (
	NotNull        = "not_null"
	Unique         = "unique"
	Positive       = "positive"
	AcceptedValues = "accepted_values"
	Relationships  = "relationships"
)

// ColumnTest is one test of a column, compiled to SQL by the test runner.
type ColumnTest struct {
	Kind   string      // not_null, unique, positive, accepted_values, relationships
	Values []any       // accepted_values
	To     rat.TableID // relationships: the referenced table
	Field  string      // relationships: the referenced column
	Line   int         // in the config file
}

// Freshness is how old a table may get before it warns or fails.
type Freshness struct {
	WarnAfter  time.Duration // 0 = not set
	ErrorAfter time.Duration // 0 = not set
}

// Trigger is one entry of triggers[]: its type and the raw mapping, kept for
// the scheduler. The original Ratatouille's s3_sensor is read as landing.
type Trigger struct {
	Type string // schedule, landing, webhook, after or freshness
	// Name is the trigger's stable name within its pipeline (its name:,
	// or its type and a hash of its defining fields): its state in the
	// catalog is keyed by it, never by its place in the list.
	Name      string
	Raw       map[string]any
	Line      int
	Freshness Freshness // of a freshness trigger
}

// Documentation is the documentation block of a pipeline's YAML.
type Documentation struct {
	Tags  []string
	Rules []Rule
}

// Rule is a documented business rule.
type Rule struct {
	Name        string
	Description string
	SQL         string
}

// Render renders the pipeline's SQL for one run. The header annotations stay
// in the result as SQL comments. Errors name the file and the line of the
// original file.
func (p *Pipeline) Render(rc RenderContext) (string, error) {
	if rc.This == "" {
		rc.This = quoteTable(p.ID)
	}
	return p.ws.render(p, p.File, p.SQL, 0, rc)
}

// IsIncremental reports whether the pipeline is materialized incrementally.
func (p *Pipeline) IsIncremental() bool { return p.Config.Materialized == Incremental }

// HasTag reports whether the pipeline carries tag.
func (p *Pipeline) HasTag(tag string) bool { return contains(p.Config.Tags, tag) }

func quoteTable(id rat.TableID) string {
	return `"` + id.Layer + `"."` + id.Name + `"`
}
