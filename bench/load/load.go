// Package load is the SMTP load generator of mavis's end-to-end benchmark: like Postfix's smtp-source
// without -d (one session per message: EHLO, MAIL, RCPT, DATA, QUIT), run by a fixed number of
// concurrent workers for a fixed time, but it times every message so that it can report latency
// percentiles as well as throughput. smtp-source only reports a total, which is why we wrote this
// small client instead of driving smtp-source. The message is dot-stuffed once and written as one
// buffer, so the client costs the same whichever server it talks to.
package load

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/textproto"
	"slices"
	"strings"
	"sync"
	"time"
)

// Config is one load run.
type Config struct {
	Addr        string        // server host:port
	Concurrency int           // parallel sessions
	Duration    time.Duration // measured time
	Warmup      time.Duration // unmeasured time before it
	Message     []byte        // the message text (CRLF line ends)
	From, To    string        // envelope
	Helo        string
	Timeout     time.Duration // per session; default 2 minutes
}

// Result of a run; latencies are from connect to the reply to the end of data.
type Result struct {
	Sent      int // messages accepted (2xx after the dot) in the measured time
	Failed    int // sessions that failed in the measured time
	FirstErr  error
	Elapsed   time.Duration
	Latencies []time.Duration // sorted
}

// Rate is accepted messages per second.
func (r Result) Rate() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Sent) / r.Elapsed.Seconds()
}

// Mean latency.
func (r Result) Mean() time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	var sum time.Duration
	for _, l := range r.Latencies {
		sum += l
	}
	return sum / time.Duration(len(r.Latencies))
}

// Percentile returns the p-th percentile (0 < p ≤ 100, nearest rank) of the latencies.
func (r Result) Percentile(p float64) time.Duration {
	return Percentile(r.Latencies, p)
}

// Percentile is the nearest-rank percentile of sorted durations (0 for none).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// Stuff returns msg with CRLF line ends, dot-stuffed, followed by the final ".\r\n".
func Stuff(msg []byte) []byte {
	msg = bytes.ReplaceAll(msg, []byte("\r\n"), []byte("\n"))
	var b bytes.Buffer
	b.Grow(len(msg) + len(msg)/40 + 8)
	for line := range bytes.Lines(msg) {
		line = bytes.TrimSuffix(line, []byte("\n"))
		if len(line) > 0 && line[0] == '.' {
			b.WriteByte('.')
		}
		b.Write(line)
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n")
	return b.Bytes()
}

// MakeMessage builds a plain-text message of about size bytes.
func MakeMessage(size int, from, to string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: mavis bench %d bytes\r\n", from, to, size)
	fmt.Fprintf(&b, "Message-ID: <bench-%d@bench.test>\r\nDate: Sat, 21 Nov 2026 08:00:00 +0000\r\n", size)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n")
	line := "The quick brown fox jumps over the lazy dog while mavis measures throughput.\r\n"
	for b.Len()+len(line) <= size {
		b.WriteString(line)
	}
	if pad := size - b.Len(); pad > 2 {
		b.WriteString(strings.Repeat("x", pad-2) + "\r\n")
	}
	return b.Bytes()
}

// Run drives cfg.Concurrency workers for cfg.Warmup + cfg.Duration.
func Run(ctx context.Context, cfg Config) (Result, error) {
	if cfg.Concurrency < 1 || cfg.Duration <= 0 {
		return Result{}, errors.New("load: need Concurrency ≥ 1 and Duration > 0")
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.Helo == "" {
		cfg.Helo = "client.bench.test"
	}
	data := Stuff(cfg.Message)
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)

	var (
		mu  sync.Mutex
		res Result
		wg  sync.WaitGroup
	)
	for range cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			sent, failed := 0, 0
			var firstErr error
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				d, err := session(ctx, cfg, data)
				if t0.Before(measureFrom) {
					continue
				}
				if err != nil {
					failed++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				sent++
				lat = append(lat, d)
			}
			mu.Lock()
			defer mu.Unlock()
			res.Sent += sent
			res.Failed += failed
			res.Latencies = append(res.Latencies, lat...)
			if res.FirstErr == nil {
				res.FirstErr = firstErr
			}
		}()
	}
	wg.Wait()
	// messages started before end are counted; so is the time they took to finish
	res.Elapsed = time.Since(measureFrom)
	slices.Sort(res.Latencies)
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("load run: %w", err)
	}
	return res, nil
}

// session sends one message in one SMTP session and returns connect → end-of-data reply time.
func session(ctx context.Context, cfg Config, data []byte) (time.Duration, error) {
	t0 := time.Now()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return 0, fmt.Errorf("dial: %w", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(t0.Add(cfg.Timeout))
	r := textproto.NewReader(bufio.NewReader(conn))
	w := bufio.NewWriterSize(conn, 64*1024)
	expect := func(stage string, code int) error {
		if _, msg, err := r.ReadResponse(code); err != nil {
			return fmt.Errorf("%s: %w (%s)", stage, err, msg)
		}
		return nil
	}
	cmd := func(stage, line string, code int) error {
		if _, err := w.WriteString(line + "\r\n"); err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
		if err := w.Flush(); err != nil {
			return fmt.Errorf("%s: %w", stage, err)
		}
		return expect(stage, code)
	}
	if err := expect("greeting", 220); err != nil {
		return 0, err
	}
	if err := cmd("EHLO", "EHLO "+cfg.Helo, 250); err != nil {
		return 0, err
	}
	if err := cmd("MAIL", "MAIL FROM:<"+cfg.From+">", 2); err != nil {
		return 0, err
	}
	if err := cmd("RCPT", "RCPT TO:<"+cfg.To+">", 2); err != nil {
		return 0, err
	}
	if err := cmd("DATA", "DATA", 354); err != nil {
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	if err := w.Flush(); err != nil {
		return 0, fmt.Errorf("data: %w", err)
	}
	if err := expect("end of data", 2); err != nil {
		return 0, err
	}
	lat := time.Since(t0)
	_ = cmd("QUIT", "QUIT", 221)
	return lat, nil
}
