package clamd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
	"go.uber.org/goleak"
)

func newClient(t testing.TB, network, addr string, cfg Config) *Client {
	t.Helper()
	cfg.Network, cfg.Address = network, addr
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func bytesObj(name string, b []byte) Object {
	return Object{Name: name, R: bytes.NewReader(b), Size: int64(len(b))}
}

func TestPingVersion(t *testing.T) {
	cl := virustest.Require(t)
	for _, a := range [][2]string{{"unix", cl.Socket}, {"tcp", cl.TCP}} {
		c := newClient(t, a[0], a[1], Config{})
		if err := c.Ping(ctxT(t, 10*time.Second)); err != nil {
			t.Fatalf("%s: %v", a[0], err)
		}
		v, err := c.Version(ctxT(t, 10*time.Second))
		if err != nil || !strings.HasPrefix(v, "ClamAV ") {
			t.Fatalf("%s: Version = %q, %v", a[0], v, err)
		}
	}
}

func TestScanStreams(t *testing.T) {
	cl := virustest.Require(t)
	clamZip, err := os.ReadFile(filepath.Join(virustest.TestFilesDir, "clam.zip"))
	if err != nil {
		t.Fatal(err)
	}
	objs := []Object{
		bytesObj("clean", []byte("hello world\n")),
		bytesObj("eicar", virustest.EICAR()),
		bytesObj("eicar.zip", virustest.Zip(t, "eicar.com", virustest.EICAR())),
		bytesObj("mail", virustest.Mail(t, "eicar.zip", virustest.Zip(t, "eicar.com", virustest.EICAR()))),
		bytesObj("clam.zip", clamZip),
		{Name: "clam.exe", Path: filepath.Join(virustest.TestFilesDir, "clam.exe")},
		bytesObj("empty", nil),
	}
	want := []struct {
		st    Status
		virus string
	}{
		{Clean, ""}, {Found, virustest.EICARName}, {Found, virustest.EICARName}, {Found, virustest.EICARName},
		{Found, virustest.ClamExeName}, {Found, virustest.ClamExeName}, {Clean, ""},
	}
	for _, a := range [][2]string{{"unix", cl.Socket}, {"tcp", cl.TCP}} {
		t.Run(a[0], func(t *testing.T) {
			c := newClient(t, a[0], a[1], Config{ChunkSize: 7}) // tiny chunks: many per object
			reps, err := c.ScanStreams(ctxT(t, 30*time.Second), objs, StreamOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(reps) != len(objs) {
				t.Fatalf("%d replies for %d objects", len(reps), len(objs))
			}
			for i, r := range reps {
				if r.Name != objs[i].Name || r.Status != want[i].st || r.Virus != want[i].virus || r.Truncated {
					t.Errorf("%s: got %+v, want %v %q", objs[i].Name, r, want[i].st, want[i].virus)
				}
			}
			if reps[5].Size != 544 {
				t.Errorf("clam.exe streamed %d bytes, want 544", reps[5].Size)
			}
		})
	}
}

// TestSessionReuse: many scans, one after the other and concurrently, run on
// few connections (IDSESSION kept in the pool).
func TestSessionReuse(t *testing.T) {
	cl := virustest.Require(t)
	c := newClient(t, "unix", cl.Socket, Config{MaxIdle: 2})
	ctx := ctxT(t, 60*time.Second)
	for i := 0; i < 50; i++ {
		objs := []Object{bytesObj("a", []byte(fmt.Sprintf("clean %d", i))), bytesObj("b", virustest.EICAR())}
		reps, err := c.ScanStreams(ctx, objs, StreamOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if reps[0].Status != Clean || reps[1].Status != Found {
			t.Fatalf("scan %d: %+v", i, reps)
		}
	}
	if d := c.Dials(); d != 1 {
		t.Fatalf("50 sequential scans used %d connections, want 1", d)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				reps, err := c.ScanStreams(ctx, []Object{bytesObj("x", []byte(fmt.Sprintf("%d/%d", g, i)))}, StreamOptions{})
				if err == nil && reps[0].Status != Clean {
					err = fmt.Errorf("got %+v", reps[0])
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// 8 goroutines need at most 8 sessions at a time; a few more dials
	// happen when the scheduler lets a goroutine find the idle pool empty
	// for an instant. Without reuse it would be 160.
	if d := c.Dials(); d > 16 {
		t.Fatalf("160 concurrent scans by 8 goroutines used %d connections, want sessions reused (at most 16)", d)
	}
	if n := c.IdleSessions(); n != 2 {
		t.Fatalf("idle sessions = %d, want MaxIdle 2", n)
	}
}

// TestStaleSession: clamd closes a pooled session (here we end it behind the
// client's back, as clamd's IdleTimeout would); the next scan retries on a
// new connection and succeeds.
func TestStaleSession(t *testing.T) {
	cl := virustest.Require(t)
	c := newClient(t, "unix", cl.Socket, Config{})
	ctx := ctxT(t, 30*time.Second)
	if _, err := c.ScanStreams(ctx, []Object{bytesObj("a", []byte("a"))}, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	s := c.idle[0]
	c.mu.Unlock()
	if _, err := io.WriteString(s.conn, "zEND\x00"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // clamd closes its end
	reps, err := c.ScanStreams(ctx, []Object{bytesObj("b", virustest.EICAR())}, StreamOptions{})
	if err != nil || reps[0].Status != Found {
		t.Fatalf("after stale session: %+v, %v", reps, err)
	}
	if d := c.Dials(); d != 2 {
		t.Fatalf("dials = %d, want 2", d)
	}
}

func TestStopOnFound(t *testing.T) {
	cl := virustest.Require(t)
	c := newClient(t, "unix", cl.Socket, Config{MaxInFlight: 1})
	objs := []Object{bytesObj("a", []byte("clean")), bytesObj("b", virustest.EICAR())}
	for i := 0; i < 20; i++ {
		objs = append(objs, bytesObj(fmt.Sprintf("c%d", i), []byte("clean too")))
	}
	reps, err := c.ScanStreams(ctxT(t, 30*time.Second), objs, StreamOptions{StopOnFound: true})
	if err != nil {
		t.Fatal(err)
	}
	// with one request in flight the writer stops right after the hit:
	// at most one more object may already be on its way
	if len(reps) < 2 || len(reps) > 3 || reps[1].Status != Found {
		t.Fatalf("StopOnFound: %d replies %+v", len(reps), reps)
	}
	// the session stays usable
	reps, err = c.ScanStreams(ctxT(t, 30*time.Second), objs[:1], StreamOptions{})
	if err != nil || reps[0].Status != Clean {
		t.Fatalf("after StopOnFound: %+v %v", reps, err)
	}
}

// TestStreamMaxLength: objects longer than StreamMaxLength are scanned up to
// the limit and flagged; a client limit above clamd's is an ErrSizeLimit.
func TestStreamMaxLength(t *testing.T) {
	cl := virustest.Require(t)
	big := bytes.Repeat([]byte("A"), virustest.StreamMaxLength+1<<20)
	head := append(append([]byte{}, virustest.EICAR()...), big...)
	tail := append(append([]byte{}, big...), virustest.EICAR()...)
	c := newClient(t, "unix", cl.Socket, Config{StreamMaxLength: virustest.StreamMaxLength})
	reps, err := c.ScanStreams(ctxT(t, 60*time.Second), []Object{bytesObj("head", head), bytesObj("tail", tail), bytesObj("small", virustest.EICAR())}, StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r := reps[0]; r.Status != Found || !r.Truncated || r.Size != virustest.StreamMaxLength {
		t.Errorf("virus in the first 25 MiB: %+v", r)
	}
	if r := reps[1]; r.Status != Clean || !r.Truncated {
		t.Errorf("virus after 25 MiB: %+v (want clean and truncated: not scanned)", r)
	}
	if r := reps[2]; r.Status != Found || r.Truncated {
		t.Errorf("small: %+v", r)
	}

	wrong := newClient(t, "unix", cl.Socket, Config{StreamMaxLength: 2 * virustest.StreamMaxLength})
	reps, err = wrong.ScanStreams(ctxT(t, 60*time.Second), []Object{bytesObj("small", []byte("x")), bytesObj("tail", tail)}, StreamOptions{})
	if !errors.Is(err, ErrSizeLimit) {
		t.Fatalf("client limit above clamd's: err = %v, want ErrSizeLimit", err)
	}
	for _, r := range reps {
		if r.Name == "tail" && r.Status != Failed {
			t.Fatalf("over clamd's limit: %+v", r)
		}
	}
	// the pool holds no broken session afterwards
	reps, err = wrong.ScanStreams(ctxT(t, 30*time.Second), []Object{bytesObj("eicar", virustest.EICAR())}, StreamOptions{})
	if err != nil || reps[0].Status != Found {
		t.Fatalf("after size limit: %+v %v", reps, err)
	}
}

func TestScanPath(t *testing.T) {
	cl := virustest.Require(t)
	dir := cl.ScanTempDir(t)
	files := map[string][]byte{"p001": []byte("clean text"), "p002": virustest.EICAR(), "p003": virustest.Zip(t, "e.com", virustest.EICAR())}
	for n, b := range files {
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c := newClient(t, "tcp", cl.TCP, Config{})
	for _, cmd := range []PathCommand{ContScan, MultiScan} {
		reps, err := c.ScanPath(ctxT(t, 30*time.Second), cmd, dir)
		if err != nil {
			t.Fatal(err)
		}
		found := map[string]string{}
		for _, r := range reps {
			if r.Status != Found {
				t.Errorf("%s: unexpected %+v", cmd, r)
			}
			found[filepath.Base(r.Name)] = r.Virus
		}
		if len(found) != 2 || found["p002"] != virustest.EICARName || found["p003"] != virustest.EICARName {
			t.Errorf("%s: found %v", cmd, found)
		}
	}
	// a clean directory: one "<dir>: OK"
	clean := cl.ScanTempDir(t)
	os.WriteFile(filepath.Join(clean, "p001"), []byte("clean"), 0o644)
	reps, err := c.ScanPath(ctxT(t, 30*time.Second), ContScan, clean)
	if err != nil || len(reps) != 1 || reps[0].Status != Clean {
		t.Fatalf("clean dir: %+v %v", reps, err)
	}
	// a directory clamd cannot read: amavis's classic permission problem is
	// an error here, never clean
	private := t.TempDir()
	os.Chmod(private, 0o700)
	os.WriteFile(filepath.Join(private, "p001"), []byte("x"), 0o600)
	reps, err = c.ScanPath(ctxT(t, 30*time.Second), ContScan, private)
	if err != nil {
		t.Fatal(err)
	}
	failed := false
	for _, r := range reps {
		failed = failed || r.Status == Failed
	}
	if !failed {
		t.Fatalf("unreadable dir: %+v, want an ERROR reply", reps)
	}
	if _, err := c.ScanPath(ctxT(t, time.Second), ContScan, "relative"); err == nil {
		t.Fatal("relative path accepted")
	}
}

func TestFildes(t *testing.T) {
	cl := virustest.Require(t)
	dir := t.TempDir() // private: clamd could not open these by path
	os.WriteFile(filepath.Join(dir, "a"), []byte("clean"), 0o600)
	os.WriteFile(filepath.Join(dir, "b"), virustest.EICAR(), 0o600)
	c := newClient(t, "unix", cl.Socket, Config{})
	objs := []Object{{Name: "a", Path: filepath.Join(dir, "a")}, {Name: "b", Path: filepath.Join(dir, "b")}}
	reps, err := c.ScanStreams(ctxT(t, 30*time.Second), objs, StreamOptions{PassFD: true})
	if err != nil {
		t.Fatal(err)
	}
	if reps[0].Status != Clean || reps[1].Status != Found || reps[1].Virus != virustest.EICARName {
		t.Fatalf("FILDES: %+v", reps)
	}
	tc := newClient(t, "tcp", cl.TCP, Config{})
	if _, err := tc.ScanStreams(ctxT(t, time.Second), objs, StreamOptions{PassFD: true}); err == nil {
		t.Fatal("FILDES over TCP accepted")
	}
}

// hangingPeer accepts connections, reads what it is sent and never answers:
// a misbehaving peer (a stuck clamd, a wrong port), not a stand-in for clamd.
func hangingPeer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, conn) }()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return ln.Addr().String()
}

func TestHangingPeer(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	addr := hangingPeer(t)
	c := newClient(t, "tcp", addr, Config{})
	big := bytes.Repeat([]byte("x"), 8<<20) // more than the socket buffers hold
	for _, objs := range [][]Object{{bytesObj("small", []byte("x"))}, {bytesObj("big", big)}} {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		start := time.Now()
		reps, err := c.ScanStreams(ctx, objs, StreamOptions{})
		el := time.Since(start)
		cancel()
		if err == nil || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s: err = %v, replies %+v; want deadline exceeded", objs[0].Name, err, reps)
		}
		if el > 20*time.Second {
			t.Fatalf("%s: took %v with a 300ms deadline", objs[0].Name, el)
		}
	}
	// Ping and a path scan too
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if err := c.Ping(ctx); err == nil {
		t.Fatal("Ping of a silent peer succeeded")
	}
	// cancellation without a deadline
	ctx2, cancel2 := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel2)
	if _, err := c.ScanStreams(ctx2, []Object{bytesObj("big", big)}, StreamOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancel: err = %v", err)
	}
	if n := c.IdleSessions(); n != 0 {
		t.Fatalf("failed sessions went back to the pool: %d", n)
	}
	c.Close()
}

// TestReadTimeout: without a context deadline, ReadTimeout bounds silence.
func TestReadTimeout(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	addr := hangingPeer(t)
	c := newClient(t, "tcp", addr, Config{ReadTimeout: 200 * time.Millisecond})
	start := time.Now()
	_, err := c.ScanStreams(context.Background(), []Object{bytesObj("x", []byte("x"))}, StreamOptions{})
	if err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("err = %v after %v", err, time.Since(start))
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestConnectErrors(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // runs after the other cleanups
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := ln.Addr().String()
	ln.Close()
	for _, a := range [][2]string{{"unix", filepath.Join(dir, "nobody.ctl")}, {"tcp", closedPort}} {
		c := newClient(t, a[0], a[1], Config{})
		start := time.Now()
		_, err := c.ScanStreams(ctxT(t, 5*time.Second), []Object{bytesObj("x", []byte("x"))}, StreamOptions{})
		if err == nil || time.Since(start) > time.Second {
			t.Fatalf("%s: err %v after %v", a[0], err, time.Since(start))
		}
		c.Close()
	}
	if _, err := New(Config{Network: "udp", Address: "x"}); err == nil {
		t.Fatal("udp accepted")
	}
}
