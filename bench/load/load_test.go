package load

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	for _, tc := range []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 50, 0},
		{ms(7), 99, 7 * time.Millisecond},
		{ms(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{ms(1, 2, 3, 4), 99, 4 * time.Millisecond},
		{ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 10), 90, 9 * time.Millisecond},
		{ms(1, 2, 3), 0, 1 * time.Millisecond},
	} {
		if got := Percentile(tc.in, tc.p); got != tc.want {
			t.Errorf("Percentile(%v, %v) = %v, want %v", tc.in, tc.p, got, tc.want)
		}
	}
	r := Result{Latencies: ms(1, 2, 3, 6)}
	if r.Mean() != 3*time.Millisecond {
		t.Errorf("Mean = %v", r.Mean())
	}
}

func TestStuff(t *testing.T) {
	got := Stuff([]byte("a\n.b\r\n..c\nd"))
	want := "a\r\n..b\r\n...c\r\nd\r\n.\r\n"
	if string(got) != want {
		t.Errorf("Stuff = %q, want %q", got, want)
	}
}

func TestMakeMessage(t *testing.T) {
	for _, size := range []int{2048, 1 << 20} {
		m := MakeMessage(size, "a@b.test", "c@d.test")
		if len(m) != size {
			t.Errorf("MakeMessage(%d) is %d bytes", size, len(m))
		}
		if !bytes.HasSuffix(m, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(m, []byte("\r\n"), nil), []byte("\n")) {
			t.Errorf("MakeMessage(%d): bad line ends", size)
		}
	}
}

// A short real run against Postfix's smtp-sink.
func TestRunAgainstSmtpSink(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := StartSink(ctx, 0)
	if err != nil {
		if os.Getenv("MAVIS_REQUIRE_INTEGRATION") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	defer s.Stop()
	res, err := Run(ctx, Config{
		Addr: s.Addr, Concurrency: 2, Duration: 300 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Message: MakeMessage(2048, "a@b.test", "c@d.test"), From: "a@b.test", To: "c@d.test",
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed != 0 || res.Sent == 0 {
		t.Fatalf("sent %d failed %d: %v", res.Sent, res.Failed, res.FirstErr)
	}
	if len(res.Latencies) != res.Sent || res.Percentile(50) <= 0 || res.Percentile(99) < res.Percentile(50) {
		t.Errorf("latencies inconsistent: n=%d p50=%v p99=%v", len(res.Latencies), res.Percentile(50), res.Percentile(99))
	}
	// a dead server: every session fails, none is counted as sent
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	res, err = Run(ctx, Config{Addr: "127.0.0.1:" + strconv.Itoa(port), Concurrency: 1, Duration: 100 * time.Millisecond,
		Message: []byte("x\r\n"), From: "a@b.test", To: "c@d.test"})
	if err != nil || res.Sent != 0 || res.Failed == 0 || res.FirstErr == nil {
		t.Errorf("dead server: sent %d failed %d err %v / %v", res.Sent, res.Failed, res.FirstErr, err)
	}
}
