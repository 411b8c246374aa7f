package quarantine

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const origCRLF = "Return-Path: <bounce@example.net>\r\n" +
	"From: Sender <sender@example.net>\r\n" +
	"To: User <user@rig.test>\r\n" +
	"Subject: Test attachment\r\n" +
	"Return-Path: <second@example.net>\r\n" +
	"  folded-return-path-continuation\r\n" +
	"Message-ID: <rig-corpus-07@example.net>\r\n" +
	"\r\n" +
	"Body line 1\r\n" +
	"Return-Path: in the body stays\r\n" +
	"bare\rcr and end without newline"

const origLF = "From: Sender <sender@example.net>\n" +
	"To: User <user@rig.test>\n" +
	"Subject: Test attachment\n" +
	"Message-ID: <rig-corpus-07@example.net>\n" +
	"\n" +
	"Body line 1\n" +
	"Return-Path: in the body stays\n" +
	"bare\rcr and end without newline"

func baseRequest(dir string) Request {
	return Request{
		Dir:          dir,
		SubdirLevels: 1,
		Method:       "local:virus-%m",
		To:           "virus-quarantine",
		MailID:       "7k45DZ5zqMRC",
		LogID:        "23233-07",
		PartitionTag: "0",
		BodyDigest:   "d41d8cd98f00b204e9800998ecf8427e",
		Received:     time.Date(2024, 6, 1, 12, 0, 0, 0, time.Local),
		Sender:       "sender@example.net",
		Recipients:   []string{"user@rig.test", "other@rig.test"},
		Blocked:      []string{"user@rig.test"},
		Extra:        []byte("X-Amavis-Alert: INFECTED, message contains virus: Eicar-Signature\r\n"),
		Body:         strings.NewReader(origCRLF),
	}
}

func wantFile(r Request) string {
	return "Return-Path: <sender@example.net>\n" +
		"Delivered-To: virus-quarantine\n" +
		"X-Envelope-From: <sender@example.net>\n" +
		"X-Envelope-To: <user@rig.test>, <other@rig.test>\n" +
		"X-Envelope-To-Blocked: <user@rig.test>\n" +
		"X-Quarantine-ID: <" + r.MailID + ">\n" +
		"X-Amavis-Alert: INFECTED, message contains virus: Eicar-Signature\n" +
		origLF
}

