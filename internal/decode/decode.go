package decode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mavis-filter/mavis/internal/decode/filetype"
	"github.com/mavis-filter/mavis/internal/mail"
)

// Limits are amavis's decoding limits, under amavis's names.
type Limits struct {
	// MaxLevels is $MAXLEVELS: decoding tiers deeper than this are not
	// decoded and the message is held ("Maximum decoding depth (N)
	// exceeded"). 0 disables the limit.
	MaxLevels int
	// MaxFiles is $MAXFILES: files issued per decoding tier. 0 disables.
	MaxFiles int
	// The storage quota for decoded data is, as in amavis,
	// max(MinExpansionQuota, size*MinExpansionFactor,
	//     min(MaxExpansionQuota, size*MaxExpansionFactor)).
	MinExpansionQuota, MaxExpansionQuota   int64
	MinExpansionFactor, MaxExpansionFactor float64
	// Timeout bounds the whole decoding; exceeding it holds the message
	// like the other limits do. 0 means no own budget (ctx still applies).
	Timeout time.Duration
}

// DefaultLimits returns Debian's amavis settings (MAXLEVELS 14, MAXFILES
// 1500, MIN_EXPANSION_QUOTA 100 KiB, MAX_EXPANSION_QUOTA 300 MiB, factors
// 5 and 500) and a two-minute time budget.
func DefaultLimits() Limits {
	return Limits{
		MaxLevels:          14,
		MaxFiles:           1500,
		MinExpansionQuota:  100 * 1024,
		MaxExpansionQuota:  300 * 1024 * 1024,
		MinExpansionFactor: 5,
		MaxExpansionFactor: 500,
		Timeout:            2 * time.Minute,
	}
}

// Quota is the number of decoded bytes allowed for a mail of size bytes.
// Unset (zero) quotas drop out of the formula as undef does in amavis.
func (l Limits) Quota(size int64) int64 {
	hi := int64(float64(size) * l.MaxExpansionFactor)
	if l.MaxExpansionQuota > 0 && (l.MaxExpansionFactor <= 0 || l.MaxExpansionQuota < hi) {
		hi = l.MaxExpansionQuota
	}
	q := max(l.MinExpansionQuota, int64(float64(size)*l.MinExpansionFactor), hi)
	if q <= 0 {
		return 1<<63 - 1 // no limit configured at all
	}
	return q
}

// Minor codes of CC_UNCHECKED (amavis §3.1).
const (
	MinorUnchecked  = 0 // Unchecked: undecipherable part
	MinorEncrypted  = 1 // UncheckedEncrypted
	MinorOverLimits = 2 // UncheckedOverLimits
	MinorAmbiguous  = 3 // UncheckedAmbiguousContent
)

// MinorNames are amavis's display names of the CC_UNCHECKED minors.
var MinorNames = [...]string{"Unchecked", "UncheckedEncrypted", "UncheckedOverLimits", "UncheckedAmbiguousContent"}

// Unchecked is one reason the message cannot be fully checked.
type Unchecked struct {
	Minor  int    // MinorUnchecked … MinorAmbiguous
	Reason string // human text, e.g. "encrypted member in p004"
	Part   string // part ID it concerns, "" for the whole message
}

// Part is one node of the decoded message: a MIME entity, a file inside an
// archive, or a file-less container (multipart/*), an encrypted member or a
// link.
type Part struct {
	ID        string // amavis part name: "p003"
	Placement string // amavis mime_placement: "1/2/3"
	Parent    int    // index into Result.Parts; -1 at the top
	Depth     int    // decoding tier: 1 for the mail's MIME parts, +1 per unpacking
	Container bool   // file-less multipart container

	// Names are all declared names: every Content-Disposition filename and
	// Content-Type name (duplicates included), each RFC 2047/2231-decoded
	// and raw; for archive members the member path; for TNEF the title and
	// long name; for a decompressed stream the name derived from its
	// parent's (x.exe.gz -> x.exe) and the one stored in the stream.
	Names       []string
	ArchiveName string // member path inside the parent archive, raw
	MIMEType    string // declared Content-Type (lower case), "" if none
	Disposition string // declared Content-Disposition (lower case)

	Types    []string // amavis short types from content, e.g. ["exe","exe-ms"]
	TypeDesc string   // long type description (file(1)-like)
	Size     int64    // decoded size in bytes
	File     string   // absolute path of the decoded content, "" if none

	// Attrs are amavis's part attributes: U undecipherable, C encrypted,
	// B ambiguous, D directory, L link, S special file.
	Attrs     string
	Encrypted bool
	Macros    bool // an Office document with a VBA project
	Unpacked  bool // content was decoded into child parts
	Errors    []string
}

