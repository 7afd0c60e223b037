package objstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"syscall"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"github.com/minio/minio-go/v7/pkg/s3utils"
	"github.com/ratdata/rat"
)

// S3Config configures an S3 store. Its String, GoString and LogValue methods
// never show SecretKey.
type S3Config struct {
	// Endpoint is the service URL, "http://127.0.0.1:9000" or
	// "https://s3.amazonaws.com" (the default when empty); the scheme decides TLS.
	Endpoint string
	// Region is the bucket's region; empty lets the client discover it.
	Region string
	// AccessKey and SecretKey are static credentials. When both are empty
	// the AWS/MinIO environment variables, the AWS credentials file and the
	// instance/pod role are tried in that order.
	AccessKey, SecretKey string
	// Bucket holds the store; Prefix is the store's root inside it ("" or "a/b/").
	Bucket, Prefix string
	// PathStyle is "auto" (or empty), "path" or "virtual": how the bucket is
	// addressed in request URLs.
	PathStyle string
}

// String describes the config without the secret key.
func (c S3Config) String() string {
	secret := ""
	if c.SecretKey != "" {
		secret = "[redacted]"
	}
	return fmt.Sprintf("S3Config{Endpoint:%s Region:%s AccessKey:%s SecretKey:%s Bucket:%s Prefix:%s PathStyle:%s}",
		c.Endpoint, c.Region, c.AccessKey, secret, c.Bucket, c.Prefix, c.PathStyle)
}

// UsesPathStyle reports whether the store addresses its bucket in the URL
// path (http://host/bucket/key) rather than the host name, as the store
// does: "path" and "virtual" say so, "auto" picks the host name for the
// endpoints that support it (AWS, Google, Aliyun) and the path elsewhere
// (MinIO and other S3-compatible stores).
func (c S3Config) UsesPathStyle() bool {
	switch c.PathStyle {
	case "path":
		return true
	case "virtual":
		return false
	}
	u, err := url.Parse(c.Endpoint)
	if err != nil || u.Host == "" {
		return true
	}
	return !s3utils.IsVirtualHostSupported(*u, c.Bucket)
}

// GoString is String, so that %#v does not print the secret either.
func (c S3Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer without the secret key.
func (c S3Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint), slog.String("region", c.Region),
		slog.String("access_key", c.AccessKey), slog.String("bucket", c.Bucket),
		slog.String("prefix", c.Prefix), slog.String("path_style", c.PathStyle))
}

// ParseS3URL splits "s3://bucket/prefix/" into a bucket and a prefix that is
// empty or ends with "/". "s3a://" is accepted too.
func ParseS3URL(s string) (bucket, prefix string, err error) {
	rest, ok := strings.CutPrefix(s, "s3://")
	if !ok {
		rest, ok = strings.CutPrefix(s, "s3a://")
	}
	if !ok {
		return "", "", rat.Errorf(rat.EINVALID, "S3 location %q: want s3://bucket/prefix/", s)
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	if bucket == "" {
		return "", "", rat.Errorf(rat.EINVALID, "S3 location %q has no bucket: want s3://bucket/prefix/", s)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return "", "", rat.Errorf(rat.EINVALID, "S3 location %q: bad prefix: %s", s, rat.ErrorMessage(err))
		}
		prefix += "/"
	}
	return bucket, prefix, nil
}

// S3 is a Store in a bucket (under a prefix) of any S3-compatible service.
// S3 PUTs are atomic: readers see the old or the whole new object.
type S3 struct {
	client   *minio.Client
	bucket   string
	prefix   string // "" or ends with "/"
	region   string
	endpoint string // for messages; never holds credentials
}

var (
	_ Store      = (*S3)(nil)
	_ InfoPutter = (*S3)(nil)
)

// unknownSizePart bounds the memory of an upload of unknown size (minio-go
// would otherwise buffer ~537 MiB parts); it allows objects up to 160 GB.
const unknownSizePart = 16 << 20

// maxStreamedPut is the largest stream of known size Put sends in one
// request (S3's limit for a single PUT); larger ones go in parts.
const maxStreamedPut = 5 << 30

