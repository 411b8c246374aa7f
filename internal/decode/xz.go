package decode

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/ulikunitz/xz/lzma"
)

// xzReader reads the .xz container itself and hands each block's LZMA2 data
// to ulikunitz/xz/lzma. We do not use ulikunitz/xz's own reader because it
// takes a block's dictionary size from the stream (up to 4 GiB, allocated
// at once) and its DictCap setting is only a minimum; here every block's
// dictionary is checked against maxDict before anything is allocated.
type xzReader struct {
	br    *countingByteReader
	cur   io.Reader
	check int
	state int // 0 stream header, 1 block header, 2 in block, 3 done
	err   error
}

type countingByteReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingByteReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingByteReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

func newXZReader(r io.Reader) io.Reader {
	br, ok := r.(*bufio.Reader)
	if !ok {
		br = bufio.NewReader(r)
	}
	return &xzReader{br: &countingByteReader{r: br}}
}

var errXZ = errors.New("xz: corrupt stream")

func (x *xzReader) full(b []byte) error {
	_, err := io.ReadFull(x.br, b)
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func (x *xzReader) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 9; i++ {
		b, err := x.br.ReadByte()
		if err != nil {
			return 0, io.ErrUnexpectedEOF
		}
		v |= uint64(b&0x7f) << (7 * i)
		if b&0x80 == 0 {
			return v, nil
		}
	}
	return 0, errXZ
}

func checkSize(t byte) int {
	switch {
	case t == 0:
		return 0
	case t <= 3:
		return 4
	case t <= 6:
		return 8
	case t <= 9:
		return 16
	case t <= 12:
		return 32
	}
	return 64
}

func (x *xzReader) Read(p []byte) (int, error) {
	for x.err == nil {
		switch x.state {
		case 0:
			var h [12]byte
			if err := x.full(h[:]); err != nil {
				x.err = err
				break
			}
			if !bytes.Equal(h[:6], []byte("\xfd7zXZ\x00")) || h[6] != 0 || h[7] > 0x0f {
				x.err = fmt.Errorf("%w: bad stream header", errXZ)
				break
			}
			x.check = checkSize(h[7])
			x.state = 1
		case 1:
			x.err = x.blockHeader()
		case 2:
			n, err := x.cur.Read(p)
			if err == io.EOF {
				err = x.endBlock()
				x.state = 1
			}
			if n > 0 || err != nil {
				if err != nil {
					x.err = err
				}
				return n, err
			}
		case 3:
			return 0, io.EOF
		}
	}
	return 0, x.err
}

func (x *xzReader) blockHeader() error {
	start := x.br.n
	size, err := x.br.ReadByte()
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	if size == 0 {
		return x.index(start)
	}
	hlen := (int64(size) + 1) * 4
	flags, err := x.br.ReadByte()
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	if flags&0x3c != 0 {
		return fmt.Errorf("%w: reserved block flags", errXZ)
	}
	if flags&0x40 != 0 {
		if _, err := x.varint(); err != nil {
			return err
		}
	}
	if flags&0x80 != 0 {
		if _, err := x.varint(); err != nil {
			return err
		}
	}
	nf := int(flags&3) + 1
	var dict int64 = -1
	for k := 0; k < nf; k++ {
		id, err := x.varint()
		if err != nil {
			return err
		}
		ps, err := x.varint()
		if err != nil {
			return err
		}
		if ps > 64 {
			return fmt.Errorf("%w: filter properties too long", errXZ)
		}
		props := make([]byte, ps)
		if err := x.full(props); err != nil {
			return err
		}
		if id != 0x21 || k != nf-1 || ps != 1 {
			return fmt.Errorf("xz: unsupported filter %#x", id)
		}
		dict, err = lzma.DecodeDictCap(props[0])
		if err != nil {
			return fmt.Errorf("%w: %v", errXZ, err)
		}
	}
	used := x.br.n - start
	if used > hlen-4 {
		return fmt.Errorf("%w: block header overflow", errXZ)
	}
	pad := make([]byte, hlen-used) // padding and CRC32
	if err := x.full(pad); err != nil {
		return err
	}
	if dict > maxDict {
		return fmt.Errorf("xz: dictionary of %d bytes exceeds the %d limit", dict, maxDict)
	}
	cfg := lzma.Reader2Config{DictCap: int(max(dict, lzma.MinDictCap))}
	x.br.n = 0 // count the compressed data for the padding
	r, err := cfg.NewReader2(x.br)
	if err != nil {
		return fmt.Errorf("xz: %w", err)
	}
	x.cur = r
	x.state = 2
	return nil
}

func (x *xzReader) endBlock() error {
	pad := (4 - x.br.n%4) % 4
	skip := make([]byte, pad+int64(x.check))
	return x.full(skip)
}

// index skips the index and footer, then any stream padding, and starts
// the next concatenated stream if there is one.
func (x *xzReader) index(start int64) error {
	n, err := x.varint()
	if err != nil {
		return err
	}
	for k := uint64(0); k < n; k++ {
		if _, err := x.varint(); err != nil {
			return err
		}
		if _, err := x.varint(); err != nil {
			return err
		}
	}
	used := x.br.n - start
	skip := make([]byte, (4-used%4)%4+4+12) // padding, CRC32, stream footer
	if err := x.full(skip); err != nil {
		return err
	}
	if !bytes.Equal(skip[len(skip)-2:], []byte("YZ")) {
		return fmt.Errorf("%w: bad stream footer", errXZ)
	}
	for {
		b, err := x.br.r.Peek(4)
		if len(b) == 0 && err == io.EOF {
			x.state = 3
			return nil
		}
		if len(b) < 4 {
			return fmt.Errorf("%w: trailing garbage", errXZ)
		}
		if bytes.Equal(b, []byte{0, 0, 0, 0}) {
			_, _ = x.br.r.Discard(4)
			continue
		}
		x.state = 0
		return nil
	}
}
