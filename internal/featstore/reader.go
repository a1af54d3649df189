package featstore

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/encoding"
)

// nextBatch is how many rows Next decodes at a time.
const nextBatch = 256

// Reader streams the rows of a feature file in file order. It decodes the
// columns page by page straight into Go slices instead of going through
// parquet-go's generic row reader, which builds a parquet.Value per float and
// assigns it by reflection: that path ran at ~80 MB/s, this one is limited
// by decompression. Memory is one page per column plus what the caller asks
// for, whatever the file size.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	path string
	f    *os.File
	pf   *parquet.File
	meta Meta
	cols [numCols]int // leaf column index of each field

	rgs   []parquet.RowGroup
	rg    int   // index of the current row group in rgs
	left  int64 // rows not yet read in the current row group
	cur   [numCols]cursor
	read  int64 // rows returned so far
	strs  []string
	ints  []int32
	err   error          // sticky
	queue []Row          // rows decoded by Next but not yet returned
	gen   *genericReader // set for files not in featurize's exact layout
}

const (
	colPath = iota
	colSHA
	colWidth
	colHeight
	colFeatures
	numCols
)

// Open opens a feature file written by Create and checks its schema and
// metadata.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("featstore: %w", err)
	}
	r, err := open(path, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	return r, nil
}

var fileSchema = parquet.SchemaOf(record{})

// corrupt turns a panic of parquet-go into an error: some damaged files
// (a flipped byte in a page header) make its decoders index out of range,
// and one bad file must be reported, not crash the program.
func corrupt(path string, err *error, r *Reader) {
	p := recover()
	if p == nil {
		return
	}
	*err = fmt.Errorf("featstore: %s: corrupt Parquet file (%v)", path, p)
	if r != nil {
		r.err = *err
	}
}

func open(path string, f *os.File) (r *Reader, err error) {
	defer corrupt(path, &err, nil)
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("featstore: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size(),
		parquet.SkipBloomFilters(true),
		parquet.SkipPageIndex(true),
		// Rows are read front to back; bigger reads mean fewer syscalls.
		parquet.ReadBufferSize(1<<20),
	)
	if err != nil {
		return nil, fmt.Errorf("featstore: %s: %w", path, err)
	}
	m, err := metaOf(pf)
	if err != nil || !parquet.EqualNodes(pf.Schema(), fileSchema) {
		// Not featurize's exact layout or metadata: any file with the same
		// data is read, and its backbone is unknown unless recorded.
		g, gerr := openGeneric(pf)
		if gerr != nil {
			return nil, fmt.Errorf("featstore: %s: %w", path, gerr)
		}
		r = &Reader{path: path, f: f, pf: pf, meta: lenientMeta(pf), rgs: pf.RowGroups(), rg: -1, gen: g}
		if r.meta.Dim == 0 {
			// The dimension comes from the first row; it is queued for Next.
			first := make([]Row, 1)
			n, err := r.readGeneric(first)
			if err != nil && !errors.Is(err, io.EOF) {
				return nil, err
			}
			if n == 0 {
				return nil, fmt.Errorf("featstore: %s: no rows and no %s metadata: the feature dimension is unknown", path, KeyDim)
			}
			r.queue = first[:n]
		}
		return r, nil
	}
	r = &Reader{path: path, f: f, pf: pf, meta: m, rgs: pf.RowGroups(), rg: -1}
	for i, name := range [][]string{{"path"}, {"sha256"}, {"width"}, {"height"}, {"features", "list", "element"}} {
		leaf, ok := pf.Schema().Lookup(name...)
		if !ok {
			return nil, fmt.Errorf("featstore: %s: column %v missing", path, name)
		}
		r.cols[i] = leaf.ColumnIndex
	}
	return r, nil
}

func metaOf(pf *parquet.File) (Meta, error) {
	var m Meta
	for _, kv := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{KeyBackbone, &m.Backbone, true},
		{KeyBackboneSHA256, &m.BackboneSHA256, true},
		{KeyPreprocess, &m.Preprocess, true},
		{KeyVersion, &m.Version, false},
	} {
		v, ok := pf.Lookup(kv.key)
		if !ok && kv.required {
			return m, fmt.Errorf("metadata key %s missing", kv.key)
		}
		*kv.dst = v
	}
	v, ok := pf.Lookup(KeyDim)
	if !ok {
		return m, fmt.Errorf("metadata key %s missing", KeyDim)
	}
	dim, err := strconv.Atoi(v)
	if err != nil || dim <= 0 {
		return m, fmt.Errorf("metadata %s=%q is not a positive integer", KeyDim, v)
	}
	m.Dim = dim
	return m, nil
}

// Meta returns the file's metadata.
func (r *Reader) Meta() Meta { return r.meta }

