package objstore

import "testing"

// TestUsesPathStyle: what the Iceberg REST catalog tells clients matches
// how the store addresses its bucket.
func TestUsesPathStyle(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		endpoint, bucket, style string
		path                    bool
	}{
		{"http://127.0.0.1:9000", "rat", "auto", true}, // MinIO
		{"http://minio:9000", "rat", "", true},         // MinIO by name
		{"https://s3.eu-west-1.amazonaws.com", "rat", "auto", false},
		{"https://s3.eu-west-1.amazonaws.com", "my.bucket", "auto", true}, // dots break TLS on virtual hosts
		{"https://s3.eu-west-1.amazonaws.com", "rat", "path", true},
		{"http://127.0.0.1:9000", "rat", "virtual", false},
	} {
		c := S3Config{Endpoint: tc.endpoint, Bucket: tc.bucket, PathStyle: tc.style}
		if got := c.UsesPathStyle(); got != tc.path {
			t.Errorf("%s bucket %s style %q: path style = %v, want %v", tc.endpoint, tc.bucket, tc.style, got, tc.path)
		}
	}
}
