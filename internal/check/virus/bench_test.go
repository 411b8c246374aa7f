package virus

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
)

// benchMessage returns a clean message of about size bytes (text for small
// sizes, a binary attachment for large ones) and its decoded attachment.
func benchMessage(b *testing.B, size int) (msg, part []byte) {
	if size <= 4096 {
		body := strings.Repeat("Quarterly figures are attached as promised, see below.\r\n", size/58+1)[:size-200]
		return []byte("X-Bench: 0000000000\r\nSubject: report\r\nFrom: <a@example.net>\r\n\r\n" + body), []byte(body)
	}
	part = make([]byte, size*3/4)
	rand.Read(part)
	msg = virustest.Mail(b, "data.bin", part)
	return append([]byte("X-Bench: 0000000000\r\n"), msg...), part
}

// stamp makes every iteration's content different: clamd caches clean
// results by content hash, and mail is rarely scanned twice.
func stamp(buf []byte, i int) { copy(buf[9:19], fmt.Sprintf("%010d", i)) }

// BenchmarkClamdModes: scans per second of one message with INSTREAM (over
// the Unix socket and TCP), FILDES and CONTSCAN, on one clamd.
func BenchmarkClamdModes(b *testing.B) {
	cl := virustest.Require(b)
	for _, size := range []int{2 << 10, 1 << 20} {
		msg, _ := benchMessage(b, size)
		modes := []struct {
			name string
			s    *Clamd
			file bool // the message must be a file (in clamd's scan directory)
		}{
			{"INSTREAM-unix", clamdScanner(b, "c", "unix", cl.Socket, ClamdOptions{What: ScanMessage}), false},
			{"INSTREAM-tcp", clamdScanner(b, "c", "tcp", cl.TCP, ClamdOptions{What: ScanMessage}), false},
			{"FILDES", clamdScanner(b, "c", "unix", cl.Socket, ClamdOptions{Mode: PassFD, What: ScanParts}), true},
			{"CONTSCAN", clamdScanner(b, "c", "unix", cl.Socket, ClamdOptions{Mode: ContScan}), true},
		}
		for _, m := range modes {
			b.Run(fmt.Sprintf("size=%dKB/%s", size>>10, m.name), func(b *testing.B) {
				dir := cl.ScanTempDir(b)
				file := filepath.Join(dir, "p001")
				buf := append([]byte{}, msg...)
				req := &Request{Message: bytes.NewReader(buf), Size: int64(len(buf)), Dir: dir, Parts: []string{file}}
				b.SetBytes(int64(len(buf)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					stamp(buf, i)
					if m.file {
						b.StopTimer()
						if err := os.WriteFile(file, buf, 0o644); err != nil {
							b.Fatal(err)
						}
						b.StartTimer()
					}
					r := m.s.Scan(context.Background(), req)
					if r.Err != nil || r.Infected {
						b.Fatalf("%+v", r)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
			})
		}
	}
}

// BenchmarkWhat: the cost of streaming the raw message, the decoded parts,
// or both (the default), for a 2 KB text message and a 1 MB attachment.
func BenchmarkWhat(b *testing.B) {
	cl := virustest.Require(b)
	for _, size := range []int{2 << 10, 1 << 20} {
		msg, part := benchMessage(b, size)
		for _, w := range []What{ScanMessage, ScanParts, ScanBoth} {
			s := clamdScanner(b, "c", "unix", cl.Socket, ClamdOptions{What: w})
			b.Run(fmt.Sprintf("size=%dKB/%s", size>>10, w), func(b *testing.B) {
				dir := b.TempDir()
				file := filepath.Join(dir, "p001")
				buf := append([]byte{}, msg...)
				pbuf := append([]byte("0000000000"), part...)
				req := &Request{Message: bytes.NewReader(buf), Size: int64(len(buf)), Dir: dir, Parts: []string{file}}
				b.SetBytes(int64(len(buf)))
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					stamp(buf, i)
					b.StopTimer()
					copy(pbuf, fmt.Sprintf("%010d", i))
					if err := os.WriteFile(file, pbuf, 0o644); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					r := s.Scan(context.Background(), req)
					if r.Err != nil || r.Infected {
						b.Fatalf("%+v", r)
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "scans/s")
			})
		}
	}
}