func TestStorePlainWithSubdir(t *testing.T) {
	dir := t.TempDir()
	r := baseRequest(dir)
	loc, err := Store(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Rel != "7/virus-7k45DZ5zqMRC" || loc.String() != loc.Rel || loc.Type != "F" {
		t.Fatalf("location = %+v", loc)
	}
	if loc.Path != filepath.Join(dir, "7", "virus-7k45DZ5zqMRC") {
		t.Fatalf("path = %s", loc.Path)
	}
	st, err := os.Stat(loc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o640 {
		t.Errorf("mode = %v, want 0640", st.Mode().Perm())
	}
	got, err := os.ReadFile(loc.Path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != wantFile(r) {
		t.Errorf("file content:\n%q\nwant\n%q", got, wantFile(r))
	}
	// amavis's subdirectory set exists, and no temporary file is left.
	for _, d := range []string{"A", "Z", "a", "z", "0", "9", "7"} {
		if fi, err := os.Stat(filepath.Join(dir, d)); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o750 {
			t.Errorf("subdir %s: %v %v", d, fi, err)
		}
	}
	ents, _ := os.ReadDir(filepath.Join(dir, "7"))
	if len(ents) != 1 {
		t.Errorf("files in 7/: %v", ents)
	}
	all, _ := os.ReadDir(dir)
	if len(all) != 62 {
		t.Errorf("entries in QUARANTINEDIR = %d, want 62 subdirectories", len(all))
	}

	// Read back byte for byte, and as a release would.
	rc, err := Open(dir, loc.Rel)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(back, got) {
		t.Error("Open returned different bytes")
	}
	env, msg, err := ParseEnvelope(bytes.NewReader(back))
	if err != nil {
		t.Fatal(err)
	}
	if env.Sender != "sender@example.net" || !env.HasSender || env.QuarantineID != r.MailID ||
		strings.Join(env.Recipients, ",") != "user@rig.test,other@rig.test" ||
		strings.Join(env.Blocked, ",") != "user@rig.test" {
		t.Errorf("envelope = %+v", env)
	}
	rest, _ := io.ReadAll(msg)
	if string(rest) != origLF {
		t.Errorf("released message:\n%q\nwant\n%q", rest, origLF)
	}
	locs, err := Find(dir, r.MailID)
	if err != nil || len(locs) != 1 || locs[0] != loc {
		t.Errorf("Find = %v, %v", locs, err)
	}
}

func TestStoreGzipNoSubdir(t *testing.T) {
	dir := t.TempDir()
	r := baseRequest(dir)
	r.SubdirLevels = 0
	r.Method = "local:spam-%m.gz"
	r.To = "spam-quarantine"
	loc, err := Store(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if loc.Rel != "spam-7k45DZ5zqMRC.gz" || loc.Type != "Z" {
		t.Fatalf("location = %+v", loc)
	}
	raw, err := os.ReadFile(loc.Path)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.Replace(wantFile(r), "virus-quarantine", "spam-quarantine", 1)
	if string(plain) != want {
		t.Errorf("gunzipped:\n%q\nwant\n%q", plain, want)
	}
	rc, err := Open(dir, loc.Rel)
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(rc)
	if err := rc.Close(); err != nil {
		t.Fatal(err)
	}
	if string(back) != want {
		t.Error("Open did not gunzip to the same bytes")
	}
	if fi, _ := os.Stat(loc.Path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
}

func TestStoreLargeBodyStreams(t *testing.T) {
	dir := t.TempDir()
	r := baseRequest(dir)
	body := strings.Repeat("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\r\n", 50000)
	long := "X-Long: " + strings.Repeat("y", 100000) + "\r\n" // longer than the read buffer
	r.Body = strings.NewReader("Subject: big\r\n" + long + "\r\n" + body)
	loc, err := Store(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(loc.Path)
	want := strings.TrimSuffix(wantFile(r), origLF) + "Subject: big\n" + strings.ReplaceAll(long, "\r\n", "\n") + "\n" + strings.ReplaceAll(body, "\r\n", "\n")
	if string(got) != want {
		t.Errorf("large message differs: got %d bytes, want %d", len(got), len(want))
	}
}

func TestNameTemplates(t *testing.T) {
	r := baseRequest("/q")
	r.Received = time.Date(2024, 6, 1, 12, 3, 4, 0, time.Local)
	tests := []struct {
		method, rel string
	}{
		{"local:virus-%m", "7/virus-7k45DZ5zqMRC"},
		{"local:", "7/7k45DZ5zqMRC"},
		{"LOCAL:banned-%m", "7/banned-7k45DZ5zqMRC"},
		{"local:%P-%b-%n-%i-100%%-%x", "7/0-d41d8cd98f00b204e9800998ecf8427e-23233-07-20240601T120304-100%-%x"},
		{"local:archive/%m", "archive/7/7k45DZ5zqMRC"},
	}
	for _, tt := range tests {
		r.Method = tt.method
		_, rel, _, err := target(&r)
		if err != nil || rel != tt.rel {
			t.Errorf("%s: rel=%q err=%v, want %q", tt.method, rel, err, tt.rel)
		}
	}
	for _, bad := range []string{"smtp:[127.0.0.1]:10025", "sql:", "local:../x-%m", "local:/etc/%m/", "bsmtp:x"} {
		r.Method = bad
		r.SubdirLevels = 0
		if _, rel, _, err := target(&r); err == nil {
			t.Errorf("%s: accepted as %q", bad, rel)
		}
	}
	r.SubdirLevels = 1
	r.Method = "local:virus-%m"
	r.MailID = "-abc"
	if _, _, _, err := target(&r); err == nil {
		t.Error("mail_id starting with '-' accepted for a subdirectory")
	}
}

func TestStoreRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	r := baseRequest(dir)
	if _, err := Store(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	r.Body = strings.NewReader("Subject: other\r\n\r\nx")
	if _, err := Store(context.Background(), r); err == nil || !strings.Contains(err.Error(), "refuse to overwrite") {
		t.Fatalf("second store: %v", err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "7", "virus-7k45DZ5zqMRC"))
	if !strings.Contains(string(got), "Test attachment") {
		t.Error("original quarantine file was changed")
	}
}

func TestStoreErrors(t *testing.T) {
	ctx := context.Background()
	// QUARANTINEDIR missing or a file.
	r := baseRequest(filepath.Join(t.TempDir(), "missing"))
	if _, err := Store(ctx, r); err == nil {
		t.Error("missing QUARANTINEDIR accepted")
	}
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o600)
	r.Dir = f
	if _, err := Store(ctx, r); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("file as QUARANTINEDIR: %v", err)
	}
	// The subdirectory is a file: creating in it fails (also as root).
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "7"), nil, 0o600)
	r = baseRequest(dir)
	if _, err := Store(ctx, r); err == nil {
		t.Error("store into a file-as-subdir succeeded")
	}
	// A failing body reader: error, and nothing is left behind.
	dir = t.TempDir()
	r = baseRequest(dir)
	r.SubdirLevels = 0
	r.Body = io.MultiReader(strings.NewReader("Subject: x\r\n\r\npartial"), errReader{})
	if _, err := Store(ctx, r); err == nil {
		t.Error("read error not reported")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind: %v", ents)
	}
	// A cancelled context stops the write.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	r = baseRequest(dir)
	r.SubdirLevels = 0
	if _, err := Store(cctx, r); err == nil {
		t.Error("cancelled context ignored")
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("left behind after cancel: %v", ents)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestStoreReadOnlyDir(t *testing.T) {
	dir := t.TempDir()
	if os.Getuid() == 0 {
		// root ignores permissions: make the directory immutable instead.
		if out, err := exec.Command("chattr", "+i", dir).CombinedOutput(); err != nil {
			t.Skipf("cannot make a read-only directory as root: %v %s", err, out)
		}
		t.Cleanup(func() { exec.Command("chattr", "-i", dir).Run() })
	} else {
		if err := os.Chmod(dir, 0o555); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o755) })
	}
	r := baseRequest(dir)
	if _, err := Store(context.Background(), r); err == nil {
		t.Fatal("store into a read-only QUARANTINEDIR succeeded")
	}
	r.SubdirLevels = 0
	if _, err := Store(context.Background(), r); err == nil {
		t.Fatal("store into a read-only QUARANTINEDIR (no subdirs) succeeded")
	}
}

func TestFoldList(t *testing.T) {
	var many []string
	for i := 0; i < 6; i++ {
		many = append(many, "<recipient-number-"+string(rune('a'+i))+"@example.com>")
	}
	got := foldList("X-Envelope-To", many, ",")
	for _, l := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
		if len(l) > 78 {
			t.Errorf("line longer than 78: %q", l)
		}
	}
	if strings.Count(got, "\n ") == 0 || !strings.HasPrefix(got, "X-Envelope-To: <recipient-number-a@example.com>,\n <recipient-number-b@example.com>, <recipient-number-c@example.com>,\n") {
		t.Errorf("folding:\n%s", got)
	}
	env, _, err := ParseEnvelope(strings.NewReader(got + "X-Envelope-From: <>\nSubject: s\n\nb"))
	if err != nil || len(env.Recipients) != 6 || env.Sender != "" || !env.HasSender {
		t.Errorf("parse folded: %+v %v", env, err)
	}
	odd := []string{"a b@x.test", `q"uote@x.test`, "plain@x.test", ""}
	env, _, err = ParseEnvelope(strings.NewReader(foldList("X-Envelope-To", angles(odd), ",") + "\n"))
	if err != nil || strings.Join(env.Recipients, "|") != strings.Join(odd, "|") {
		t.Errorf("quoted addresses: %q (%s) %v", env.Recipients, angles(odd), err)
	}
	if got := foldList("X-Envelope-To-Blocked", nil, ","); got != "X-Envelope-To-Blocked:\n" {
		t.Errorf("empty list: %q", got)
	}
}

func TestLFWriterSplitCRLF(t *testing.T) {
	var b bytes.Buffer
	w := &lfWriter{w: &b}
	for _, p := range []string{"a\r", "\nb\r", "c\r\n\r", "\r\n", "end\r"} {
		w.Write([]byte(p))
	}
	w.Flush()
	if b.String() != "a\nb\rc\n\r\nend\r" {
		t.Errorf("got %q", b.String())
	}
}