// Type returns the most specific short type ("exe-ms", "dll", "zip"), or "".
func (p *Part) Type() string {
	if len(p.Types) == 0 {
		return ""
	}
	return p.Types[len(p.Types)-1]
}

// HasType reports whether p carries short type t.
func (p *Part) HasType(t string) bool {
	for _, x := range p.Types {
		if x == t {
			return true
		}
	}
	return false
}

func (p *Part) addAttr(a string) {
	for _, c := range a {
		if !strings.ContainsRune(p.Attrs, c) {
			p.Attrs += string(c)
		}
	}
}

func (p *Part) addName(n string) {
	if n == "" {
		return
	}
	for _, x := range p.Names {
		if x == n {
			return
		}
	}
	p.Names = append(p.Names, n)
}

// Result is everything decoding learnt about a message.
type Result struct {
	Parts []Part
	// Hold is the X-Amavis-Hold text when a limit stopped decoding (amavis
	// adds that header to passed mail and skips virus scanning), "" otherwise.
	Hold string
	// MIMEErrors are the MIME parser's complaints about the message itself
	// (bad-header check "mime", CC_BADH minor 1). Problems inside attached
	// messages are in those parts' Errors.
	MIMEErrors []string
	// Unchecked lists why the message is CC_UNCHECKED; empty when it is not.
	Unchecked []Unchecked
	Quota     int64 // storage quota in bytes
	Decoded   int64 // bytes charged against it
	Elapsed   time.Duration
}

// Minors returns the CC_UNCHECKED minor codes that apply, ascending, without
// duplicates; empty when the message is not UNCHECKED.
func (r *Result) Minors() []int {
	var seen [4]bool
	var out []int
	for _, u := range r.Unchecked {
		if u.Minor >= 0 && u.Minor < 4 && !seen[u.Minor] {
			seen[u.Minor] = true
		}
	}
	for i, s := range seen {
		if s {
			out = append(out, i)
		}
	}
	return out
}

// Children returns the indices of i's direct children (i = -1: top level).
func (r *Result) Children(i int) []int {
	var out []int
	for j := range r.Parts {
		if r.Parts[j].Parent == i {
			out = append(out, j)
		}
	}
	return out
}

// Chain returns the indices from the top-level ancestor down to i.
func (r *Result) Chain(i int) []int {
	var out []int
	for j := i; j >= 0 && len(out) <= len(r.Parts); j = r.Parts[j].Parent {
		out = append(out, j)
	}
	for a, b := 0, len(out)-1; a < b; a, b = a+1, b-1 {
		out[a], out[b] = out[b], out[a]
	}
	return out
}

// Leaves returns the indices of parts without children: the ones amavis's
// banned check evaluates.
func (r *Result) Leaves() []int {
	has := make([]bool, len(r.Parts))
	for _, p := range r.Parts {
		if p.Parent >= 0 {
			has[p.Parent] = true
		}
	}
	var out []int
	for i := range r.Parts {
		if !has[i] {
			out = append(out, i)
		}
	}
	return out
}

