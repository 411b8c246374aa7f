package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits of the MIME walker itself, beyond amavis's: they bound memory and
// stack for hostile structure, never what a real mailer produces.
const (
	maxMIMENesting   = 64        // nested multiparts; deeper holds the message
	maxFieldBytes    = 64 * 1024 // one MIME header field kept, beyond is dropped
	maxFieldsKept    = 32        // occurrences of each MIME field kept
	maxMIMEErrors    = 100       // amavis keeps up to 100 issues too
	maxPreambleBytes = 4096      // preamble held in memory before it becomes a part
	lineBufSize      = 64 * 1024
)

// lineReader yields lines (with their terminator) from a stream; a line
// longer than the buffer comes in pieces and only the first piece has
// start set, so a boundary or header can never be forged mid-line.
type lineReader struct {
	br        *bufio.Reader
	line      []byte
	start     bool
	nextStart bool
	pending   error
	err       error
	again     bool
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: getLineReader(r), nextStart: true}
}

// release gives the buffer back; the reader and its lines are unusable
// afterwards.
func (l *lineReader) release() {
	if l.br != nil {
		putLineReader(l.br)
		l.br, l.line = nil, nil
		l.err = io.ErrClosedPipe
	}
}

func (l *lineReader) next() bool {
	if l.again {
		l.again = false
		return true
	}
	if l.pending != nil {
		l.err, l.pending = l.pending, nil
		return false
	}
	if l.err != nil {
		return false
	}
	l.start = l.nextStart
	line, err := l.br.ReadSlice('\n')
	switch {
	case err == nil:
		l.nextStart = true
	case errors.Is(err, bufio.ErrBufferFull):
		l.nextStart = false
	default:
		if len(line) == 0 {
			l.err = err
			return false
		}
		l.pending = err
		l.nextStart = true
	}
	l.line = line
	return true
}

// unread makes the next call to next return the current line again.
func (l *lineReader) unread() { l.again = true }

// readError is the stream's error, nil at a clean EOF.
func (l *lineReader) readError() error {
	if l.err == nil || l.err == io.EOF {
		return nil
	}
	return l.err
}

func splitEOL(line []byte) (body, eol []byte) {
	n := len(line)
	if n > 0 && line[n-1] == '\n' {
		if n > 1 && line[n-2] == '\r' {
			return line[:n-2], line[n-2:]
		}
		return line[:n-1], line[n-1:]
	}
	return line, nil
}

func isBlank(line []byte) bool {
	b, _ := splitEOL(line)
	return len(b) == 0
}

// level is one open multipart: its boundaries (declared, and any adopted
// from the body when the declared one never shows up).
type level struct {
	bounds [][]byte
	seen   bool // a boundary of this level was seen
}

// event says how an entity ended: at a boundary line of stack level idx
// (closing for "--b--"), or at the end of input (idx -1).
type event struct {
	idx     int
	closing bool
}

var eof = event{idx: -1}

type walker struct {
	d      *decoder
	lr     *lineReader
	depth  int
	errs   []string
	nlines int
}

func (w *walker) errorf(format string, args ...any) {
	if len(w.errs) < maxMIMEErrors {
		w.errs = append(w.errs, fmt.Sprintf(format, args...))
	}
}

// walkMIME parses one message from r into parts under parent.
func (d *decoder) walkMIME(r io.Reader, parent int, placement string, depth int) ([]string, error) {
	w := &walker{d: d, lr: newLineReader(ctxReader{d.ctx, r}), depth: depth}
	defer w.lr.release()
	_, err := w.entity(parent, placement, nil, 0, true, "text/plain")
	if err == nil {
		err = w.lr.readError()
	}
	return w.errs, err
}

// match checks a line against the open boundaries, innermost first.
func (w *walker) match(stack []*level) (event, bool) {
	if !w.lr.start {
		return event{}, false
	}
	line := w.lr.line
	if len(line) < 3 || line[0] != '-' || line[1] != '-' {
		return event{}, false
	}
	body, _ := splitEOL(line[2:])
	for i := len(stack) - 1; i >= 0; i-- {
		for _, b := range stack[i].bounds {
			rest, ok := bytes.CutPrefix(body, b)
			if !ok {
				continue
			}
			if bytes.HasPrefix(rest, []byte("--")) {
				return event{idx: i, closing: true}, true
			}
			if len(bytes.TrimRight(rest, " \t")) == 0 {
				return event{idx: i}, true
			}
		}
	}
	return event{}, false
}

type mimeHeader struct {
	ct, cd, cte []string
	nfields     int
}

