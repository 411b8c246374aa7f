package smtpd

import (
	"bufio"
	"context"
	"net"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

// benchHandler reads nothing and accepts everything.
type benchHandler struct{}

func (benchHandler) Process(_ context.Context, m *mail.Message) mail.Outcome {
	return mail.Outcome{SMTP: mail.Reply{Code: 250, Enh: "2.0.0", Text: "Ok"}}
}

// BenchmarkServer measures messages per second through one pipelining
// session with a trivial handler; allocations are per message, server and
// client together.
func BenchmarkServer(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"2KB", 2 << 10}, {"1MB", 1 << 20}} {
		b.Run(size.name, func(b *testing.B) {
			line := strings.Repeat("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_=+", 1) + "\r\n"
			body := "From: a@b.example\r\nTo: c@d.example\r\nSubject: bench\r\n\r\n"
			body += strings.Repeat(line, (size.n-len(body))/len(line))
			msg := []byte(body + ".\r\n")
			envelope := []byte("MAIL FROM:<a@b.example> SIZE=2048\r\nRCPT TO:<c@d.example>\r\nDATA\r\n")

			ts := startServer(b, benchHandler{}, nil, 2, false)
			conn, err := net.Dial("tcp", ts.addr)
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			br := bufio.NewReader(conn)
			readReply := func(want string) {
				l, err := br.ReadSlice('\n')
				if err != nil || !strings.HasPrefix(string(l), want) {
					b.Fatalf("reply %q %v, want %s", l, err, want)
				}
			}
			readReply("220 ")
			conn.Write([]byte("EHLO bench\r\n"))
			for {
				l, err := br.ReadSlice('\n')
				if err != nil {
					b.Fatal(err)
				}
				if l[3] == ' ' {
					break
				}
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				conn.Write(envelope)
				readReply("250 2.1.0")
				readReply("250 2.1.5")
				readReply("354 ")
				conn.Write(msg)
				readReply("250 2.0.0 Ok")
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
			conn.Write([]byte("QUIT\r\n"))
			readReply("221 ")
		})
	}
}