// NamePath renders the chain to part i the way amavis feeds
// $banned_namepath_re: one line per node, tab-separated fields P=, L=, M=,
// T= (each short type), N= (each name), A= (each attribute).
func (r *Result) NamePath(i int) string {
	var b strings.Builder
	for k, j := range r.Chain(i) {
		p := &r.Parts[j]
		if k > 0 {
			b.WriteByte('\n')
		}
		b.WriteString("P=" + p.ID + "\tL=" + p.Placement)
		if p.MIMEType != "" {
			b.WriteString("\tM=" + p.MIMEType)
		}
		for _, t := range p.Types {
			b.WriteString("\tT=" + t)
		}
		for _, n := range p.Names {
			b.WriteString("\tN=" + strings.NewReplacer("\t", " ", "\n", " ").Replace(n))
		}
		for _, a := range p.Attrs {
			b.WriteString("\tA=" + string(a))
		}
	}
	return b.String()
}

// Macros reports whether any part is an Office document with macros.
func (r *Result) Macros() bool {
	for i := range r.Parts {
		if r.Parts[i].Macros {
			return true
		}
	}
	return false
}

// Decode walks the message (msg, size bytes) and everything inside it,
// writing decoded parts as 0600 files to workDir/parts/pNNN. workDir must be
// the message's private directory; nothing is ever written outside it.
// Limits exceeded, encrypted or corrupt content are reported in the Result,
// not as errors; the error is non-nil only when ctx was cancelled or the
// work directory failed (the partial Result is still returned then).
func Decode(ctx context.Context, msg io.ReaderAt, size int64, workDir string, lim Limits, tools *Tools) (*Result, error) {
	start := time.Now()
	res := &Result{Quota: lim.Quota(size)}
	abs, err := filepath.Abs(workDir)
	if err != nil {
		return res, fmt.Errorf("decode: work dir: %w", err)
	}
	root, err := os.OpenRoot(abs)
	if err != nil {
		return res, fmt.Errorf("decode: open work dir: %w", err)
	}
	defer root.Close()
	if err := root.Mkdir(partsDir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return res, fmt.Errorf("decode: create parts dir: %w", err)
	}
	dctx := ctx
	if lim.Timeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeoutCause(ctx, lim.Timeout, errTimeBudget)
		defer cancel()
	}
	if tools == nil {
		tools = &Tools{}
	}
	d := &decoder{
		ctx:       dctx,
		lim:       lim,
		tools:     tools,
		root:      root,
		dir:       filepath.Join(abs, partsDir),
		res:       res,
		remaining: res.Quota,
	}
	defer d.release()
	err = d.run(msg, size)
	res.Decoded = res.Quota - d.remaining
	var he *holdError
	switch {
	case err == nil:
	case errors.As(err, &he):
		d.hold(he.msg)
		err = nil
	case ctx.Err() != nil:
		err = fmt.Errorf("decode: %w", context.Cause(ctx))
	case dctx.Err() != nil:
		d.hold(fmt.Sprintf("Maximum decoding time (%s) exceeded", lim.Timeout))
		err = nil
	default:
		err = fmt.Errorf("decode: %w", err)
	}
	d.collectUnchecked()
	res.Elapsed = time.Since(start)
	return res, err
}

const partsDir = "parts"

var errTimeBudget = errors.New("decoding time budget exhausted")

// holdError stops all decoding; its text becomes X-Amavis-Hold.
type holdError struct{ msg string }

func (e *holdError) Error() string { return e.msg }

type decoder struct {
	ctx       context.Context
	lim       Limits
	tools     *Tools
	root      *os.Root
	dir       string // absolute path of workDir/parts
	res       *Result
	remaining int64
	tierFiles int
	nextNum   int
	nkids     []int // children issued per part, for placements
	visited   []bool
	// noBegin[i] is set when part i's file was written by us and contains
	// no "begin ": it cannot hold a uuencoded file (doUU is skipped).
	noBegin []bool
	bufp    *[]byte // copy buffer (pooled), see copyBuf
}

// copyBuf returns the decoder's copy buffer.
func (d *decoder) copyBuf() []byte {
	if d.bufp == nil {
		d.bufp = getCopyBuf()
	}
	return *d.bufp
}

// release returns the decoder's pooled buffers.
func (d *decoder) release() {
	if d.bufp != nil {
		putCopyBuf(d.bufp)
		d.bufp = nil
	}
}

