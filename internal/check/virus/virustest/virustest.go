// Package virustest holds helpers for the virus scanning tests: the EICAR
// test string (assembled at run time, so mavis's own source tree does not set
// off virus scanners), the clamd that scripts/clamd.sh starts, and small
// archive builders. Only tests import it.
package virustest

import (
	"archive/zip"
	"bytes"
	"context"
	"net"
	"os"
	"testing"
	"time"
)

// EICAR returns the 68-byte EICAR anti-virus test file.
func EICAR() []byte {
	return []byte(`X5O!P%@AP[4\PZX54(P^)7CC)7}$` + "EICAR-STANDARD-" + `ANTIVIRUS-TEST-FILE!$H+H*`)
}

// JunkMarker is the content scripts/clamd.sh's "Sanesecurity.Junk.MavisTest"
// signature matches: a spam signature reported as a virus name.
func JunkMarker() []byte {
	return []byte("MAVIS-TEST-" + "SANESECURITY-JUNK-SIGNATURE")
}

// Names clamd reports for scripts/clamd.sh's signatures.
const (
	EICARName    = "Eicar-Signature.UNOFFICIAL"
	ClamExeName  = "Mavis.Test.ClamAV-TestFile_NDB-1.UNOFFICIAL"
	JunkName     = "Sanesecurity.Junk.MavisTest.UNOFFICIAL"
	TestFilesDir = "/usr/share/clamav-testfiles"
	// StreamMaxLength is scripts/clamd.sh's clamd StreamMaxLength (25M).
	StreamMaxLength = 25 << 20
)

// Clamd describes the clamd scripts/clamd.sh started.
type Clamd struct {
	Socket  string // Unix socket path
	TCP     string // host:port
	Conf    string // its clamd.conf (for clamdscan -c)
	DB      string // its signature directory (for clamscan -d)
	ScanDir string // a directory clamd can read (mode 1777), for CONTSCAN tests
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// Require returns the test clamd, or skips the test when it does not answer
// and MAVIS_REQUIRE_INTEGRATION is unset (fails when it is set).
func Require(t testing.TB) Clamd {
	t.Helper()
	it := env("MAVIS_IT_DIR", "/var/tmp/mavis-it")
	c := Clamd{
		Socket:  env("MAVIS_CLAMD_SOCKET", it+"/clamav/clamd.ctl"),
		TCP:     env("MAVIS_CLAMD_TCP", "127.0.0.1:3310"),
		Conf:    env("MAVIS_CLAMD_CONF", it+"/clamav/clamd.conf"),
		DB:      env("MAVIS_CLAMD_DB", it+"/clamav/db"),
		ScanDir: env("MAVIS_CLAMD_SCANDIR", it+"/clamav/scan"),
	}
	for _, a := range [][2]string{{"unix", c.Socket}, {"tcp", c.TCP}} {
		if err := ping(a[0], a[1]); err != nil {
			if os.Getenv("MAVIS_REQUIRE_INTEGRATION") == "" {
				t.Skipf("clamd (scripts/clamd.sh) not answering on %s %s: %v", a[0], a[1], err)
			}
			t.Fatalf("MAVIS_REQUIRE_INTEGRATION is set but clamd does not answer on %s %s: %v (run scripts/clamd.sh)", a[0], a[1], err)
		}
	}
	return c
}

func ping(network, addr string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("zPING\x00")); err != nil {
		return err
	}
	buf := make([]byte, 8)
	n, err := conn.Read(buf)
	if err != nil {
		return err
	}
	if string(bytes.TrimRight(buf[:n], "\x00")) != "PONG" {
		return &net.OpError{Op: "ping", Net: network, Err: os.ErrInvalid}
	}
	return nil
}

// ScanTempDir returns a fresh directory clamd (user clamav) can read, removed
// when the test ends.
func (c Clamd) ScanTempDir(t testing.TB) string {
	t.Helper()
	d, err := os.MkdirTemp(c.ScanDir, "t-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(d, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Zip returns a zip archive (deflated) with one member.
func Zip(t testing.TB, name string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	w, err := zw.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// Mail returns a MIME message with a text part and data attached (base64).
func Mail(t testing.TB, filename string, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteString("From: <sender@example.net>\r\nTo: <user@example.org>\r\nSubject: test\r\n" +
		"Message-ID: <virustest@example.net>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n" +
		"--b1\r\nContent-Type: application/octet-stream; name=\"" + filename + "\"\r\n" +
		"Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename=\"" + filename + "\"\r\n\r\n")
	enc := base64Lines(data)
	b.Write(enc)
	b.WriteString("--b1--\r\n")
	return b.Bytes()
}
