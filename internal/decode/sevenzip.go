package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/bodgit/sevenzip"
	"github.com/ulikunitz/xz/lzma"
)

// bodgit/sevenzip's LZMA and LZMA2 coders allocate whatever dictionary the
// archive declares (up to 4 GiB) before decoding a byte. We replace them,
// once at start-up, with the same coders behind a maxDict check: a 7z asking
// for more becomes undecipherable instead of exhausting memory. This is the
// only process-wide registration the package makes.
func init() {
	sevenzip.RegisterDecompressor([]byte{0x03, 0x01, 0x01}, sevenzip.Decompressor(cappedLZMA))
	sevenzip.RegisterDecompressor([]byte{0x21}, sevenzip.Decompressor(cappedLZMA2))
}

type readCloser struct {
	io.Reader
	c io.Closer
}

func (r readCloser) Close() error { return r.c.Close() }

var errDict = errors.New("dictionary exceeds the decoder's memory limit")

func cappedLZMA(p []byte, size uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	if len(readers) != 1 || len(p) != 5 {
		return nil, errors.New("lzma: bad coder properties")
	}
	if dict := binary.LittleEndian.Uint32(p[1:]); dict > maxDict {
		return nil, fmt.Errorf("lzma: %w (%d bytes)", errDict, dict)
	}
	h := bytes.NewBuffer(append([]byte{}, p...))
	_ = binary.Write(h, binary.LittleEndian, size)
	r, err := lzma.ReaderConfig{DictCap: maxDict}.NewReader(io.MultiReader(h, readers[0]))
	if err != nil {
		return nil, fmt.Errorf("lzma: %w", err)
	}
	return readCloser{r, readers[0]}, nil
}

func cappedLZMA2(p []byte, _ uint64, readers []io.ReadCloser) (io.ReadCloser, error) {
	if len(readers) != 1 || len(p) != 1 || p[0] > 40 {
		return nil, errors.New("lzma2: bad coder properties")
	}
	dict := int64(2|(int(p[0])&1)) << (p[0]/2 + 11)
	if p[0] == 40 {
		dict = 1<<32 - 1
	}
	if dict > maxDict {
		return nil, fmt.Errorf("lzma2: %w (%d bytes)", errDict, dict)
	}
	r, err := lzma.Reader2Config{DictCap: int(dict)}.NewReader2(readers[0])
	if err != nil {
		return nil, fmt.Errorf("lzma2: %w", err)
	}
	return readCloser{r, readers[0]}, nil
}