func (d *decoder) hold(msg string) {
	if d.res.Hold == "" {
		d.res.Hold = msg
	}
	d.res.Unchecked = append(d.res.Unchecked, Unchecked{Minor: MinorOverLimits, Reason: msg})
}

func (d *decoder) run(msg io.ReaderAt, size int64) error {
	errs, err := d.walkMIME(io.NewSectionReader(msg, 0, size), -1, "1", 1)
	d.res.MIMEErrors = append(d.res.MIMEErrors, errs...)
	if err != nil {
		return err
	}
	for depth := 1; ; depth++ {
		var tier []int
		for i := range d.res.Parts {
			if d.res.Parts[i].Depth == depth && d.res.Parts[i].File != "" {
				tier = append(tier, i)
			}
		}
		if len(tier) == 0 {
			return nil
		}
		if d.lim.MaxLevels > 0 && depth > d.lim.MaxLevels {
			return &holdError{fmt.Sprintf("Maximum decoding depth (%d) exceeded", d.lim.MaxLevels)}
		}
		d.tierFiles = 0
		for _, i := range tier {
			if err := d.ctx.Err(); err != nil {
				return err
			}
			if err := d.decodePart(i); err != nil {
				return err
			}
		}
	}
}

// newPart issues the next part number under parent. withFile parts count
// against MAXFILES (per tier, as amavis counts issued file names).
func (d *decoder) newPart(parent int, placement string, depth int, countIt bool) (int, error) {
	if countIt {
		if d.lim.MaxFiles > 0 && d.tierFiles >= d.lim.MaxFiles {
			return -1, &holdError{fmt.Sprintf("Maximum number of files (%d) exceeded", d.lim.MaxFiles)}
		}
		d.tierFiles++
	}
	d.nextNum++
	d.res.Parts = append(d.res.Parts, Part{
		ID:        fmt.Sprintf("p%03d", d.nextNum),
		Placement: placement,
		Parent:    parent,
		Depth:     depth,
	})
	d.nkids = append(d.nkids, 0)
	d.noBegin = append(d.noBegin, false)
	return len(d.res.Parts) - 1, nil
}

// newChild issues a part for something found inside part i.
func (d *decoder) newChild(i int, names ...string) (int, error) {
	d.nkids[i]++
	pl := d.res.Parts[i].Placement + "/" + strconv.Itoa(d.nkids[i])
	c, err := d.newPart(i, pl, d.res.Parts[i].Depth+1, true)
	if err != nil {
		return c, err
	}
	for _, n := range names {
		d.res.Parts[c].addName(n)
	}
	return c, nil
}

// errQuota is wrapped in a holdError when the storage quota runs out.
func (d *decoder) quotaHold(who string, chunk int64) error {
	return &holdError{fmt.Sprintf("Exceeded storage quota %d bytes by %s; last chunk %d bytes", d.res.Quota, who, chunk)}
}

// sink is where decoded bytes of one part go: its file, charged against
// the quota. exquota charges without failing (MIME decoding in amavis).
type sink struct {
	d       *decoder
	f       *os.File
	tap     *tap
	bw      *bufio.Writer // writes to tap, which writes to f
	who     string
	n       int64
	exquota bool
	closed  bool
}

// tap sits between a part's buffer and its file. It keeps the first
// filetype.HeadSize bytes, for typing the part without reading the file
// back, and notes whether "begin " occurs anywhere (a uuencoded file
// inside needs a line starting with it). It sees the buffer's large
// blocks rather than the walker's line-sized writes.
type tap struct {
	f     io.Writer
	head  *[]byte // pooled
	begin bool    // "begin " was written
	tail  [len(uuBegin) - 1]byte
	ntail int
}

const uuBegin = "begin "

func (t *tap) Write(p []byte) (int, error) {
	t.note(p)
	return t.f.Write(p)
}

