package migrate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/ratdata/rat"
	"github.com/ratdata/rat/internal/objstore"
	"github.com/twmb/avro/ocf"
)

// Iceberg files hold full locations of the root they were written under.
// At the target, rat itself would find the files anyway (the copied
// rat-warehouse.json lists the source's roots), but another engine reads
// the locations as they are. So metadata JSON, manifest lists and
// manifests are rewritten as they are copied: every location under a root
// of the source names the same key under the target's root. The rewrite is
// deterministic (the same source file gives the same bytes), so a rerun
// recognises a rewritten file already at the target.

// maxRewriteBytes caps a metadata file or manifest held in memory to be
// rewritten (they are kilobytes to a few megabytes).
const maxRewriteBytes = 256 << 20

// rewriter maps locations under the source's roots to the target's root.
type rewriter struct {
	from []string // roots, without a trailing slash, longest first
	to   string
	id   string // names the mapping (journal records carry it)
}

// newRewriter maps the source's current root and every root its
// rat-warehouse.json lists to the target's root.
func newRewriter(ctx context.Context, src, dst objstore.Store) (*rewriter, error) {
	roots, err := objstore.NewLocations(src).Roots(ctx)
	if err != nil {
		return nil, err
	}
	r := &rewriter{to: root(dst)}
	for _, x := range append(roots, root(src)) {
		if x != r.to && !slices.Contains(r.from, x) {
			r.from = append(r.from, x)
		}
	}
	slices.SortStableFunc(r.from, func(a, b string) int { return len(b) - len(a) })
	h := sha256.Sum256([]byte(strings.Join(append(slices.Clone(r.from), "→", r.to), "\n")))
	r.id = hex.EncodeToString(h[:8])
	return r, nil
}

// fingerprint names the mapping applied to the file at key: "" when the
// file is copied as it is. A record of a rewritten file holds for the
// same mapping only (the source's roots may have changed since).
func (r *rewriter) fingerprint(key string) string {
	if !r.applies(key) {
		return ""
	}
	return r.id
}

// applies reports whether the file at key is rewritten: Iceberg metadata
// JSON, manifest lists and manifests (Avro files in a metadata directory).
func (r *rewriter) applies(key string) bool {
	if r == nil {
		return false
	}
	return strings.HasSuffix(key, ".metadata.json") ||
		(strings.HasSuffix(key, ".avro") && strings.Contains(key, "/metadata/"))
}

// location maps one location.
func (r *rewriter) location(s string) (string, bool) {
	for _, from := range r.from {
		if rest, ok := strings.CutPrefix(s, from+"/"); ok {
			return r.to + "/" + rest, true
		}
	}
	return s, false
}

// rewrite returns the content of key at the target.
func (r *rewriter) rewrite(key string, data []byte) ([]byte, error) {
	if strings.HasSuffix(key, ".avro") {
		return r.avro(data)
	}
	return r.json(data), nil
}

// json replaces every JSON string that starts with a source root (as
// encoded with or without HTML escaping); the rest of the file keeps its
// bytes.
func (r *rewriter) json(data []byte) []byte {
	for _, html := range []bool{true, false} {
		to := jsonString(r.to, html)
		for _, from := range r.from {
			data = bytes.ReplaceAll(data, []byte(`"`+jsonString(from, html)+`/`), []byte(`"`+to+`/`))
		}
	}
	return data
}

// jsonString is s as encoded inside a JSON string (without the quotes).
func jsonString(s string, escapeHTML bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// avro decodes an Avro object container file, maps every string value that
// is a location and writes it again with the same schema text, metadata
// and codec. Its sync marker derives from the source's bytes.
func (r *rewriter) avro(data []byte) ([]byte, error) {
	rd, err := ocf.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	meta := rd.Metadata()
	var codec ocf.Codec
	switch c := string(meta["avro.codec"]); c {
	case "", "null":
	case "deflate":
		codec = ocf.DeflateCodec(-1)
	case "snappy":
		codec = ocf.SnappyCodec()
	default:
		return nil, fmt.Errorf("avro codec %q is not supported", c)
	}
	keep := map[string][]byte{}
	for _, k := range slices.Sorted(maps.Keys(meta)) {
		if !strings.HasPrefix(k, "avro.") {
			keep[k] = meta[k]
		}
	}
	var sync [16]byte
	sum := sha256.Sum256(data)
	copy(sync[:], sum[:16])
	opts := []ocf.WriterOpt{ocf.WithMetadata(keep), ocf.WithSyncMarker(sync), ocf.WithSchema(string(meta["avro.schema"]))}
	if codec != nil {
		opts = append(opts, ocf.WithCodec(codec))
	}
	var out bytes.Buffer
	wr, err := ocf.NewWriter(&out, rd.Schema(), opts...)
	if err != nil {
		return nil, err
	}
	for {
		var v any
		if err := rd.Decode(&v); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, err
		}
		if err := wr.Encode(r.walk(v)); err != nil {
			return nil, err
		}
	}
	if err := wr.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// walk maps the locations in a decoded Avro value.
func (r *rewriter) walk(v any) any {
	switch x := v.(type) {
	case string:
		s, _ := r.location(x)
		return s
	case map[string]any:
		for k, e := range x {
			x[k] = r.walk(e)
		}
	case []any:
		for i, e := range x {
			x[i] = r.walk(e)
		}
	}
	return v
}

// rewritten reads a source file to be rewritten and returns the target's
// content and the SHA-256 of the source's.
func (r *rewriter) rewritten(ctx context.Context, src objstore.Store, f objstore.Info) ([]byte, string, error) {
	if f.Size > maxRewriteBytes {
		return nil, "", rat.Errorf(rat.EINVALID, "%s is %d bytes: metadata files and manifests over %d bytes are not rewritten", f.Key, f.Size, maxRewriteBytes)
	}
	in, err := src.Open(ctx, f.Key)
	if err != nil {
		return nil, "", fmt.Errorf("read %s from the source: %w", f.Key, err)
	}
	defer in.Close()
	data, err := io.ReadAll(io.LimitReader(in, maxRewriteBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("read %s from the source: %w", f.Key, err)
	}
	sum := sha256.Sum256(data)
	out, err := r.rewrite(f.Key, data)
	if err != nil {
		return nil, "", rat.Errorf(rat.EINVALID, "rewrite the locations in %s: %v", f.Key, err)
	}
	return out, hex.EncodeToString(sum[:]), nil
}
