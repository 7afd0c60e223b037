package ingest

import (
	"cmp"
	"fmt"
	"os"
	"runtime"
	"sync"

	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/metadata"
	"github.com/apache/arrow-go/v18/parquet/schema"
)

// Most Parquet writers, DuckDB's among them, store no page CRCs, and a
// zeroed or overwritten region inside a page of plain-encoded numbers still
// decodes: DuckDB reads it as valid values. The footer's statistics are the
// file's only other record of those values, so checkValues decodes the
// plain-encoded numeric column chunks (INT32, INT64, FLOAT, DOUBLE: integers,
// dates, timestamps, decimals, floats) and checks them against the footer:
// every value of a row group within its [min, max], as many nulls as it
// says. Dictionary-encoded chunks hold indices, which a damaged page turns
// into other valid indices, and strings mostly fail to decode in DuckDB
// anyway: both are left out, which keeps the check at a fraction of a load.

// valueJob is one column chunk to check.
type valueJob struct{ rowGroup, column int }

// checkValues checks the values of a sound file's plain numeric chunks
// against its footer statistics, a row group per worker at a time.
func checkValues(path string, meta *metadata.FileMetaData, sealed map[valueJob]bool) error {
	var jobs []valueJob
	for i := range meta.NumRowGroups() {
		rg := meta.RowGroup(i)
		for j := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(j)
			if err != nil || cc.FilePath() != "" || cc.HasDictionaryPage() || sealed[valueJob{i, j}] {
				continue
			}
			switch cc.Type() {
			case parquet.Types.Int32, parquet.Types.Int64, parquet.Types.Float, parquet.Types.Double:
			default:
				continue
			}
			if st, err := cc.Statistics(); err == nil && st != nil && (st.HasMinMax() || st.HasNullCount()) {
				jobs = append(jobs, valueJob{i, j})
			}
		}
	}
	if len(jobs) == 0 {
		return nil
	}
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Open(path)
			if err != nil {
				for k := range next {
					errs[k] = err
				}
				return
			}
			defer f.Close()
			r, err := file.NewParquetReader(f)
			for k := range next {
				if err != nil {
					errs[k] = err
					continue
				}
				errs[k] = checkChunk(r, jobs[k], path)
			}
		}()
	}
	for k := range jobs {
		next <- k
	}
	close(next)
	wg.Wait()
	for _, err := range errs { // the first in file order
		if err != nil {
			return err
		}
	}
	return nil
}

const valueBatch = 8192

// checkChunk decodes one column chunk and compares it with its statistics.
// Only values that decode but contradict the footer are errors: a chunk
// that does not decode here is left to DuckDB, the reader that matters (its
// decoding errors are explained by ExplainParquet), so a reader difference
// never refuses a sound file.
func checkChunk(r *file.Reader, job valueJob, path string) (err error) {
	defer func() {
		if p := recover(); p != nil { // a decoder that trips over damaged bytes
			err = nil
		}
	}()
	rg := r.RowGroup(job.rowGroup)
	cc, err := rg.MetaData().ColumnChunk(job.column)
	if err != nil {
		return nil
	}
	where := fmt.Sprintf("row group %d, column %s", job.rowGroup, cc.PathInSchema().String())
	w := pageWalker{path: path}
	st, err := cc.Statistics()
	if err != nil || st == nil {
		return nil
	}
	cr, err := rg.Column(job.column)
	if err != nil {
		return nil
	}
	descr := cr.Descriptor()
	flat := descr.MaxRepetitionLevel() == 0
	def := make([]int16, valueBatch)
	var rep []int16
	if !flat {
		rep = make([]int16, valueBatch)
	}
	unsigned := descr.SortOrder() == schema.SortUNSIGNED
	var nulls int64
	var bad string
	undecodable := false
	read := func(total int64, n int, err error) (int, bool) {
		if err != nil {
			undecodable = true
			return 0, false
		}
		nulls += total - int64(n)
		return n, true
	}
	switch cr := cr.(type) {
	case *file.Int32ColumnChunkReader:
		s := st.(*metadata.Int32Statistics)
		vals := make([]int32, valueBatch)
		for bad == "" && !undecodable && cr.HasNext() {
			if n, ok := read(cr.ReadBatch(valueBatch, vals, def, rep)); ok && s.HasMinMax() {
				bad = outsideInt(vals[:n], s.Min(), s.Max(), unsigned)
			}
		}
	case *file.Int64ColumnChunkReader:
		s := st.(*metadata.Int64Statistics)
		vals := make([]int64, valueBatch)
		for bad == "" && !undecodable && cr.HasNext() {
			if n, ok := read(cr.ReadBatch(valueBatch, vals, def, rep)); ok && s.HasMinMax() {
				bad = outsideInt(vals[:n], s.Min(), s.Max(), unsigned)
			}
		}
	case *file.Float32ColumnChunkReader:
		s := st.(*metadata.Float32Statistics)
		vals := make([]float32, valueBatch)
		for bad == "" && !undecodable && cr.HasNext() {
			if n, ok := read(cr.ReadBatch(valueBatch, vals, def, rep)); ok && s.HasMinMax() {
				bad = outside(vals[:n], s.Min(), s.Max())
			}
		}
	case *file.Float64ColumnChunkReader:
		s := st.(*metadata.Float64Statistics)
		vals := make([]float64, valueBatch)
		for bad == "" && !undecodable && cr.HasNext() {
			if n, ok := read(cr.ReadBatch(valueBatch, vals, def, rep)); ok && s.HasMinMax() {
				bad = outside(vals[:n], s.Min(), s.Max())
			}
		}
	default:
		return nil
	}
	if undecodable {
		return nil
	}
	if bad == "" && flat && st.HasNullCount() && nulls != st.NullCount() {
		bad = fmt.Sprintf("its pages hold %d nulls but the footer says %d", nulls, st.NullCount())
	}
	if bad != "" {
		return w.damaged(where, "%s", bad)
	}
	return nil
}

// outside describes the first value outside [lo, hi] ("" if none). Float
// comparisons never count a NaN as outside, and -0 equals +0.
func outside[T cmp.Ordered](vals []T, lo, hi T) string {
	for _, v := range vals {
		if v < lo || v > hi {
			return fmt.Sprintf("a value %v lies outside the range [%v, %v] its footer records", v, lo, hi)
		}
	}
	return ""
}

// outsideInt is outside for integers, compared as unsigned for the
// unsigned logical types.
func outsideInt[T int32 | int64](vals []T, lo, hi T, unsigned bool) string {
	if !unsigned {
		return outside(vals, lo, hi)
	}
	ulo, uhi := uint64(lo), uint64(hi)
	if _, ok := any(lo).(int32); ok {
		ulo, uhi = uint64(uint32(lo)), uint64(uint32(hi))
	}
	for _, v := range vals {
		u := uint64(v)
		if _, ok := any(v).(int32); ok {
			u = uint64(uint32(v))
		}
		if u < ulo || u > uhi {
			return fmt.Sprintf("a value %d lies outside the range [%d, %d] its footer records", u, ulo, uhi)
		}
	}
	return ""
}