func (s *sink) Write(p []byte) (int, error) {
	if err := s.d.ctx.Err(); err != nil {
		return 0, err
	}
	ln := int64(len(p))
	if !s.exquota && ln > s.d.remaining {
		k := max(s.d.remaining, 0)
		w, _ := s.bw.Write(p[:k])
		s.n += int64(w)
		s.d.remaining -= int64(w)
		return w, s.d.quotaHold(s.who, ln)
	}
	w, err := s.bw.Write(p)
	s.n += int64(w)
	s.d.remaining -= int64(w)
	if err != nil {
		return w, fmt.Errorf("write %s: %w", s.f.Name(), err)
	}
	return w, nil
}

// note records what is written: the head, and whether "begin " occurs,
// also across the boundary between two writes.
func (s *tap) note(p []byte) {
	if h := *s.head; len(h) < cap(h) {
		*s.head = append(h, p[:min(len(p), cap(h)-len(h))]...)
	}
	if s.begin || len(p) == 0 {
		return
	}
	if s.ntail > 0 {
		var b [2 * len(uuBegin)]byte
		j := copy(b[:], s.tail[:s.ntail])
		j += copy(b[j:], p[:min(len(p), len(uuBegin)-1)])
		if bytes.Contains(b[:j], []byte(uuBegin)) {
			s.begin = true
			return
		}
	}
	if bytes.Contains(p, []byte(uuBegin)) {
		s.begin = true
		return
	}
	// keep the last len(uuBegin)-1 bytes written
	if len(p) >= len(s.tail) {
		s.ntail = copy(s.tail[:], p[len(p)-len(s.tail):])
		return
	}
	keep := min(s.ntail, len(s.tail)-len(p))
	copy(s.tail[:], s.tail[s.ntail-keep:s.ntail])
	s.ntail = keep + copy(s.tail[keep:], p)
}

// open creates part i's file.
func (d *decoder) open(i int, who string, exquota bool) (*sink, error) {
	name := filepath.Join(partsDir, d.res.Parts[i].ID)
	f, err := d.root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create part file: %w", err)
	}
	d.res.Parts[i].File = filepath.Join(d.dir, d.res.Parts[i].ID)
	t := &tap{f: f, head: getHead()}
	return &sink{d: d, f: f, tap: t, bw: getPartWriter(t), who: who, exquota: exquota}, nil
}

// close finishes part i's file: size, type, or removal when empty. A
// second call does nothing.
func (d *decoder) close(i int, s *sink) error {
	if s.closed {
		return nil
	}
	s.closed = true
	err := s.bw.Flush()
	putPartWriter(s.bw)
	s.bw = nil
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	head := s.tap.head
	s.tap.head = nil
	defer putHead(head)
	p := &d.res.Parts[i]
	p.Size = s.n
	if s.n == 0 {
		_ = d.root.Remove(filepath.Join(partsDir, p.ID))
		p.File = ""
		p.Types = []string{"empty"}
		p.TypeDesc = "empty"
		return err
	}
	d.noBegin[i] = !s.tap.begin
	if err == nil {
		d.typeHead(i, *head)
	} else {
		d.typeIt(i)
	}
	if err != nil {
		return fmt.Errorf("close part file: %w", err)
	}
	return nil
}

// fill writes r into a new file for part i; errors from r are returned
// as read errors for the caller to judge, quota/ctx/write errors as is.
func (d *decoder) fill(i int, r io.Reader, who string) error {
	s, err := d.open(i, who, false)
	if err != nil {
		return err
	}
	_, cerr := copyBuf(s, r, d.copyBuf())
	if err := d.close(i, s); err != nil && cerr == nil {
		cerr = err
	}
	return cerr
}

// readErr marks an error from the source being decoded (corrupt data), as
// opposed to our own write, quota or context errors.
type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }
func (e *readErr) Unwrap() error { return e.err }

func copyBuf(dst io.Writer, src io.Reader, buf []byte) (int64, error) {
	var n int64
	for {
		k, rerr := src.Read(buf)
		if k > 0 {
			w, werr := dst.Write(buf[:k])
			n += int64(w)
			if werr != nil {
				return n, werr
			}
		}
		if rerr == io.EOF {
			return n, nil
		}
		if rerr != nil {
			return n, &readErr{rerr}
		}
	}
}

