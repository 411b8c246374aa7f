package virus

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/clamd"
	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
	"go.uber.org/goleak"
)

func clamdScanner(t testing.TB, name, network, addr string, opt ClamdOptions) *Clamd {
	t.Helper()
	c, err := clamd.New(clamd.Config{Network: network, Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return NewClamd(name, c, opt)
}

// request writes parts into dir (created with mode) and returns a Request
// for msg and them.
func request(t testing.TB, dir string, msg []byte, parts map[string][]byte) *Request {
	t.Helper()
	req := &Request{LogID: "test-01", Message: bytes.NewReader(msg), Size: int64(len(msg)), Dir: dir}
	for name, b := range parts {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		req.Parts = append(req.Parts, p)
	}
	return req
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestClamdScanner(t *testing.T) {
	cl := virustest.Require(t)
	eicarZip := virustest.Zip(t, "eicar.com", virustest.EICAR())
	cases := []struct {
		name     string
		msg      []byte
		parts    map[string][]byte
		infected bool
	}{
		{"clean", virustest.Mail(t, "report.txt", []byte("quarterly figures\n")), map[string][]byte{"p001": []byte("See the attachment.\r\n"), "p002": []byte("quarterly figures\n")}, false},
		{"EICAR plain", append([]byte("Subject: x\r\n\r\n"), virustest.EICAR()...), map[string][]byte{"p001": virustest.EICAR()}, true},
		{"EICAR in zip", virustest.Mail(t, "eicar.zip", eicarZip), map[string][]byte{"p001": []byte("See the attachment.\r\n"), "p002": eicarZip, "p003": virustest.EICAR()}, true},
	}
	scanners := []struct {
		name string
		mk   func(t *testing.T) *Clamd
		dir  func(t *testing.T) string
	}{
		{"INSTREAM unix", func(t *testing.T) *Clamd { return clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{}) }, func(t *testing.T) string { return t.TempDir() }},
		{"INSTREAM tcp", func(t *testing.T) *Clamd { return clamdScanner(t, "ClamAV-clamd", "tcp", cl.TCP, ClamdOptions{}) }, func(t *testing.T) string { return t.TempDir() }},
		{"INSTREAM parts only", func(t *testing.T) *Clamd {
			return clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{What: ScanParts})
		}, func(t *testing.T) string { return t.TempDir() }},
		{"INSTREAM message only", func(t *testing.T) *Clamd {
			return clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{What: ScanMessage})
		}, func(t *testing.T) string { return t.TempDir() }},
		{"FILDES", func(t *testing.T) *Clamd {
			return clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{Mode: PassFD})
		}, func(t *testing.T) string { return t.TempDir() }},
		{"CONTSCAN", func(t *testing.T) *Clamd {
			return clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{Mode: ContScan})
		}, func(t *testing.T) string { return cl.ScanTempDir(t) }},
		{"MULTISCAN", func(t *testing.T) *Clamd {
			return clamdScanner(t, "ClamAV-clamd", "tcp", cl.TCP, ClamdOptions{Mode: MultiScan})
		}, func(t *testing.T) string { return cl.ScanTempDir(t) }},
	}
	for _, sc := range scanners {
		t.Run(sc.name, func(t *testing.T) {
			s := sc.mk(t)
			for _, tc := range cases {
				req := request(t, sc.dir(t), tc.msg, tc.parts)
				r := s.Scan(ctxT(t, 30*time.Second), req)
				if r.Err != nil || r.Infected != tc.infected {
					t.Fatalf("%s: %+v", tc.name, r)
				}
				if tc.infected && (len(r.Viruses) == 0 || r.Viruses[0] != virustest.EICARName) {
					t.Fatalf("%s: viruses %q", tc.name, r.Viruses)
				}
				if strings.Contains(r.Output, req.Dir) {
					t.Errorf("%s: output shows the private directory: %q", tc.name, r.Output)
				}
				if tc.infected && !regexp.MustCompile(`(?m)^(message|p00\d): Eicar-Signature\.UNOFFICIAL FOUND$`).MatchString(r.Output) {
					t.Errorf("%s: output %q", tc.name, r.Output)
				}
			}
		})
	}
}