// NumRows returns the number of rows in the file, from its footer.
func (r *Reader) NumRows() int64 { return r.pf.NumRows() }

// nextRowGroup moves the column cursors to the next row group with rows.
func (r *Reader) nextRowGroup() error {
	for r.left == 0 {
		r.closeCursors()
		if r.rg+1 >= len(r.rgs) {
			if r.read != r.pf.NumRows() {
				return fmt.Errorf("read %d rows, footer says %d", r.read, r.pf.NumRows())
			}
			return io.EOF
		}
		r.rg++
		rg := r.rgs[r.rg]
		chunks := rg.ColumnChunks()
		for i := range r.cur {
			r.cur[i] = cursor{pages: chunks[r.cols[i]].Pages()}
		}
		r.left = rg.NumRows()
	}
	return nil
}

func (r *Reader) closeCursors() {
	for i := range r.cur {
		r.cur[i].close()
	}
}

// ReadBatch fills dst with the next rows and returns how many it filled; it
// returns 0, io.EOF after the last row. dst[i].Features is reused when its
// capacity is at least Dim (so a caller looping over one dst slice does not
// allocate per row); otherwise fresh memory is allocated, one block per call.
func (r *Reader) ReadBatch(dst []Row) (n int, err error) {
	defer corrupt(r.path, &err, r)
	for n < len(dst) && len(r.queue) > 0 {
		dst[n] = r.queue[0]
		r.queue = r.queue[1:]
		n++
	}
	for n < len(dst) {
		k, err := r.readRows(dst[n:])
		n += k
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				return n, nil
			}
			return n, err
		}
	}
	return n, nil
}

// readRows reads rows from the current row group only.
func (r *Reader) readRows(dst []Row) (int, error) {
	if r.gen != nil {
		return r.readGeneric(dst)
	}
	if r.err != nil {
		return 0, r.err
	}
	if err := r.nextRowGroup(); err != nil {
		return 0, r.fail(err)
	}
	n := int(min(int64(len(dst)), r.left))
	dst = dst[:n]
	dim := r.meta.Dim

	need := 0
	for i := range dst {
		if cap(dst[i].Features) < dim {
			need++
		}
	}
	block := make([]float32, need*dim)
	for i := range dst {
		if cap(dst[i].Features) >= dim {
			dst[i].Features = dst[i].Features[:dim]
		} else {
			dst[i].Features, block = block[:dim:dim], block[dim:]
		}
	}

	r.strs = slices.Grow(r.strs[:0], n)[:n]
	r.ints = slices.Grow(r.ints[:0], n)[:n]
	if err := r.cur[colPath].strings(r.strs); err != nil {
		return 0, r.fail(fmt.Errorf("column path: %w", err))
	}
	for i := range dst {
		dst[i].Path = r.strs[i]
	}
	if err := r.cur[colSHA].strings(r.strs); err != nil {
		return 0, r.fail(fmt.Errorf("column sha256: %w", err))
	}
	for i := range dst {
		dst[i].SHA256 = r.strs[i]
	}
	if err := r.cur[colWidth].int32s(r.ints); err != nil {
		return 0, r.fail(fmt.Errorf("column width: %w", err))
	}
	for i := range dst {
		dst[i].Width = r.ints[i]
	}
	if err := r.cur[colHeight].int32s(r.ints); err != nil {
		return 0, r.fail(fmt.Errorf("column height: %w", err))
	}
	for i := range dst {
		dst[i].Height = r.ints[i]
	}
	for i := range dst {
		if err := r.cur[colFeatures].list(dst[i].Features); err != nil {
			return 0, r.fail(fmt.Errorf("column features, row %d: %w", r.read+int64(i), err))
		}
	}
	clear(r.strs)
	r.left -= int64(n)
	r.read += int64(n)
	return n, nil
}

func (r *Reader) fail(err error) error {
	if errors.Is(err, io.EOF) {
		r.err = io.EOF
	} else {
		r.err = fmt.Errorf("featstore: %s: %w", r.path, err)
	}
	r.closeCursors()
	return r.err
}

// Next returns the next row, or io.EOF after the last one. The returned Row
// is the caller's to keep.
func (r *Reader) Next() (Row, error) {
	if len(r.queue) == 0 {
		buf := make([]Row, nextBatch)
		n, err := r.ReadBatch(buf)
		if err != nil {
			return Row{}, err
		}
		r.queue = buf[:n]
	}
	row := r.queue[0]
	r.queue = r.queue[1:]
	return row, nil
}

// Close releases the file.
func (r *Reader) Close() error {
	r.closeCursors()
	if r.gen != nil && r.gen.rows != nil {
		r.gen.rows.Close()
		r.gen.rows = nil
	}
	if r.err == nil {
		r.err = errors.New("featstore: reader closed")
	}
	return r.f.Close()
}