// readHeader reads an entity's header up to the empty line. It stops early
// at a boundary line (returned as ev, ok=true): the entity then has no body.
func (w *walker) readHeader(stack []*level, top bool) (h mimeHeader, ev event, atBoundary bool) {
	var name string
	var val []byte
	dropped := false
	commit := func() {
		if name == "" {
			return
		}
		v := strings.TrimSpace(string(val))
		switch name {
		case "content-type":
			if len(h.ct) < maxFieldsKept {
				h.ct = append(h.ct, v)
			}
		case "content-disposition":
			if len(h.cd) < maxFieldsKept {
				h.cd = append(h.cd, v)
			}
		case "content-transfer-encoding":
			if len(h.cte) < maxFieldsKept {
				h.cte = append(h.cte, v)
			}
		}
		name, val = "", val[:0]
	}
	first := true
	for w.lr.next() {
		line := w.lr.line
		if !w.lr.start { // piece of an overlong line: belongs to the field
			if name != "" && len(val)+len(line) <= maxFieldBytes {
				val = append(val, line...)
			} else if name != "" && !dropped {
				dropped = true
				w.errorf("header field %s longer than %d bytes truncated", name, maxFieldBytes)
			}
			continue
		}
		if isBlank(line) {
			commit()
			return h, eof, false
		}
		if e, ok := w.match(stack); ok {
			commit()
			w.errorf("boundary inside a part header (part has no body)")
			return h, e, true
		}
		if line[0] == ' ' || line[0] == '\t' {
			if name == "" && h.nfields == 0 && !top {
				w.errorf("part begins with a continuation line")
			}
			if name != "" && len(val)+len(line) <= maxFieldBytes {
				b, _ := splitEOL(line)
				val = append(val, b...)
			}
			first = false
			continue
		}
		colon := bytes.IndexByte(line, ':')
		fname := []byte(nil)
		if colon > 0 {
			fname = bytes.TrimRight(line[:colon], " \t")
		}
		if colon <= 0 || !validFieldName(fname) {
			if first && top && bytes.HasPrefix(line, []byte("From ")) {
				first = false
				continue // mbox separator
			}
			if first && !top {
				// no header at all: the body starts right away
				w.errorf("part without header")
				w.lr.unread()
				return h, eof, false
			}
			b, _ := splitEOL(line)
			w.errorf("malformed header line: %q", clip(string(b), 60))
			first = false
			continue
		}
		commit()
		first = false
		h.nfields++
		name = strings.ToLower(string(fname))
		b, _ := splitEOL(line[colon+1:])
		val = append(val[:0], b...)
		dropped = false
	}
	commit()
	return h, eof, false
}

