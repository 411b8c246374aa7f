package decode

import (
	"bufio"
	"io"
	"sync"

	"github.com/mavis-filter/mavis/internal/decode/filetype"
)

// Buffers reused across messages. Decoding a 2 KiB message used to
// allocate some 200 KiB of fixed-size buffers (the MIME line reader, one
// writer per part, the copy buffer, the type-detection head), all of which
// the garbage collector then had to clear and sweep, once per message.
// The pools hold no message state: a buffer is reset before it goes back.
var (
	lineReaders = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, lineBufSize) }}
	partWriters = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, partWriterSize) }}
	copyBufs    = sync.Pool{New: func() any { b := make([]byte, copyBufSize); return &b }}
	headBufs    = sync.Pool{New: func() any { b := make([]byte, 0, filetype.HeadSize); return &b }}
)

const (
	partWriterSize = 32 * 1024
	copyBufSize    = 32 * 1024
)

func getLineReader(r io.Reader) *bufio.Reader {
	br := lineReaders.Get().(*bufio.Reader)
	br.Reset(r)
	return br
}

func putLineReader(br *bufio.Reader) {
	br.Reset(nil)
	lineReaders.Put(br)
}

func getPartWriter(w io.Writer) *bufio.Writer {
	bw := partWriters.Get().(*bufio.Writer)
	bw.Reset(w)
	return bw
}

func putPartWriter(bw *bufio.Writer) {
	bw.Reset(nil)
	partWriters.Put(bw)
}

func getCopyBuf() *[]byte  { return copyBufs.Get().(*[]byte) }
func putCopyBuf(b *[]byte) { copyBufs.Put(b) }

// getHead returns an empty slice with capacity filetype.HeadSize.
func getHead() *[]byte {
	b := headBufs.Get().(*[]byte)
	*b = (*b)[:0]
	return b
}

func putHead(b *[]byte) { headBufs.Put(b) }