// cursor walks the pages of one column chunk, exposing the current page's
// decoded values.
type cursor struct {
	pages parquet.Pages
	page  parquet.Page
	vals  encoding.Values
	n     int    // values in the current page
	i     int    // next value in the current page
	pos   int    // values consumed in earlier pages of the chunk
	reps  []byte // repetition levels of the current page
}

// advance makes sure the current page has an unread value.
func (c *cursor) advance() error {
	for c.i == c.n {
		if c.pages == nil {
			return errors.New("read past end of column chunk")
		}
		c.pos += c.n
		c.release()
		p, err := c.pages.ReadPage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("column chunk ends before its row group")
			}
			return err
		}
		if p.Dictionary() != nil {
			// Our writer never dictionary-encodes; Data() would then hold
			// indexes, not values.
			parquet.Release(p)
			return errors.New("dictionary-encoded pages are not supported")
		}
		c.page, c.vals = p, p.Data()
		c.reps = p.RepetitionLevels()
		c.n, c.i = int(p.NumValues()), 0
	}
	return nil
}

func (c *cursor) strings(dst []string) error {
	for k := range dst {
		if err := c.advance(); err != nil {
			return err
		}
		data, offs := c.vals.ByteArray()
		if len(offs) != c.n+1 {
			return fmt.Errorf("page has %d offsets for %d values", len(offs), c.n)
		}
		// string() copies, so the page buffer can be recycled.
		dst[k] = string(data[offs[c.i]:offs[c.i+1]])
		c.i++
	}
	return nil
}

func (c *cursor) int32s(dst []int32) error {
	for len(dst) > 0 {
		if err := c.advance(); err != nil {
			return err
		}
		v := c.vals.Int32()
		if len(v) != c.n {
			return fmt.Errorf("page has %d values, header says %d", len(v), c.n)
		}
		k := copy(dst, v[c.i:])
		c.i += k
		dst = dst[k:]
	}
	return nil
}

// list reads one row of the features column into dst, checking the levels:
// the row must start a new list (repetition level 0), continue it for exactly
// len(dst) values, and contain no null or empty list (every definition level
// at its maximum, which Data holding one value per level proves).
func (c *cursor) list(dst []float32) error {
	first := true
	for len(dst) > 0 {
		if err := c.advance(); err != nil {
			return err
		}
		v := c.vals.Float()
		if len(v) != c.n || len(c.reps) != c.n {
			return fmt.Errorf("page has %d values and %d repetition levels for %d levels: null or empty lists", len(v), len(c.reps), c.n)
		}
		k := min(len(dst), c.n-c.i)
		reps := c.reps[c.i : c.i+k]
		if first {
			if reps[0] != 0 {
				return errors.New("row does not start a new list")
			}
			reps = reps[1:]
			first = false
		}
		for _, l := range reps {
			if l != 1 {
				return errors.New("list shorter than dim")
			}
		}
		copy(dst, v[c.i:c.i+k])
		c.i += k
		dst = dst[k:]
	}
	// The next value, if any, must start the next row.
	if c.i < c.n && c.reps[c.i] != 0 {
		return errors.New("list longer than dim")
	}
	return nil
}

func (c *cursor) release() {
	if c.page != nil {
		parquet.Release(c.page)
		c.page, c.vals = nil, encoding.Values{}
		c.reps = nil
	}
}

func (c *cursor) close() {
	c.release()
	if c.pages != nil {
		c.pages.Close()
		c.pages = nil
	}
}

// scanKeys calls fn with the path and SHA-256 of every remaining row, reading
// only those two columns; the feature pages are never fetched.
func (r *Reader) scanKeys(fn func(path, sha string)) (err error) {
	defer corrupt(r.path, &err, r)
	if r.gen != nil {
		rows := make([]Row, nextBatch)
		for {
			n, err := r.ReadBatch(rows)
			for _, row := range rows[:n] {
				fn(row.Path, row.SHA256)
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
		}
	}
	paths := make([]string, nextBatch)
	shas := make([]string, nextBatch)
	for {
		if r.err != nil {
			return r.err
		}
		if err := r.nextRowGroup(); err != nil {
			if errors.Is(r.fail(err), io.EOF) {
				return nil
			}
			return r.err
		}
		n := int(min(int64(nextBatch), r.left))
		if err := r.cur[colPath].strings(paths[:n]); err != nil {
			return r.fail(fmt.Errorf("column path: %w", err))
		}
		if err := r.cur[colSHA].strings(shas[:n]); err != nil {
			return r.fail(fmt.Errorf("column sha256: %w", err))
		}
		for i := range n {
			fn(paths[i], shas[i])
		}
		r.left -= int64(n)
		r.read += int64(n)
	}
}