func validFieldName(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// entity parses one MIME entity (header and body) as part of parent.
func (w *walker) entity(parent int, placement string, stack []*level, nest int, top bool, defType string) (event, error) {
	h, ev, atBoundary := w.readHeader(stack, top)
	d := w.d

	mt := defType
	var ctParams []param
	if len(h.ct) > 0 {
		tok, ps, errs := parseStructured(h.ct[0])
		for _, e := range errs {
			w.errorf("Content-Type: %s", e)
		}
		ctParams = ps
		if tok != "" && strings.Count(tok, "/") == 1 && !strings.HasPrefix(tok, "/") && !strings.HasSuffix(tok, "/") {
			mt = tok
		} else {
			w.errorf("invalid Content-Type %q", clip(h.ct[0], 60))
		}
		if len(h.ct) > 1 {
			w.errorf("duplicate Content-Type header field")
			for _, v := range h.ct[1:] {
				_, ps, _ := parseStructured(v)
				ctParams = append(ctParams, ps...)
			}
		}
	}
	var cdTok string
	var cdParams []param
	for k, v := range h.cd {
		tok, ps, errs := parseStructured(v)
		for _, e := range errs {
			w.errorf("Content-Disposition: %s", e)
		}
		if k == 0 {
			cdTok = tok
		}
		cdParams = append(cdParams, ps...)
	}
	if len(h.cd) > 1 {
		w.errorf("duplicate Content-Disposition header field")
	}
	cte := ""
	if len(h.cte) > 0 {
		cte = strings.ToLower(strings.TrimSpace(stripComments(h.cte[0])))
		if len(h.cte) > 1 {
			w.errorf("duplicate Content-Transfer-Encoding header field")
		}
	}

	isMultipart := strings.HasPrefix(mt, "multipart/")
	if isMultipart && nest >= maxMIMENesting {
		return ev, &holdError{fmt.Sprintf("Maximum MIME nesting depth (%d) exceeded", maxMIMENesting)}
	}
	i, err := d.newPart(parent, placement, w.depth, !isMultipart)
	if err != nil {
		return ev, err
	}
	p := &d.res.Parts[i]
	if len(h.ct) > 0 {
		p.MIMEType = mt
	}
	p.Disposition = cdTok
	for _, n := range paramValues(cdParams, "filename") {
		p.addName(n)
	}
	for _, n := range paramValues(ctParams, "name") {
		p.addName(n)
	}
	// MIME-tools' ambiguous_content: a reader could take either of two
	// Content-Type or Content-Transfer-Encoding fields (amavis: CC_UNCHECKED,3)
	if distinct(h.ct) > 1 || distinct(h.cte) > 1 {
		p.addAttr("B")
	}
	if strings.Contains(mt, "encrypted") {
		p.addAttr("UC")
		p.Encrypted = true
	}

	if !isMultipart {
		if atBoundary {
			return ev, nil
		}
		return w.leaf(i, cte, stack)
	}

	p.Container = true
	var bounds [][]byte
	for _, pr := range ctParams {
		if pr.name == "boundary" {
			bounds = append(bounds, []byte(pr.value))
		}
	}
	if len(bounds) > 1 {
		p.addAttr("B")
		w.errorf("multiple boundary parameters in Content-Type")
	}
	if cte != "" && cte != "7bit" && cte != "8bit" && cte != "binary" {
		w.errorf("multipart with Content-Transfer-Encoding %q ignored", clip(cte, 30))
	}
	lv := &level{}
	for _, b := range bounds {
		if len(b) > 0 {
			lv.bounds = append(lv.bounds, b)
		}
	}
	if len(lv.bounds) == 0 {
		w.errorf("multipart without boundary parameter")
	}
	if atBoundary {
		w.errorf("multipart %s has no body", placement)
		return ev, nil
	}
	st := append(stack[:len(stack):len(stack)], lv)
	childType := "text/plain"
	if mt == "multipart/digest" {
		childType = "message/rfc822"
	}
	return w.multipart(i, placement, st, nest, childType)
}

// multipart reads a multipart body: preamble, parts, epilogue.
func (w *walker) multipart(i int, placement string, st []*level, nest int, childType string) (event, error) {
	me := len(st) - 1
	lv := st[me]
	pre := &lazyPart{w: w, parent: i, placement: placement, name: "preamble"}
	var ev event
	found := false
	for !found {
		if !w.lr.next() {
			w.errorf("multipart %s: no boundary found", placement)
			return eof, pre.close()
		}
		if e, ok := w.match(st); ok {
			if e.idx < me {
				w.errorf("multipart %s: no boundary found before the enclosing one", placement)
				return e, pre.close()
			}
			ev, found = e, true
			break
		}
		if b := w.adoptable(); b != nil {
			lv.bounds = append(lv.bounds, b)
			w.errorf("multipart %s: declared boundary not found, using %q found in the body", placement, clip(string(b), 70))
			ev, found = event{idx: me}, true
			break
		}
		if err := pre.write(w.lr.line); err != nil {
			return eof, err
		}
	}
	if err := pre.close(); err != nil {
		return eof, err
	}
	lv.seen = true
	n := 0
	for {
		if ev.idx == me && !ev.closing {
			n++
			var err error
			ev, err = w.entity(i, placement+"/"+strconv.Itoa(n), st, nest+1, false, childType)
			if err != nil {
				return ev, err
			}
			continue
		}
		if ev.idx == me && ev.closing {
			var err error
			var more bool
			ev, more, err = w.epilogue(i, placement, st)
			if err != nil || !more {
				return ev, err
			}
			continue
		}
		if ev.idx < 0 {
			w.errorf("multipart %s: missing closing boundary", placement)
		} else {
			w.errorf("multipart %s: missing closing boundary before the enclosing one", placement)
		}
		return ev, nil
	}
}

// epilogue reads after a closing boundary. A part boundary of the same
// multipart showing up again resumes the parts (more=true): a mail reader
// might show them, so the check must see them.
func (w *walker) epilogue(i int, placement string, st []*level) (event, bool, error) {
	me := len(st) - 1
	epi := &lazyPart{w: w, parent: i, placement: placement, name: "epilogue"}
	for w.lr.next() {
		if e, ok := w.match(st); ok {
			if e.idx == me && !e.closing {
				w.errorf("multipart %s: part after the closing boundary", placement)
				return e, true, epi.close()
			}
			if e.idx < me {
				return e, false, epi.close()
			}
		}
		if err := epi.write(w.lr.line); err != nil {
			return eof, false, err
		}
	}
	return eof, false, epi.close()
}

// adoptable reports a boundary to adopt when the current preamble line is
// "--X" and the next line starts a MIME header: the declared boundary is
// wrong, and without this the attachment would hide in the preamble.
func (w *walker) adoptable() []byte {
	if !w.lr.start {
		return nil
	}
	body, _ := splitEOL(w.lr.line)
	if len(body) < 3 || len(body) > 72 || body[0] != '-' || body[1] != '-' {
		return nil
	}
	b := bytes.TrimRight(body[2:], " \t")
	if len(b) == 0 || bytes.ContainsAny(b, " \t") {
		return nil
	}
	next, _ := w.lr.br.Peek(64)
	if len(next) < 8 || !bytes.EqualFold(next[:8], []byte("content-")) {
		return nil
	}
	return bytes.Clone(b)
}

// leaf reads a leaf body into a new file, decoding the transfer encoding.
func (w *walker) leaf(i int, cte string, stack []*level) (event, error) {
	d := w.d
	s, err := d.open(i, "mime_decode", true)
	if err != nil {
		return eof, err
	}
	var dec bodyDecoder
	switch cte {
	case "", "7bit", "8bit", "binary":
		dec = identity{s}
	case "base64":
		dec = newBase64Dec(s)
	case "quoted-printable":
		dec = newQPDec(s)
	case "x-uuencode", "x-uue", "uuencode", "x-uuencoded":
		u := newUUDec(s)
		u.onBegin = func(name string) { d.res.Parts[i].addName(name) }
		dec = u
	default:
		w.errorf("unknown Content-Transfer-Encoding %q, taken as binary", clip(cte, 30))
		dec = identity{s}
	}
	ev := eof
	var pending []byte
	var werr error
	for w.lr.next() {
		if e, ok := w.match(stack); ok {
			ev = e
			pending = nil
			break
		}
		w.nlines++
		if w.nlines&1023 == 0 {
			if err := d.ctx.Err(); err != nil {
				werr = err
				break
			}
		}
		body, eol := splitEOL(w.lr.line)
		if len(pending) > 0 {
			if _, werr = dec.Write(pending); werr != nil {
				break
			}
		}
		if _, werr = dec.Write(body); werr != nil {
			break
		}
		pending = append(pending[:0], eol...)
	}
	if werr == nil && len(pending) > 0 {
		_, werr = dec.Write(pending)
	}
	if err := dec.Close(); werr == nil {
		werr = err
	}
	if r, ok := dec.(interface{ release() }); ok {
		r.release()
	}
	if bad := dec.Bad(); bad > 0 && cte == "base64" {
		w.errorf("malformed base64 in part %s: %d invalid characters skipped", d.res.Parts[i].ID, bad)
	}
	if err := d.close(i, s); werr == nil {
		werr = err
	}
	return ev, werr
}

// lazyPart collects a preamble or epilogue and turns it into a part only
// when it is not trivial (amavis: more than 5 lines, or characters beyond
// [A-Za-z0-9/@:;,. \t\n_-]).
type lazyPart struct {
	w         *walker
	parent    int
	placement string
	name      string
	buf       []byte
	lines     int
	idx       int
	s         *sink
}

func trivialChars(b []byte) bool {
	for _, c := range b {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case strings.IndexByte("/@:;,. \t\n\r_-", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (l *lazyPart) write(line []byte) error {
	if l.s != nil {
		_, err := l.s.Write(line)
		return err
	}
	l.buf = append(l.buf, line...)
	l.lines++
	if l.lines > 5 || len(l.buf) > maxPreambleBytes || !trivialChars(line) {
		return l.materialize()
	}
	return nil
}

func (l *lazyPart) materialize() error {
	d := l.w.d
	i, err := d.newPart(l.parent, l.placement, l.w.depth, false)
	if err != nil {
		return err
	}
	d.res.Parts[i].Names = []string{l.name}
	s, err := d.open(i, "mime_decode_"+l.name, true)
	if err != nil {
		return err
	}
	l.idx, l.s = i, s
	_, err = s.Write(l.buf)
	l.buf = nil
	return err
}

func (l *lazyPart) close() error {
	if l.s == nil {
		return nil
	}
	return l.w.d.close(l.idx, l.s)
}

func distinct(vals []string) int {
	seen := map[string]bool{}
	for _, v := range vals {
		seen[strings.ToLower(strings.Join(strings.Fields(v), " "))] = true
	}
	return len(seen)
}