// TestClamdDownUsesBackup: a real clamd stopped under a scanner with a
// pooled session; the scan fails fast, the backup (real clamscan) runs.
func TestClamdDownUsesBackup(t *testing.T) {
	cl := virustest.Require(t)
	priv := virustest.StartPrivate(t, cl)
	primary := clamdScanner(t, "ClamAV-clamd", "unix", priv.Socket, ClamdOptions{})
	clamscan, err := New(ClamscanEntry("", "-d "+cl.DB), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	req := request(t, dir, virustest.Mail(t, "eicar.com", virustest.EICAR()), map[string][]byte{"p001": virustest.EICAR()})

	r := Run(ctxT(t, 30*time.Second), []Scanner{primary}, []Scanner{clamscan}, req, Options{Logger: quiet})
	if !r.Infected || r.UsedBackup || r.DetectedBy[0] != "ClamAV-clamd" {
		t.Fatalf("clamd up: %+v", r)
	}
	if primary.Client().IdleSessions() != 1 {
		t.Fatal("no pooled session")
	}
	priv.Stop()

	start := time.Now()
	r = Run(ctxT(t, 30*time.Second), []Scanner{primary}, []Scanner{clamscan}, req, Options{Logger: quiet})
	if r.Scanners[0].Err == nil || r.Scanners[0].Elapsed > 2*time.Second {
		t.Fatalf("clamd down: primary %+v after %v", r.Scanners[0], time.Since(start))
	}
	if !r.UsedBackup || !r.Infected || r.AllFailed || !equal(r.DetectedBy, []string{"ClamAV-clamscan"}) || r.Viruses[0] != virustest.EICARName {
		t.Fatalf("clamd down: %+v", r)
	}
	if !r.Scanners[1].Backup || r.Scanners[1].Elapsed <= 0 {
		t.Fatalf("backup result %+v", r.Scanners[1])
	}

	// no backups: all failed, and Err says so
	r = Run(ctxT(t, 30*time.Second), []Scanner{primary}, nil, req, Options{Logger: quiet})
	if !r.AllFailed || r.Infected || !errors.Is(r.Err(), ErrAllFailed) {
		t.Fatalf("clamd down, no backup: %+v", r)
	}
}

// silentPeer accepts connections and reads forever without answering: a
// hung clamd, or something else on its port.
func silentPeer(t *testing.T) string {
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
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() { defer wg.Done(); io.Copy(io.Discard, c) }()
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

// TestClamdHanging: a clamd that accepts and never answers is bounded by
// the deadline, every scanner then counts as failed, and no goroutine is
// left behind.
func TestClamdHanging(t *testing.T) {
	t.Cleanup(func() { goleak.VerifyNone(t) }) // after the other cleanups
	addr := silentPeer(t)
	hung := clamdScanner(t, "ClamAV-clamd", "tcp", addr, ClamdOptions{})
	daemon, err := NewDaemon("ClamAV-clamd-simple", "CONTSCAN {}\n", []string{addr}, MustOutput(`qr/\bOK$/m`), MustOutput(`qr/\bFOUND$/m`), nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	big := bytes.Repeat([]byte("x"), 4<<20)
	req := request(t, dir, virustest.Mail(t, "big.bin", big), map[string][]byte{"p001": big})
	for _, opts := range []Options{{}, {Sequential: true}} {
		opts.Logger = quiet
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		start := time.Now()
		r := Run(ctx, []Scanner{hung, daemon}, nil, req, opts)
		el := time.Since(start)
		cancel()
		if !r.AllFailed || r.Infected {
			t.Fatalf("%+v", r)
		}
		for _, sr := range r.Scanners {
			if !errors.Is(sr.Err, context.DeadlineExceeded) {
				t.Errorf("%s: err %v, want deadline exceeded", sr.Name, sr.Err)
			}
		}
		if el > 20*time.Second {
			t.Fatalf("500ms deadline, took %v", el)
		}
	}
}

func TestCommandScanners(t *testing.T) {
	cl := virustest.Require(t)
	infectedDir, cleanDir := t.TempDir(), t.TempDir()
	reqInf := request(t, infectedDir, nil, map[string][]byte{"p001": []byte("text"), "p002": virustest.Zip(t, "e.com", virustest.EICAR()), "p003": virustest.EICAR()})
	reqClean := request(t, cleanDir, nil, map[string][]byte{"p001": []byte("text"), "p002": virustest.Zip(t, "a.txt", []byte("clean"))})

	perFile := ClamscanEntry("", "-d "+cl.DB)
	perFile.Name, perFile.Args = "ClamAV-clamscan-files", "--stdout --no-summary -d "+cl.DB+" {}/*"
	entries := []Entry{
		ClamscanEntry(os.TempDir(), "-d "+cl.DB),
		perFile,
		ClamdscanEntry("--config-file=" + cl.Conf),
	}
	for _, e := range entries {
		t.Run(e.Name, func(t *testing.T) {
			s, err := New(e, BuildOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := s.Scan(ctxT(t, 60*time.Second), reqInf)
			if r.Err != nil || !r.Infected || !equal(r.Viruses, []string{virustest.EICARName}) {
				t.Fatalf("infected dir: %+v", r)
			}
			if strings.Contains(r.Output, infectedDir) || !strings.Contains(r.Output, "p003: "+virustest.EICARName+" FOUND") {
				t.Fatalf("output %q", r.Output)
			}
			r = s.Scan(ctxT(t, 60*time.Second), reqClean)
			if r.Err != nil || r.Infected || r.Inconclusive {
				t.Fatalf("clean dir: %+v", r)
			}
		})
	}
	// clamscan without a signature db exits 2: a failure, not clean
	broken, err := New(ClamscanEntry("", "-d "+filepath.Join(t.TempDir(), "no-db")), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	r := broken.Scan(ctxT(t, 60*time.Second), reqClean)
	if r.Err == nil || r.Infected || r.Definite() {
		t.Fatalf("clamscan without db: %+v", r)
	}
	// a program that is not installed disables the entry
	if _, err := New(Entry{Name: "nope", Programs: []string{"no-such-scanner", "/nonexistent/x"}, Args: "{}"}, BuildOptions{}); !errors.Is(err, ErrProgramNotFound) {
		t.Fatalf("missing program: %v", err)
	}
	// a CLI scanner that hangs is bounded by the context
	sleeper, err := NewCommand("sleeper", []string{"sleep"}, "30", Codes(0), Codes(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	r = sleeper.Scan(ctxT(t, 300*time.Millisecond), reqClean)
	if !errors.Is(r.Err, context.DeadlineExceeded) || time.Since(start) > 3*time.Second {
		t.Fatalf("sleeper: %+v after %v", r, time.Since(start))
	}
}

// TestSeveralScanners: clamd over both sockets and clamscan, concurrently;
// each answer and time is reported.
func TestSeveralScanners(t *testing.T) {
	cl := virustest.Require(t)
	clamscan, err := New(ClamscanEntry("", "-d "+cl.DB), BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	scanners := []Scanner{
		clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{}),
		clamdScanner(t, "ClamAV-clamd-tcp", "tcp", cl.TCP, ClamdOptions{What: ScanMessage}),
		clamscan,
	}
	eicarZip := virustest.Zip(t, "eicar.com", virustest.EICAR())
	req := request(t, t.TempDir(), virustest.Mail(t, "eicar.zip", eicarZip), map[string][]byte{"p001": []byte("See the attachment.\r\n"), "p002": eicarZip})
	for _, seq := range []bool{false, true} {
		r := Run(ctxT(t, 60*time.Second), scanners, nil, req, Options{Sequential: seq, Logger: quiet})
		if !r.Infected || !equal(r.DetectedBy, []string{"ClamAV-clamd", "ClamAV-clamd-tcp", "ClamAV-clamscan"}) || !equal(r.Viruses, []string{virustest.EICARName}) {
			t.Fatalf("sequential=%v: %+v", seq, r)
		}
		for _, sr := range r.Scanners {
			if sr.Elapsed <= 0 || sr.Verdict() != "INFECTED" {
				t.Errorf("%s: %v %s", sr.Name, sr.Elapsed, sr.Verdict())
			}
		}
	}
	// first_infected_stops_scan, in order: only the first runs
	r := Run(ctxT(t, 60*time.Second), scanners, nil, req, Options{Sequential: true, FirstInfectedStopsScan: true, Logger: quiet})
	if !r.Infected || !r.Scanners[1].Skipped || !r.Scanners[2].Skipped {
		t.Fatalf("stop: %+v", r.Scanners)
	}
}

// TestDebianEntries: Debian's stock ClamAV-clamd entry maps to a streaming
// clamd scanner (or stays CONTSCAN), and the same query spoken as amavis's
// simple daemon protocol works against the real clamd.
func TestDebianEntries(t *testing.T) {
	cl := virustest.Require(t)
	dir := cl.ScanTempDir(t)
	req := request(t, dir, virustest.Mail(t, "eicar.com", virustest.EICAR()), map[string][]byte{"p001": []byte("text"), "p002": virustest.EICAR()})
	for _, keep := range []bool{false, true} {
		s, err := New(DebianClamdEntry(cl.Socket), BuildOptions{KeepPathScan: keep})
		if err != nil {
			t.Fatal(err)
		}
		defer Close(s)
		c := s.(*Clamd)
		wantMode := Stream
		if keep {
			wantMode = ContScan
		}
		if c.opt.Mode != wantMode {
			t.Fatalf("keep=%v: mode %v", keep, c.opt.Mode)
		}
		if r := s.Scan(ctxT(t, 30*time.Second), req); !r.Infected || r.Viruses[0] != virustest.EICARName {
			t.Fatalf("keep=%v: %+v", keep, r)
		}
	}
	e := DebianClamdEntry(cl.Socket)
	d, err := NewDaemon(e.Name, e.Query, e.Sockets, e.Clean, e.Infected, e.VirusName)
	if err != nil {
		t.Fatal(err)
	}
	r := d.Scan(ctxT(t, 30*time.Second), req)
	if !r.Infected || !equal(r.Viruses, []string{virustest.EICARName}) || strings.Contains(r.Output, dir) {
		t.Fatalf("simple protocol: %+v", r)
	}
	clean := cl.ScanTempDir(t)
	r = d.Scan(ctxT(t, 30*time.Second), request(t, clean, nil, map[string][]byte{"p001": []byte("text")}))
	if r.Infected || r.Err != nil {
		t.Fatalf("simple protocol, clean: %+v", r)
	}
	// the native protocol prefix
	s, err := New(Entry{Name: "ClamAV-clamd-stream", Query: "*", Sockets: []string{"clamd:[" + strings.Replace(cl.TCP, ":", "]:", 1)}}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer Close(s)
	if r := s.Scan(ctxT(t, 30*time.Second), req); !r.Infected {
		t.Fatalf("clamd: prefix: %+v", r)
	}
}

// TestSpamSignature: a Sanesecurity-style name reported by the real clamd
// becomes spam score through virus_name_to_spam_score_maps.
func TestSpamSignature(t *testing.T) {
	cl := virustest.Require(t)
	s := clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{})
	msg := append([]byte("Subject: offer\r\n\r\nBuy now "), virustest.JunkMarker()...)
	req := request(t, t.TempDir(), msg, nil)
	score := func(name string) (float64, bool) {
		if strings.HasPrefix(name, "Sanesecurity.Junk.") {
			return 0.1, true
		}
		return 0, false
	}
	r := Run(ctxT(t, 30*time.Second), []Scanner{s}, nil, req, Options{SpamScore: score, Logger: quiet})
	if r.Infected || r.AllFailed || !equal(r.SpamTests, []string{"AV:" + virustest.JunkName + "=0.1"}) {
		t.Fatalf("%+v", r)
	}
}
