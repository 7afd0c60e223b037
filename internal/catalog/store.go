// Package catalog is rat's versioned catalog: branches and tags over a history
// of multi-table commits, with Nessie's semantics, stored in SQL (see the
// sqlite and postgres adapters). Tables are Iceberg tables; the catalog keeps,
// per commit, which Iceberg metadata file each table points at.
package catalog

import (
	"context"

	"github.com/ratdata/rat"
)

// Store persists refs, commits and table entries. The SQLite and Postgres
// adapters implement it; catalogtest.Run is the conformance suite both pass.
//
// Every method is safe for concurrent use, across goroutines and processes.
// Errors carry rat codes: ENOTFOUND for a missing ref, commit or table,
// ECONFLICT for a lost race (a table moved, a ref already exists, a ref head
// moved), EINVALID for bad names, EUNAVAILABLE when the database cannot be
// reached.
type Store interface {
	// Ref returns the named branch or tag.
	Ref(ctx context.Context, name string) (rat.Ref, error)
	// Refs lists all refs, sorted by name.
	Refs(ctx context.Context) ([]rat.Ref, error)
	// CreateRef creates a branch or tag pointing at ref.Head, an existing commit
	// given by its full id (resolve short ids with GetCommit first); the new
	// ref sees the tables of that commit. ECONFLICT if a ref of that name
	// exists.
	CreateRef(ctx context.Context, ref rat.Ref) error
	// DeleteRef removes a ref (its commits stay in history). The default
	// branch cannot be deleted (EINVALID).
	DeleteRef(ctx context.Context, name string) error
	// MoveRef sets a branch's head to newHead if its head is still expectedHead
	// (compare-and-swap; ECONFLICT otherwise). Used for fast-forward merges.
	// newHead is a full commit id; tags cannot be moved (EINVALID).
	MoveRef(ctx context.Context, name, expectedHead, newHead string) error

	// Commit appends one commit to a branch atomically (see CommitRequest).
	Commit(ctx context.Context, req CommitRequest) (rat.Commit, error)

	// Tables lists the tables at the head of a ref, sorted by identifier.
	Tables(ctx context.Context, ref string) ([]rat.TableEntry, error)
	// Table returns one table at the head of a ref (ENOTFOUND if absent).
	Table(ctx context.Context, ref string, id rat.TableID) (rat.TableEntry, error)
	// TablesAt lists the tables as of any commit (full id), sorted by
	// identifier.
	TablesAt(ctx context.Context, commitID string) ([]rat.TableEntry, error)

	// GetCommit returns one commit with its changes. A unique prefix of at
	// least 6 characters of the id is accepted.
	GetCommit(ctx context.Context, id string) (rat.Commit, error)
	// Log returns the ancestors of head (a full id; head included, merges'
	// second parents included), each once, newest first, at most limit
	// (0 = all), with parents and changes.
	Log(ctx context.Context, head string, limit int) ([]rat.Commit, error)
	// MergeBase returns the newest common ancestor of two commits (full ids).
	MergeBase(ctx context.Context, a, b string) (string, error)

	// Close releases the database.
	Close() error
}

// CommitRequest asks for one atomic commit on a branch.
//
// The commit lands on the branch's current head (not necessarily the head the
// writer started from) as long as every table it changes is still where the
// writer saw it: for each change, the table's entry at the head must equal
// Change.Expected. Otherwise nothing is written and the error is ECONFLICT,
// naming each table that moved.
type CommitRequest struct {
	Branch  string
	Author  string
	Message string
	Changes []Change
	// ExpectedHead, when set, additionally requires the branch head to be this
	// commit (merges use it).
	ExpectedHead string
	// MergeParent, when set, is recorded as the commit's second parent.
	MergeParent string
}

// Change is one table's update inside a commit.
type Change struct {
	Table rat.TableID
	// Expected is the metadata location the writer based its change on; ""
	// means the table must not exist on the branch yet.
	Expected string
	// Metadata is the new metadata location; "" drops the table.
	Metadata string
}
