// Package cpio reads cpio archives in all four formats in use: "new" ASCII
// (070701), "crc" (070702), portable ASCII "odc" (070707) and old binary
// (octal 070707 as a 16-bit word, either byte order). It is ours because no
// pure-Go cpio reader is available in our dependency set; it reads as a
// stream and never buffers member data, and bounds header fields so hostile
// input cannot make it allocate.
package cpio

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxNameLen bounds a member name; longer names make the archive invalid.
const MaxNameLen = 64 * 1024

// Header describes one member.
type Header struct {
	Name string
	Mode int64 // Unix mode bits, including the file type (S_IFMT)
	Size int64
}

// File type bits of Mode.
const (
	TypeMask    = 0o170000
	TypeReg     = 0o100000
	TypeDir     = 0o040000
	TypeSymlink = 0o120000
)

// IsRegular reports a regular file.
func (h *Header) IsRegular() bool { return h.Mode&TypeMask == TypeReg || h.Mode&TypeMask == 0 }

// ErrFormat is returned for data that is not a cpio archive.
var ErrFormat = errors.New("cpio: invalid header")

// Reader reads members in order; Read reads the current member's data.
type Reader struct {
	r      *bufio.Reader
	remain int64 // data bytes of the current member left
	pad    int64 // padding after the data
	off    int64
	done   bool
}

// NewReader starts reading a cpio archive.
func NewReader(r io.Reader) *Reader { return &Reader{r: bufio.NewReader(r)} }

func (r *Reader) skip(n int64) error {
	if n <= 0 {
		return nil
	}
	k, err := io.CopyN(io.Discard, r.r, n)
	r.off += k
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return err
}

func (r *Reader) full(b []byte) error {
	k, err := io.ReadFull(r.r, b)
	r.off += int64(k)
	return err
}

// Next advances to the next member; io.EOF after the TRAILER!!! entry (or
// at a clean end of input).
func (r *Reader) Next() (*Header, error) {
	if r.done {
		return nil, io.EOF
	}
	if err := r.skip(r.remain + r.pad); err != nil {
		return nil, err
	}
	r.remain, r.pad = 0, 0
	magic, err := r.r.Peek(6)
	if err != nil {
		if len(magic) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		if len(magic) < 2 {
			return nil, io.ErrUnexpectedEOF
		}
	}
	var h *Header
	switch {
	case len(magic) == 6 && (string(magic) == "070701" || string(magic) == "070702"):
		h, err = r.newc()
	case len(magic) == 6 && string(magic) == "070707":
		h, err = r.odc()
	case magic[0] == 0xc7 && magic[1] == 0x71:
		h, err = r.bin(binary.LittleEndian)
	case magic[0] == 0x71 && magic[1] == 0xc7:
		h, err = r.bin(binary.BigEndian)
	default:
		return nil, ErrFormat
	}
	if err != nil {
		return nil, err
	}
	if h.Name == "TRAILER!!!" {
		r.done = true
		return nil, io.EOF
	}
	r.remain = h.Size
	return h, nil
}

func hexField(b []byte) (int64, error) {
	v, err := strconv.ParseUint(string(b), 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: bad hex field %q", ErrFormat, b)
	}
	return int64(v), nil
}

func octField(b []byte) (int64, error) {
	v, err := strconv.ParseUint(string(b), 8, 40)
	if err != nil {
		return 0, fmt.Errorf("%w: bad octal field %q", ErrFormat, b)
	}
	return int64(v), nil
}

func pad4(n int64) int64 { return (4 - n%4) % 4 }

func (r *Reader) name(n int64) (string, error) {
	if n <= 0 || n > MaxNameLen {
		return "", fmt.Errorf("%w: name length %d", ErrFormat, n)
	}
	b := make([]byte, n)
	if err := r.full(b); err != nil {
		return "", err
	}
	if b[n-1] == 0 {
		b = b[:n-1]
	}
	return string(b), nil
}

func (r *Reader) newc() (*Header, error) {
	var b [110]byte
	if err := r.full(b[:]); err != nil {
		return nil, err
	}
	f := func(k int) (int64, error) { return hexField(b[6+8*k : 14+8*k]) }
	mode, err := f(1)
	if err != nil {
		return nil, err
	}
	size, err := f(6)
	if err != nil {
		return nil, err
	}
	nlen, err := f(11)
	if err != nil {
		return nil, err
	}
	name, err := r.name(nlen)
	if err != nil {
		return nil, err
	}
	if err := r.skip(pad4(110 + nlen)); err != nil {
		return nil, err
	}
	r.pad = pad4(size)
	return &Header{Name: name, Mode: mode, Size: size}, nil
}

func (r *Reader) odc() (*Header, error) {
	var b [76]byte
	if err := r.full(b[:]); err != nil {
		return nil, err
	}
	mode, err := octField(b[18:24])
	if err != nil {
		return nil, err
	}
	nlen, err := octField(b[59:65])
	if err != nil {
		return nil, err
	}
	size, err := octField(b[65:76])
	if err != nil {
		return nil, err
	}
	name, err := r.name(nlen)
	if err != nil {
		return nil, err
	}
	return &Header{Name: name, Mode: mode, Size: size}, nil
}

func (r *Reader) bin(bo binary.ByteOrder) (*Header, error) {
	var b [26]byte
	if err := r.full(b[:]); err != nil {
		return nil, err
	}
	w := func(k int) int64 { return int64(bo.Uint16(b[2*k:])) }
	mode := w(3)
	nlen := w(10)
	size := w(11)<<16 | w(12)
	name, err := r.name(nlen)
	if err != nil {
		return nil, err
	}
	if nlen%2 == 1 {
		if err := r.skip(1); err != nil {
			return nil, err
		}
	}
	r.pad = size % 2
	return &Header{Name: name, Mode: mode, Size: size}, nil
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
	r.off += int64(n)
	if err == io.EOF && r.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}
