package rat

import "strings"

// Names rat keeps for itself (DESIGN D21): the _rat layer holds rat's own
// tables, and the run/ and ingest/ branch prefixes name the branches rat
// makes for its own work. Users read them; only rat writes them.

// InternalLayer is the layer of rat's own tables, such as the landing file
// registry _rat.landing_files.
const InternalLayer = "_rat"

// Internal reports whether t is one of rat's own tables (layer _rat).
func (t TableID) Internal() bool { return strings.EqualFold(t.Layer, InternalLayer) }

// InternalTableError is the error for a write into one of rat's own
// tables by anything but rat.
func InternalTableError(t TableID) error {
	return Errorf(EINVALID, "table %s is read-only: the %s layer holds rat's own tables (the landing file registry) and only rat writes them; write to another layer, for example bronze.%s",
		t, InternalLayer, t.Name)
}

// Prefixes of the branches rat makes for its own work.
const (
	RunBranchPrefix    = "run/"    // run/<id>: a pipeline run writes and tests here
	IngestBranchPrefix = "ingest/" // ingest/<id>: rat ingest stages files here
)

// RunBranch is the branch a run with the given id writes to.
func RunBranch(id string) string { return RunBranchPrefix + id }

// IngestBranch is the branch an ingestion with the given id stages on.
func IngestBranch(id string) string { return IngestBranchPrefix + id }

// ReservedRefName reports whether name starts with a prefix rat keeps for
// its own branches (in any case: Run/x would only confuse).
func ReservedRefName(name string) bool {
	lower := strings.ToLower(name)
	return strings.HasPrefix(lower, RunBranchPrefix) || strings.HasPrefix(lower, IngestBranchPrefix)
}

// ValidateUserRefName is ValidateRefName for a ref a user creates: the
// prefixes rat keeps for its own branches are refused too, so that
// 'rat run --cleanup' can never delete a user's branch.
func ValidateUserRefName(name string, kind RefKind) error {
	if err := ValidateRefName(name); err != nil {
		return err
	}
	if ReservedRefName(name) {
		return ReservedRefError(name, kind)
	}
	return nil
}

const reservedWhy = "rat names its own branches run/<id> (pipeline runs) and ingest/<id> (rat ingest), and 'rat run --cleanup' deletes them"

// ReservedRefError refuses a new branch or tag with a reserved name.
func ReservedRefError(name string, kind RefKind) error {
	_, rest, _ := strings.Cut(name, "/")
	return Errorf(EINVALID, "%s name %q is reserved: %s; pick another name, for example dev/%s", kind, name, reservedWhy, rest)
}

// ReservedTargetError refuses to write into a branch with a reserved name
// anything but what rat itself puts there (a merge, a run's publish).
func ReservedTargetError(name, action string) error {
	return Errorf(EINVALID, "cannot %s %s: the name is reserved (%s); %s another branch", action, name, reservedWhy, action)
}