// NewS3 returns a store for cfg. It does not contact the service: the first
// operation does (EnsureBucket is a good first call).
func NewS3(ctx context.Context, cfg S3Config) (*S3, error) {
	endpoint := cfg.Endpoint
	if endpoint == "" {
		endpoint = "https://s3.amazonaws.com"
	}
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.User != nil {
		return nil, rat.Errorf(rat.EINVALID,
			"S3 endpoint %q: want a URL such as http://127.0.0.1:9000 or https://s3.amazonaws.com (scheme, host and optional port only)",
			redactURL(endpoint))
	}
	if cfg.Bucket == "" {
		return nil, rat.Errorf(rat.EINVALID, "S3 store at %s: bucket is empty: set the bucket (s3://bucket/prefix/)", u.Host)
	}
	if err := s3utils.CheckValidBucketNameStrict(cfg.Bucket); err != nil {
		return nil, rat.Errorf(rat.EINVALID, "S3 bucket %q: %v: use 3-63 lowercase letters, digits, dots and hyphens", cfg.Bucket, err)
	}
	prefix := strings.TrimPrefix(cfg.Prefix, "/")
	if prefix != "" {
		prefix = strings.TrimSuffix(prefix, "/")
		if err := ValidateKey(prefix); err != nil {
			return nil, rat.Errorf(rat.EINVALID, "S3 prefix %q: %s", cfg.Prefix, rat.ErrorMessage(err))
		}
		prefix += "/"
	}
	lookup := minio.BucketLookupAuto
	switch cfg.PathStyle {
	case "", "auto":
	case "path":
		lookup = minio.BucketLookupPath
	case "virtual":
		lookup = minio.BucketLookupDNS
	default:
		return nil, rat.Errorf(rat.EINVALID, "S3 path style %q: want auto, path or virtual", cfg.PathStyle)
	}
	var creds *credentials.Credentials
	switch {
	case cfg.AccessKey != "" && cfg.SecretKey != "":
		creds = credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, "")
	case cfg.AccessKey != "" || cfg.SecretKey != "":
		return nil, rat.Errorf(rat.EINVALID, "S3 store at %s: set both the access key and the secret key, or neither", u.Host)
	default:
		creds = credentials.NewChainCredentials([]credentials.Provider{
			&credentials.EnvAWS{}, &credentials.EnvMinio{}, &credentials.FileAWSCredentials{},
			&credentials.IAM{Client: &http.Client{Transport: http.DefaultTransport}},
		})
	}
	client, err := minio.New(u.Host, &minio.Options{
		Creds:        creds,
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
	})
	if err != nil {
		return nil, rat.Errorf(rat.EINVALID, "S3 endpoint %s: %w", u.Host, err)
	}
	return &S3{
		client:   client,
		bucket:   cfg.Bucket,
		prefix:   prefix,
		region:   cfg.Region,
		endpoint: u.Scheme + "://" + u.Host,
	}, nil
}

// EnsureBucket creates the bucket when it does not exist yet.
func (s *S3) EnsureBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.mapErr("check bucket", "", err)
	}
	if ok {
		return nil
	}
	err = s.client.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{Region: s.region})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == minio.BucketAlreadyOwnedByYou || code == "BucketAlreadyExists" {
			// Created concurrently; BucketAlreadyExists means someone else
			// owns it, which the next operation reports as access denied.
			return nil
		}
		return s.mapErr("create bucket", "", err)
	}
	return nil
}

// CheckBucket fails with a clear rat.ENOTFOUND error when the bucket does
// not exist (rat migrate never creates a target bucket: a typo would
// otherwise create a stray one); unreachable endpoints and rejected
// credentials fail as every other operation does.
func (s *S3) CheckBucket(ctx context.Context) error {
	ok, err := s.client.BucketExists(ctx, s.bucket)
	if err != nil {
		return s.mapErr("check bucket", "", err)
	}
	if !ok {
		return rat.Errorf(rat.ENOTFOUND, "bucket %q does not exist at %s: create it first (for example 'mc mb ALIAS/%s') or fix the bucket name",
			s.bucket, s.endpoint, s.bucket)
	}
	return nil
}

func (s *S3) objectName(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return s.prefix + key, nil
}

// Put implements Store.
func (s *S3) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := s.PutInfo(ctx, key, r, size)
	return err
}

