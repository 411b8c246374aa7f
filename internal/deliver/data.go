package deliver

import (
	"bufio"
	"bytes"
)

// dataWriter streams message text in the SMTP DATA encoding, as amavis's
// Amavis::Out::SMTP::Protocol::datasend does: every CR is dropped and every
// LF is sent as CRLF (so CRLF, bare LF and bare CR all end up as proper line
// ends or nothing), a NUL octet becomes the "modified UTF-8" C0 80 (IMAP
// servers reject NULs), and a line starting with '.' gets a second dot.
type dataWriter struct {
	w    *bufio.Writer
	bol  bool // at the beginning of a line
	nuls int  // NUL octets replaced
}

func newDataWriter(w *bufio.Writer) *dataWriter { return &dataWriter{w: w, bol: true} }

// Write encodes p. It never buffers more than the underlying bufio.Writer.
// Lines are found with bytes.IndexByte (vectorised), so long messages are
// encoded at memory speed.
func (d *dataWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if d.bol && p[0] == '\r' {
			p = p[1:] // dropped anyway; a dot after it still starts the line
			continue
		}
		if d.bol && p[0] == '.' {
			if _, err := d.w.WriteString(".."); err != nil {
				return n - len(p), err
			}
			p = p[1:]
			d.bol = false
			continue
		}
		seg := p
		i := bytes.IndexByte(p, '\n')
		if i >= 0 {
			seg, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		wrote, err := d.writeSeg(seg)
		if err != nil {
			return n - len(p), err
		}
		if wrote {
			d.bol = false
		}
		if i >= 0 {
			if _, err := d.w.WriteString("\r\n"); err != nil {
				return n - len(p), err
			}
			d.bol = true
		}
	}
	return n, nil
}

// writeSeg writes a piece of a line, dropping CRs and replacing NULs.
func (d *dataWriter) writeSeg(seg []byte) (wrote bool, err error) {
	for len(seg) > 0 {
		j := bytes.IndexByte(seg, '\r')
		if k := bytes.IndexByte(seg, 0); k >= 0 && (j < 0 || k < j) {
			j = k
		}
		if j < 0 {
			_, err = d.w.Write(seg)
			return true, err
		}
		if j > 0 {
			if _, err = d.w.Write(seg[:j]); err != nil {
				return true, err
			}
			wrote = true
		}
		if seg[j] == 0 {
			d.nuls++
			if _, err = d.w.WriteString("\xc0\x80"); err != nil {
				return true, err
			}
			wrote = true
		}
		seg = seg[j+1:]
	}
	return wrote, nil
}

// end terminates the data: a line end if the text did not end with one, then
// the dot.
func (d *dataWriter) end() error {
	if !d.bol {
		if _, err := d.w.WriteString("\r\n"); err != nil {
			return err
		}
	}
	_, err := d.w.WriteString(".\r\n")
	d.bol = true
	return err
}
