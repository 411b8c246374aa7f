package decode

import (
	"bytes"
	"encoding/base64"
	"io"
)

// The body decoders below are lenient streaming filters: they take encoded
// bytes through Write in arbitrary pieces and pass decoded bytes on. They
// never fail on bad input (that is counted in bad), because a mail reader
// would show something for it too and the scanner must see what it shows.

type bodyDecoder interface {
	io.Writer
	// Close flushes any partial quantum.
	Close() error
	// Bad reports how many bytes of input were not valid for the encoding.
	Bad() int64
}

type identity struct{ w io.Writer }

func (d identity) Write(p []byte) (int, error) { return d.w.Write(p) }
func (identity) Close() error                  { return nil }
func (identity) Bad() int64                    { return 0 }

var b64val = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(a); i++ {
		t[a[i]] = byte(i)
	}
	// the URL-safe alphabet, which some broken senders use
	t['-'] = 62
	t['_'] = 63
	return t
}()

// base64Dec skips everything outside the alphabet (as MIME requires of
// line breaks and as enmime and Outlook do with garbage), treats '=' as the
// end of one quantum and carries on after it (concatenated base64).
type base64Dec struct {
	w    io.Writer
	q    [4]byte
	n    int
	bad  int64
	out  []byte
	bufp *[]byte // pooled backing of out
}

func newBase64Dec(w io.Writer) *base64Dec {
	bp := getCopyBuf()
	return &base64Dec{w: w, out: (*bp)[:0], bufp: bp}
}

// release gives the output buffer back after Close.
func (d *base64Dec) release() {
	if d.bufp != nil {
		putCopyBuf(d.bufp)
		d.bufp, d.out = nil, nil
	}
}

var b64std = func() (t [256]bool) {
	const a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(a); i++ {
		t[a[i]] = true
	}
	return t
}()

func (d *base64Dec) Write(p []byte) (int, error) {
	for i := 0; i < len(p); {
		if d.n == 0 {
			// fast path: a run of clean quanta goes to the stdlib decoder
			j := i
			for j < len(p) && b64std[p[j]] {
				j++
			}
			if k := (j - i) &^ 3; k >= 4 {
				for k > 0 {
					room := (cap(d.out) - len(d.out)) / 3 * 4
					if room < 4 {
						if err := d.flush(); err != nil {
							return 0, err
						}
						continue
					}
					c := min(k, room)
					n, _ := base64.StdEncoding.Decode(d.out[len(d.out):len(d.out)+c/4*3], p[i:i+c])
					d.out = d.out[:len(d.out)+n]
					i += c
					k -= c
				}
				continue
			}
		}
		c := p[i]
		i++
		v := b64val[c]
		if v == 0xff {
			switch c {
			case '\r', '\n', ' ', '\t':
			case '=':
				d.flushPartial()
			default:
				d.bad++
			}
			continue
		}
		d.q[d.n] = v
		d.n++
		if d.n == 4 {
			d.out = append(d.out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2, d.q[2]<<6|d.q[3])
			d.n = 0
			if len(d.out) >= cap(d.out)-3 {
				if err := d.flush(); err != nil {
					return 0, err
				}
			}
		}
	}
	return len(p), nil
}

func (d *base64Dec) flushPartial() {
	switch d.n {
	case 1:
		d.bad++
	case 2:
		d.out = append(d.out, d.q[0]<<2|d.q[1]>>4)
	case 3:
		d.out = append(d.out, d.q[0]<<2|d.q[1]>>4, d.q[1]<<4|d.q[2]>>2)
	}
	d.n = 0
}

func (d *base64Dec) flush() error {
	if len(d.out) == 0 {
		return nil
	}
	_, err := d.w.Write(d.out)
	d.out = d.out[:0]
	return err
}

func (d *base64Dec) Close() error { d.flushPartial(); return d.flush() }
func (d *base64Dec) Bad() int64   { return d.bad }

// qpDec decodes quoted-printable: =XX (either case), soft line breaks
// (also with whitespace between '=' and the line end); an '=' that starts
// nothing valid is kept literally.
type qpDec struct {
	w     io.Writer
	state int // 0 normal, 1 after '=', 2 after '=' + hex digit, 3 after '=' + blanks
	h1    byte
	blank []byte
	bad   int64
	out   []byte
	bufp  *[]byte // pooled backing of out
}

func newQPDec(w io.Writer) *qpDec {
	bp := getCopyBuf()
	return &qpDec{w: w, out: (*bp)[:0], bufp: bp}
}

