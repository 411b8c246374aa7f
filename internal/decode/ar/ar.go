// Package ar reads Unix ar archives (the container of .deb packages and of
// static libraries), common and GNU variants: the "//" long-name table and
// "/N" references, and BSD "#1/len" names. It is ours because no pure-Go
// reader is in our dependency set; it streams member data and bounds every
// header-driven allocation.
package ar

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Magic starts every ar archive.
const Magic = "!<arch>\n"

// MaxNameTable bounds the GNU long-name table kept in memory.
const MaxNameTable = 1 << 20

// Header describes one member.
type Header struct {
	Name string
	Size int64
	Mode int64
}

// ErrFormat is returned for input that is not an ar archive.
var ErrFormat = errors.New("ar: invalid archive")

// Reader reads members in order.
type Reader struct {
	r      *bufio.Reader
	remain int64
	pad    int64
	names  []byte
}

// NewReader checks the magic and starts reading.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReader(r)
	var m [8]byte
	if _, err := io.ReadFull(br, m[:]); err != nil || string(m[:]) != Magic {
		return nil, ErrFormat
	}
	return &Reader{r: br}, nil
}

func (r *Reader) skip(n int64) error {
	if n <= 0 {
		return nil
	}
	_, err := io.CopyN(io.Discard, r.r, n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

// Next advances to the next member (symbol tables and the name table are
// consumed silently); io.EOF at the end.
func (r *Reader) Next() (*Header, error) {
	for {
		if err := r.skip(r.remain + r.pad); err != nil {
			return nil, err
		}
		r.remain, r.pad = 0, 0
		var b [60]byte
		n, err := io.ReadFull(r.r, b[:])
		if n == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if n == 1 && b[0] == '\n' { // stray final padding
			return nil, io.EOF
		}
		if err != nil {
			return nil, io.ErrUnexpectedEOF
		}
		if b[58] != '`' || b[59] != '\n' {
			return nil, fmt.Errorf("%w: bad member header terminator", ErrFormat)
		}
		size, err := strconv.ParseInt(strings.TrimSpace(string(b[48:58])), 10, 64)
		if err != nil || size < 0 {
			return nil, fmt.Errorf("%w: bad size", ErrFormat)
		}
		mode, _ := strconv.ParseInt(strings.TrimSpace(string(b[40:48])), 8, 64)
		name := strings.TrimRight(string(b[0:16]), " ")
		r.remain, r.pad = size, size%2
		switch {
		case name == "/" || name == "/SYM64/" || name == "__.SYMDEF" || name == "__.SYMDEF SORTED":
			continue
		case name == "//":
			if size > MaxNameTable {
				return nil, fmt.Errorf("%w: long-name table of %d bytes", ErrFormat, size)
			}
			r.names = make([]byte, size)
			if _, err := io.ReadFull(r.r, r.names); err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			r.remain = 0
			continue
		case strings.HasPrefix(name, "#1/"):
			l, err := strconv.Atoi(name[3:])
			if err != nil || l < 0 || int64(l) > size || l > 4096 {
				return nil, fmt.Errorf("%w: bad BSD name length", ErrFormat)
			}
			nb := make([]byte, l)
			if _, err := io.ReadFull(r.r, nb); err != nil {
				return nil, io.ErrUnexpectedEOF
			}
			r.remain -= int64(l)
			name = string(bytes.TrimRight(nb, "\x00"))
		case len(name) > 1 && name[0] == '/' && name[1] >= '0' && name[1] <= '9':
			off, err := strconv.Atoi(name[1:])
			if err != nil || off < 0 || off >= len(r.names) {
				return nil, fmt.Errorf("%w: bad long-name reference", ErrFormat)
			}
			s := r.names[off:]
			if e := bytes.Index(s, []byte("/\n")); e >= 0 {
				s = s[:e]
			} else if e := bytes.IndexByte(s, '\n'); e >= 0 {
				s = s[:e]
			}
			name = string(s)
		default:
			name = strings.TrimSuffix(name, "/")
		}
		return &Header{Name: name, Size: r.remain, Mode: mode}, nil
	}
}

// Read reads the current member's data.
func (r *Reader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	n, err := r.r.Read(p)
	r.remain -= int64(n)
	if err == io.EOF && r.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