// typeIt types part i from its file (written by an external tool).
func (d *decoder) typeIt(i int) {
	p := &d.res.Parts[i]
	f, err := d.root.Open(filepath.Join(partsDir, p.ID))
	if err != nil {
		p.Types = []string{"dat"}
		p.TypeDesc = "cannot open: " + err.Error()
		return
	}
	defer f.Close()
	hp := getHead()
	defer putHead(hp)
	head := (*hp)[:min(int64(cap(*hp)), p.Size)]
	n, _ := io.ReadFull(f, head)
	d.setType(i, filetype.DetectHead(head[:n], f, p.Size))
}

// typeHead types part i from head, the first bytes of its file as written;
// the file is opened only when the detection needs more than the head.
func (d *decoder) typeHead(i int, head []byte) {
	p := &d.res.Parts[i]
	lf := &lazyFile{root: d.root, name: filepath.Join(partsDir, p.ID)}
	defer lf.close()
	d.setType(i, filetype.DetectHead(head, lf, p.Size))
}

func (d *decoder) setType(i int, t filetype.Type) {
	p := &d.res.Parts[i]
	p.Types, p.TypeDesc = t.Short, t.Desc
	if t.Has("pgp.enc") {
		p.addAttr("C")
		p.Encrypted = true
	}
}

// lazyFile is an io.ReaderAt that opens the file on the first read.
type lazyFile struct {
	root *os.Root
	name string
	f    *os.File
	err  error
}

func (l *lazyFile) ReadAt(p []byte, off int64) (int, error) {
	if l.f == nil && l.err == nil {
		l.f, l.err = l.root.Open(l.name)
	}
	if l.err != nil {
		return 0, l.err
	}
	return l.f.ReadAt(p, off)
}

func (l *lazyFile) close() {
	if l.f != nil {
		l.f.Close()
	}
}

// openPart opens part i's decoded file for reading.
func (d *decoder) openPart(i int) (*os.File, error) {
	f, err := d.root.Open(filepath.Join(partsDir, d.res.Parts[i].ID))
	if err != nil {
		return nil, fmt.Errorf("open part %s: %w", d.res.Parts[i].ID, err)
	}
	return f, nil
}

// undecipherable records that part i could not be decoded.
func (d *decoder) undecipherable(i int, format string, args ...any) {
	p := &d.res.Parts[i]
	p.addAttr("U")
	p.Errors = append(p.Errors, fmt.Sprintf(format, args...))
}

func (d *decoder) encrypted(i int, why string) {
	p := &d.res.Parts[i]
	p.addAttr("UC")
	p.Encrypted = true
	if why != "" {
		p.Errors = append(p.Errors, why)
	}
}

func (d *decoder) collectUnchecked() {
	for i := range d.res.Parts {
		p := &d.res.Parts[i]
		if strings.Contains(p.Attrs, "C") {
			d.res.Unchecked = append(d.res.Unchecked, Unchecked{Minor: MinorEncrypted, Reason: "encrypted content", Part: p.ID})
		} else if strings.Contains(p.Attrs, "U") {
			why := "undecipherable content"
			if len(p.Errors) > 0 {
				why = p.Errors[len(p.Errors)-1]
			}
			d.res.Unchecked = append(d.res.Unchecked, Unchecked{Minor: MinorUnchecked, Reason: why, Part: p.ID})
		}
		if strings.Contains(p.Attrs, "B") {
			d.res.Unchecked = append(d.res.Unchecked, Unchecked{Minor: MinorAmbiguous, Reason: "ambiguous MIME content (several boundaries)", Part: p.ID})
		}
	}
}

// ctxReader makes a blocking decompressor notice cancellation between reads.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// DecodeMessage decodes a received message's spooled body (see Decode).
func DecodeMessage(ctx context.Context, m *mail.Message, workDir string, lim Limits, tools *Tools) (*Result, error) {
	if m == nil || m.Body == nil {
		return nil, errors.New("decode: message has no body")
	}
	return Decode(ctx, m.Body.Reader(), m.Body.Size(), workDir, lim, tools)
}
