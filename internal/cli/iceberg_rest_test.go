package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/apache/iceberg-go"
	"github.com/apache/iceberg-go/catalog/rest"
	_ "github.com/apache/iceberg-go/io/gocloud/s3" // iceberg-go reads s3:// files itself
	"github.com/apache/iceberg-go/table"
	"github.com/ratdata/rat/internal/icebergrest/resttest"
)

// envValue is the value of a variable in the user's environment.
func (u *ratUser) envValue(key string) string {
	for _, kv := range u.env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			return v
		}
	}
	return ""
}

// TestIcebergRESTServe: a real rat serve, on a local warehouse and on
// Postgres + MinIO, serves its tables through the Iceberg REST catalog;
// iceberg-go's REST client loads a table and its own scan reads the rows
// (on S3 with the endpoint and path style the server hands out and
// credentials of the client's own: the server vends none), then appends on
// a branch through the catalog: a rat commit there.
func TestIcebergRESTServe(t *testing.T) {
	setups(t, func(t *testing.T, u *ratUser) {
		u.write("sales.csv", "id,amount\n1,10\n2,20\n3,\n")
		u.ok("load", "sales.csv", "--into", "bronze.sales")
		base := startServe(t, u)

		resp, err := http.Get(base + "/iceberg/v1/main/namespaces/bronze/tables/sales")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		var loaded struct {
			MetadataLocation string            `json:"metadata-location"`
			Config           map[string]string `json:"config"`
		}
		if err := json.Unmarshal(body, &loaded); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("load table: %d %s", resp.StatusCode, body)
		}
		props := iceberg.Properties{}
		if endpoint := u.envValue("S3_ENDPOINT"); endpoint != "" {
			c := loaded.Config
			if !strings.HasPrefix(loaded.MetadataLocation, "s3://") || c["s3.endpoint"] != endpoint || c["s3.region"] != u.envValue("S3_REGION") ||
				c["s3.path-style-access"] != "true" || c["s3.force-virtual-addressing"] != "false" {
				t.Fatalf("S3 table: %s", body)
			}
			for k := range c {
				if strings.Contains(k, "key") || strings.Contains(k, "secret") || strings.Contains(k, "token") {
					t.Fatalf("the server handed out %s: %s", k, body)
				}
			}
			// The client brings its own credentials.
			props["s3.access-key-id"] = u.envValue("S3_ACCESS_KEY")
			props["s3.secret-access-key"] = u.envValue("S3_SECRET_KEY")
		} else if len(loaded.Config) != 0 || !strings.HasPrefix(loaded.MetadataLocation, "file://") {
			t.Fatalf("local table: %s", body)
		}

		// load loads bronze.sales through iceberg-go's REST client on a warehouse.
		load := func(warehouse string) *table.Table {
			cat, err := rest.NewCatalog(t.Context(), "rat", base+"/iceberg", rest.WithWarehouseLocation(warehouse), rest.WithAdditionalProps(props))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cat.Close() })
			tbl, err := cat.LoadTable(t.Context(), table.Identifier{"bronze", "sales"})
			if err != nil {
				t.Fatal(err)
			}
			return tbl
		}
		rows, err := resttest.Rows(t.Context(), load("main"))
		if err != nil {
			t.Fatalf("iceberg-go scan: %v", err)
		}
		if want := []string{"1|10", "2|20", "3|NULL"}; !slices.Equal(rows, want) {
			t.Fatalf("iceberg-go read %v, want %v", rows, want)
		}
		if n := u.count("bronze.sales"); n != "3" {
			t.Fatalf("rat query counts %s", n)
		}

		// An append through the REST catalog on dev: iceberg-go writes the
		// file (on S3 with the client's keys), rat serve commits it; rat
		// log and rat query see it on dev only.
		u.ok("branch", "create", "dev")
		if err := resttest.Append(t.Context(), load("dev"), `[{"id": 4, "amount": 40}]`); err != nil {
			t.Fatalf("append through the REST catalog: %v", err)
		}
		if n := u.count("bronze.sales", "--branch", "dev"); n != "4" {
			t.Fatalf("rat query on dev counts %s", n)
		}
		if n := u.count("bronze.sales"); n != "3" {
			t.Fatalf("rat query on main counts %s", n)
		}
		if log := u.ok("log", "dev", "-n", "1"); !strings.Contains(log, "iceberg REST: commit to bronze.sales") {
			t.Fatalf("rat log dev: %s", log)
		}
	})
}
