package rat

import (
	"errors"
	"fmt"
)

// Error codes. They classify failures for exit statuses, HTTP statuses and retries;
// the message tells a person what happened.
const (
	EINVALID      = "invalid"      // bad input: the caller can fix it
	ENOTFOUND     = "not_found"    // a named thing does not exist
	ECONFLICT     = "conflict"     // a concurrent change won; reload and retry, or merge
	EUNAVAILABLE  = "unavailable"  // a backing service cannot be reached
	EUNAUTHORIZED = "unauthorized" // missing or wrong credentials
	EINTERNAL     = "internal"     // a bug or an unexpected state
	ETESTFAILED   = "tests_failed" // error-severity data tests failed; nothing was published
)

// Error is rat's application error: a code for machines and a message for people.
// Messages must be safe to show to a user (no secrets) and should say what went
// wrong, where, and how to fix it.
type Error struct {
	Code    string
	Message string
	Err     error // optional cause, for errors.Is/As; not shown to users
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and a formatted message.
// A %w verb keeps the cause reachable through errors.Is/As.
func Errorf(code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Message: err.Error(), Err: errors.Unwrap(err)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing text of err: the outer context of the
// wrapping chain down to and including the first *Error's message.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// IsCode reports whether err carries the given code.
func IsCode(err error, code string) bool { return ErrorCode(err) == code }

// Closest returns the candidate nearest to s within an edit distance of 2,
// or "" when none is that close: the "did you mean" of error messages.
func Closest(s string, candidates []string) string {
	best, bestDist := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
