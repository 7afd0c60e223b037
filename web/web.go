// Package web holds the browser UI's files: HTML templates and static
// assets (CSS, hand-written JavaScript), embedded in the binary so that
// building rat needs no Node toolchain (DESIGN D12). It only embeds; the
// handlers that serve these files live in internal/web.
//
// The files sit here, at the repository root, rather than inside
// internal/web because go:embed cannot reach a parent directory, and the
// design's layout keeps UI assets in web/ where a front-end contributor
// finds them without reading Go.
package web

import "embed"

// FS holds templates/*.html and static/*.
//
//go:embed templates static
var FS embed.FS