// PutInfo implements InfoPutter: Put, and the stored object's size and
// ETag from the service's answer.
func (s *S3) PutInfo(ctx context.Context, key string, r io.Reader, size int64) (Info, error) {
	name, err := s.objectName(key)
	if err != nil {
		return Info{}, err
	}
	if err := checkSize(r, size); err != nil {
		return Info{}, fmt.Errorf("put %s: %w", s.URL(key), err)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	_, readerAt := r.(io.ReaderAt)
	switch {
	case size < 0:
		opts.PartSize = unknownSizePart
	case !readerAt && size <= maxStreamedPut:
		// One PUT streams the body in 64 KiB signed chunks: no part is
		// buffered (a multipart upload of a stream holds a whole part in
		// memory for each upload at once).
		opts.DisableMultipart = true
	}
	up, err := s.client.PutObject(ctx, s.bucket, name, r, size, opts)
	if err != nil {
		return Info{}, s.mapErr("put", key, err)
	}
	return Info{Key: key, Size: up.Size, ModTime: up.LastModified, ETag: up.ETag}, nil
}

// checkSize compares size with what a seekable reader holds, so that a wrong
// size fails at once instead of after the client's retries.
func checkSize(r io.Reader, size int64) error {
	sk, ok := r.(io.Seeker)
	if !ok || size < 0 {
		return nil
	}
	cur, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not really seekable (a pipe): let the upload decide
	}
	end, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return nil
	}
	if _, err := sk.Seek(cur, io.SeekStart); err != nil {
		return fmt.Errorf("rewind reader: %w", err)
	}
	if end-cur != size {
		return fmt.Errorf("reader holds %d bytes, want %d", end-cur, size)
	}
	return nil
}

// PutFile implements Store.
func (s *S3) PutFile(ctx context.Context, key, localPath string) error {
	name, err := s.objectName(key)
	if err != nil {
		return err
	}
	if _, err := os.Stat(localPath); err != nil {
		return fmt.Errorf("put %s from %s: %w", key, localPath, err)
	}
	opts := minio.PutObjectOptions{ContentType: "application/octet-stream"}
	if _, err := s.client.FPutObject(ctx, s.bucket, name, localPath, opts); err != nil {
		return s.mapErr("put", key, err)
	}
	return nil
}

// Open implements Store. The returned File reads the version of the object
// that existed at Open: if the key is overwritten meanwhile, reads fail
// instead of mixing two versions.
func (s *S3) Open(ctx context.Context, key string) (File, error) {
	name, err := s.objectName(key)
	if err != nil {
		return nil, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return nil, s.mapErr("open", key, err)
	}
	opts := minio.GetObjectOptions{}
	if info.ETag != "" {
		if err := opts.SetMatchETag(info.ETag); err != nil {
			return nil, fmt.Errorf("open %s: %w", s.URL(key), err)
		}
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, s.mapErr("open", key, err)
	}
	return &s3File{obj: obj, size: info.Size, key: key, s: s}, nil
}

// Stat implements Store.
func (s *S3) Stat(ctx context.Context, key string) (Info, error) {
	name, err := s.objectName(key)
	if err != nil {
		return Info{}, err
	}
	info, err := s.client.StatObject(ctx, s.bucket, name, minio.StatObjectOptions{})
	if err != nil {
		return Info{}, s.mapErr("stat", key, err)
	}
	return Info{Key: key, Size: info.Size, ModTime: info.LastModified, ETag: info.ETag}, nil
}

// List implements Store.
func (s *S3) List(ctx context.Context, prefix string) ([]Info, error) {
	if err := validatePrefix(prefix); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops the listing goroutine on an early return
	out := []Info{}
	for obj := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Prefix: s.prefix + prefix, Recursive: true}) {
		if obj.Err != nil {
			return nil, s.mapErr("list", prefix, obj.Err)
		}
		key := strings.TrimPrefix(obj.Key, s.prefix)
		if ValidateKey(key) != nil {
			continue // directory markers ("a/") and names rat cannot address
		}
		out = append(out, Info{Key: key, Size: obj.Size, ModTime: obj.LastModified, ETag: obj.ETag})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Delete implements Store.
func (s *S3) Delete(ctx context.Context, key string) error {
	name, err := s.objectName(key)
	if err != nil {
		return err
	}
	err = s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{})
	if err != nil && minio.ToErrorResponse(err).Code != minio.NoSuchKey {
		return s.mapErr("delete", key, err)
	}
	return nil
}

// URL implements Store: "s3://bucket/prefix/key".
func (s *S3) URL(key string) string { return "s3://" + s.bucket + "/" + s.prefix + key }