// release gives the output buffer back after Close.
func (d *qpDec) release() {
	if d.bufp != nil {
		putCopyBuf(d.bufp)
		d.bufp, d.out = nil, nil
	}
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

func (d *qpDec) Write(p []byte) (int, error) {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch d.state {
		case 0:
			if c == '=' {
				d.state = 1
				continue
			}
			d.out = append(d.out, c)
		case 1:
			switch {
			case c == '\n':
				d.state = 0 // soft break
			case c == '\r':
				// soft break; the '\n' that follows is swallowed in state 3
				d.state = 3
				d.blank = d.blank[:0]
			case c == ' ' || c == '\t':
				d.state = 3
				d.blank = append(d.blank[:0], c)
			default:
				if _, ok := unhex(c); ok {
					d.h1 = c
					d.state = 2
					continue
				}
				d.bad++
				d.out = append(d.out, '=')
				d.state = 0
				i--
			}
		case 2:
			hi, _ := unhex(d.h1)
			if lo, ok := unhex(c); ok {
				d.out = append(d.out, hi<<4|lo)
				d.state = 0
				continue
			}
			d.bad++
			d.out = append(d.out, '=', d.h1)
			d.state = 0
			i--
		case 3:
			switch c {
			case ' ', '\t', '\r':
				if len(d.blank) < 256 {
					d.blank = append(d.blank, c)
				}
			case '\n':
				d.state = 0
			default:
				// '=' followed by blanks and then text: not a soft break
				d.bad++
				d.out = append(d.out, '=')
				d.out = append(d.out, d.blank...)
				d.state = 0
				i--
			}
		}
		if len(d.out) >= cap(d.out)-512 {
			if err := d.flush(); err != nil {
				return 0, err
			}
		}
	}
	return len(p), nil
}

func (d *qpDec) flush() error {
	if len(d.out) == 0 {
		return nil
	}
	_, err := d.w.Write(d.out)
	d.out = d.out[:0]
	return err
}

func (d *qpDec) Close() error {
	switch d.state {
	case 1:
		d.out = append(d.out, '=')
	case 2:
		d.out = append(d.out, '=', d.h1)
	}
	d.state = 0
	return d.flush()
}
func (d *qpDec) Bad() int64 { return d.bad }

// uuDec decodes uuencoded lines (and the "begin"/"end" frame around them)
// from a stream split at arbitrary points. Names from "begin" lines are
// reported through onBegin.
type uuDec struct {
	w       io.Writer
	line    []byte
	long    bool
	begun   bool
	ended   bool
	onBegin func(name string)
	bad     int64
	out     []byte
}

func newUUDec(w io.Writer) *uuDec { return &uuDec{w: w} }

const maxUULine = 1024

func (d *uuDec) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if len(d.line)+len(p) <= maxUULine {
				d.line = append(d.line, p...)
			} else {
				d.long = true
			}
			return total, nil
		}
		if len(d.line)+i <= maxUULine {
			d.line = append(d.line, p[:i]...)
		} else {
			d.long = true
		}
		p = p[i+1:]
		if !d.long {
			d.doLine(bytes.TrimRight(d.line, "\r"))
		} else {
			d.bad++
		}
		d.line, d.long = d.line[:0], false
		if len(d.out) >= 16*1024 {
			if err := d.flush(); err != nil {
				return 0, err
			}
		}
	}
	return total, nil
}

func (d *uuDec) doLine(l []byte) {
	if d.ended {
		return
	}
	if !d.begun {
		if rest, ok := bytes.CutPrefix(l, []byte("begin ")); ok {
			d.begun = true
			if _, name, ok := bytes.Cut(bytes.TrimLeft(rest, " "), []byte(" ")); ok && d.onBegin != nil {
				d.onBegin(string(name))
			}
			return
		}
		// bodies without a begin line: decode what looks like uu data
	}
	if bytes.Equal(l, []byte("end")) {
		d.ended = true
		return
	}
	d.out = uuDecodeLine(d.out, l, &d.bad)
}

// uuDecodeLine appends the bytes one uuencoded line carries. The length
// character says how many; missing characters count as zero (trailing
// blanks are often stripped in transit).
func uuDecodeLine(out, l []byte, bad *int64) []byte {
	if len(l) == 0 {
		return out
	}
	n := int((l[0] - ' ') & 0x3f)
	if n == 0 {
		return out
	}
	l = l[1:]
	// at most one character (a stripped trailing blank) may be missing;
	// a shorter line is not uuencoded data (e.g. a mangled "end")
	if len(l) < (n*4+2)/3-1 {
		*bad++
		return out
	}
	get := func(i int) byte {
		if i < len(l) {
			c := l[i]
			if c < ' ' || c > '`' {
				*bad++
			}
			return (c - ' ') & 0x3f
		}
		return 0
	}
	for i := 0; n > 0; i += 4 {
		a, b, c, e := get(i), get(i+1), get(i+2), get(i+3)
		t := [3]byte{a<<2 | b>>4, b<<4 | c>>2, c<<6 | e}
		k := min(n, 3)
		out = append(out, t[:k]...)
		n -= k
		if i > 4*64 {
			break
		}
	}
	return out
}

func (d *uuDec) flush() error {
	if len(d.out) == 0 {
		return nil
	}
	_, err := d.w.Write(d.out)
	d.out = d.out[:0]
	return err
}

func (d *uuDec) Close() error {
	if len(d.line) > 0 && !d.long {
		d.doLine(bytes.TrimRight(d.line, "\r"))
		d.line = d.line[:0]
	}
	return d.flush()
}
func (d *uuDec) Bad() int64 { return d.bad }
