package smtpd

import (
	"bytes"
	"io"
)

// dataState is where the DATA decoder stands.
type dataState uint8

const (
	stBOL     dataState = iota // at a line start after CRLF (or the start of data)
	stBOLBare                  // at a line start after a bare LF or bare CR
	stMid                      // inside a line
	stCR                       // saw CR inside a line or at a line start, LF may follow
	stDot                      // saw "." at a line start after CRLF
	stDotCR                    // saw ".\r" at a line start after CRLF
)

var (
	crlf    = []byte("\r\n")
	dotCRLF = []byte(".\r\n")
)

// dataDecoder turns the DATA stream into the stored message: it finds the
// end (only CRLF "." CRLF), removes stuffing dots from lines that start after
// a CRLF, writes every line end as CRLF (bare LF and bare CR included) and
// keeps a lone "." ended by a bare LF or CR as a "." line (see the package
// documentation on smuggling). It counts the RFC 1870 size of what it
// stores; past the limit it stops writing but keeps counting. It never holds
// more than the caller's buffer.
type dataDecoder struct {
	w         io.Writer
	state     dataState
	size      int64
	limit     int64 // 0 = none
	oversized bool
	err       error // first write error; writing stops after it
	slow      bool  // no fast path for plain lines (tests compare both)
}

func newDataDecoder(w io.Writer, limit int64) *dataDecoder {
	return &dataDecoder{w: w, limit: limit}
}

func (d *dataDecoder) emit(b []byte) {
	d.size += int64(len(b))
	if d.oversized || d.err != nil {
		return
	}
	if d.limit > 0 && d.size > d.limit {
		d.oversized = true
		return
	}
	if _, err := d.w.Write(b); err != nil {
		d.err = err
	}
}

// feed decodes p and returns how many bytes it consumed. done reports that
// the terminating CRLF.CRLF was seen; then n counts up to and including its
// final LF and the rest of p belongs to the next command.
func (d *dataDecoder) feed(p []byte) (n int, done bool) {
	i := 0
	for i < len(p) {
		switch d.state {
		case stBOL, stBOLBare, stMid:
			if d.state == stBOL && p[i] == '.' {
				i++
				d.state = stDot
				continue
			}
			if d.state == stBOL && !d.slow {
				// Plain CRLF lines are stored as they are: one write for
				// the whole run instead of two per line.
				if k := plainLines(p[i:]); k > 0 {
					d.emit(p[i : i+k])
					i += k
					continue
				}
			}
			j := indexLineEnd(p[i:])
			if j < 0 {
				d.emit(p[i:])
				d.state = stMid
				return len(p), false
			}
			if j > 0 {
				d.emit(p[i : i+j])
				d.state = stMid
			}
			i += j
			if p[i] == '\n' { // bare LF
				d.emit(crlf)
				d.state = stBOLBare
			} else {
				d.state = stCR
			}
			i++
		case stCR:
			d.emit(crlf)
			if p[i] == '\n' {
				i++
				d.state = stBOL
			} else { // bare CR; p[i] starts the next line
				d.state = stBOLBare
			}
		case stDot:
			switch p[i] {
			case '\r':
				i++
				d.state = stDotCR
			case '\n': // ".\n": not an end, the dot is kept
				i++
				d.emit(dotCRLF)
				d.state = stBOLBare
			default: // a stuffing dot: dropped, the rest is line content
				d.state = stMid
			}
		case stDotCR:
			if p[i] == '\n' {
				d.state = stBOL
				return i + 1, true
			}
			// ".\r" + something: a bare CR line end, the dot is kept
			d.emit(dotCRLF)
			d.state = stBOLBare
		}
	}
	return i, false
}

// plainLines returns the length of the longest prefix of p made of whole
// lines that end in CRLF, contain no other CR or LF, and (but for the
// first, which the caller checked) do not start with '.': lines the state
// machine would store unchanged, staying at stBOL.
func plainLines(p []byte) int {
	n := 0
	for n < len(p) {
		j := bytes.IndexByte(p[n:], '\n')
		if j < 1 || p[n+j-1] != '\r' || bytes.IndexByte(p[n:n+j-1], '\r') >= 0 {
			break
		}
		n += j + 1
		if n < len(p) && p[n] == '.' {
			break
		}
	}
	return n
}

// indexLineEnd returns the index of the first CR or LF in p, or -1.
func indexLineEnd(p []byte) int {
	j := bytes.IndexByte(p, '\n')
	q := p
	if j >= 0 {
		q = p[:j]
	}
	if k := bytes.IndexByte(q, '\r'); k >= 0 {
		return k
	}
	return j
}