// Key implements Store. It accepts s3:// and s3a:// locations.
func (s *S3) Key(location string) (string, bool) {
	rest, ok := strings.CutPrefix(location, "s3://")
	if !ok {
		rest, ok = strings.CutPrefix(location, "s3a://")
	}
	if !ok {
		return "", false
	}
	rest, ok = strings.CutPrefix(rest, s.bucket+"/"+s.prefix)
	if !ok || ValidateKey(rest) != nil {
		return "", false
	}
	return rest, true
}

// LocalPath implements Store: S3 objects are never on local disk.
func (s *S3) LocalPath(string) (string, bool) { return "", false }

// mapErr turns a minio-go error into rat's vocabulary. Messages name the
// endpoint, bucket and key, never credentials.
func (s *S3) mapErr(op, key string, err error) error {
	where := s.URL(key)
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s %s: %w", op, where, err)
	}
	resp := minio.ToErrorResponse(err)
	switch resp.Code {
	case minio.NoSuchKey:
		return notFound(key, "s3://"+s.bucket+"/"+s.prefix)
	case minio.NoSuchBucket:
		return rat.Errorf(rat.ENOTFOUND, "%s %s: bucket %q does not exist at %s: create it or fix the bucket name: %w",
			op, where, s.bucket, s.endpoint, err)
	case minio.AccessDenied, minio.InvalidAccessKeyID, minio.SignatureDoesNotMatch, "InvalidToken", "ExpiredToken":
		return rat.Errorf(rat.EUNAUTHORIZED, "%s %s: %s rejected the credentials (%s): check the S3 access key and secret key: %w",
			op, where, s.endpoint, resp.Code, err)
	case "SlowDown", "ServiceUnavailable", "XMinioServerNotInitialized":
		return rat.Errorf(rat.EUNAVAILABLE, "%s %s: S3 endpoint %s is busy or starting (%s); retry later: %w",
			op, where, s.endpoint, resp.Code, err)
	}
	if resp.Code == "" && isNetErr(err) {
		return rat.Errorf(rat.EUNAVAILABLE, "%s %s: cannot reach S3 endpoint %s: check that it runs and the endpoint URL: %w",
			op, where, s.endpoint, err)
	}
	return fmt.Errorf("%s %s: %w", op, where, err)
}

// isNetErr reports whether err means the service could not be reached or
// dropped the connection, as opposed to a request the client got wrong (a
// body shorter than its announced size also surfaces as a *net.OpError).
func isNetErr(err error) bool {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		return true
	}
	var dns *net.DNSError
	var ne net.Error
	return errors.As(err, &dns) ||
		(errors.As(err, &ne) && ne.Timeout()) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), " is offline.") // minio-go's health check marked the endpoint down
}

// redactURL drops user info from an endpoint for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		if i := strings.Index(s, "@"); i >= 0 {
			return "[redacted]" + s[i:]
		}
		return s
	}
	u.User = nil
	return u.String()
}

// s3File is an open S3 object. Sequential reads stream one GET; ReadAt issues
// ranged GETs.
type s3File struct {
	obj  *minio.Object
	size int64
	key  string
	s    *S3
}

func (f *s3File) Size() int64 { return f.size }

func (f *s3File) Read(p []byte) (int, error) {
	n, err := f.obj.Read(p)
	return n, f.wrap("read", err)
}

func (f *s3File) ReadAt(p []byte, off int64) (int, error) {
	if off >= f.size && len(p) > 0 {
		return 0, io.EOF
	}
	n, err := f.obj.ReadAt(p, off)
	if err == nil && n < len(p) {
		err = io.EOF
	}
	return n, f.wrap("read", err)
}

func (f *s3File) Seek(offset int64, whence int) (int64, error) {
	n, err := f.obj.Seek(offset, whence)
	return n, f.wrap("seek", err)
}

func (f *s3File) Close() error { return f.obj.Close() }

func (f *s3File) wrap(op string, err error) error {
	if err == nil || err == io.EOF {
		return err
	}
	if minio.ToErrorResponse(err).Code == "PreconditionFailed" {
		return rat.Errorf(rat.ECONFLICT, "%s %s: the object changed while it was open: reopen it: %w", op, f.s.URL(f.key), err)
	}
	return f.s.mapErr(op, f.key, err)
}
