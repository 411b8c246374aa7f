package virus

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/check/virus/virustest"
)

// This file measures what has to be streamed to clamd so that a test virus
// inside every archive format is found (docs/virus-scanning.md): the raw
// message alone (clamd's own MIME and archive decoders), the decoded parts
// alone (mavis's decoder), or both.
//
// internal/decode is written elsewhere; here its place is taken by the
// external unpackers amavis itself uses (7z, zstd, lz4, lzop), which give
// the same leaves: the test needs the parts a decoder produces, not a
// particular decoder.

type sample struct {
	name  string
	build func(t *testing.T, dir string) string // returns the attachment file
	// clamdOpens: clamd alone finds the virus in the raw message (measured;
	// the test fails if clamd's behaviour changes)
	clamdOpens bool
	// encrypted: neither clamd nor a decoder can open it
	encrypted bool
}

func run(t *testing.T, dir string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
}

func need(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("MAVIS_REQUIRE_INTEGRATION") != "" {
				t.Fatalf("%s not installed (scripts/test-deps.sh installs it)", tool)
			}
			t.Skipf("%s not installed", tool)
		}
	}
}

// payload writes clam.exe (clamav-testfiles; its code is what the test
// signature matches, and it compresses, so the signature bytes are not
// visible in compressed archives) as dir/name.
func payload(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(virustest.TestFilesDir, "clam.exe"))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// eicarPadded is EICAR followed by compressible text, so that compressors
// do not store it verbatim.
func eicarPadded() []byte {
	return append(virustest.EICAR(), bytes.Repeat([]byte(" padding text for the compressor\n"), 200)...)
}

func compress1(tool string, args ...string) func(t *testing.T, dir string) string {
	return func(t *testing.T, dir string) string {
		need(t, tool)
		p := payload(t, dir, "clam.exe")
		run(t, dir, tool, append(args, p)...)
		ext := map[string]string{"gzip": ".gz", "bzip2": ".bz2", "xz": ".xz", "zstd": ".zst", "lz4": ".lz4", "lzop": ".lzo"}[tool]
		return p + ext
	}
}

func samples() []sample {
	return []sample{
		{"zip (deflate)", func(t *testing.T, d string) string {
			need(t, "zip")
			payload(t, d, "clam.exe")
			run(t, d, "zip", "-q", "a.zip", "clam.exe")
			return filepath.Join(d, "a.zip")
		}, true, false},
		{"7z", func(t *testing.T, d string) string {
			need(t, "7z")
			payload(t, d, "clam.exe")
			run(t, d, "7z", "a", "-bd", "a.7z", "clam.exe")
			return filepath.Join(d, "a.7z")
		}, true, false},
		{"tar", func(t *testing.T, d string) string {
			payload(t, d, "clam.exe")
			run(t, d, "tar", "cf", "a.tar", "clam.exe")
			return filepath.Join(d, "a.tar")
		}, true, false},
		{"tar.gz", func(t *testing.T, d string) string {
			payload(t, d, "clam.exe")
			run(t, d, "tar", "czf", "a.tgz", "clam.exe")
			return filepath.Join(d, "a.tgz")
		}, true, false},
		{"tar.bz2", func(t *testing.T, d string) string {
			payload(t, d, "clam.exe")
			run(t, d, "tar", "cjf", "a.tbz", "clam.exe")
			return filepath.Join(d, "a.tbz")
		}, true, false},
		{"tar.xz", func(t *testing.T, d string) string {
			payload(t, d, "clam.exe")
			run(t, d, "tar", "cJf", "a.txz", "clam.exe")
			return filepath.Join(d, "a.txz")
		}, true, false},
		{"gzip", compress1("gzip", "-k"), true, false},
		{"bzip2", compress1("bzip2", "-k"), true, false},
		{"xz", compress1("xz", "-k"), true, false},
		{"zstd", compress1("zstd", "-q", "-k"), false, false},
		// LZ4 and LZO copy literals verbatim (no entropy coding): the
		// signature bytes of a small file stay visible to clamd's raw scan
		{"lz4", compress1("lz4", "-q", "-k", "-m"), true, false},
		{"lzop", compress1("lzop", "-k"), true, false},
		{"cpio (newc)", func(t *testing.T, d string) string {
			need(t, "cpio")
			payload(t, d, "clam.exe")
			cmd := exec.Command("cpio", "-o", "-H", "newc", "-O", "a.cpio")
			cmd.Dir, cmd.Stdin = d, strings.NewReader("clam.exe\n")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("cpio: %v %s", err, out)
			}
			return filepath.Join(d, "a.cpio")
		}, true, false},
		{"ar (deb)", func(t *testing.T, d string) string {
			need(t, "ar")
			payload(t, d, "clam.exe")
			run(t, d, "ar", "rc", "a.a", "clam.exe")
			return filepath.Join(d, "a.a")
		}, true, false},
		{"arj", func(t *testing.T, d string) string {
			need(t, "arj")
			payload(t, d, "clam.exe")
			run(t, d, "arj", "a", "-i", "-y", "a.arj", "clam.exe")
			return filepath.Join(d, "a.arj")
		}, true, false},
		{"cab (clamav-testfiles)", func(t *testing.T, d string) string {
			b, err := os.ReadFile(filepath.Join(virustest.TestFilesDir, "clam.cab"))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(d, "a.cab")
			os.WriteFile(p, b, 0o644)
			return p
		}, true, false},
		{"rar (stored) of zstd", func(t *testing.T, d string) string {
			need(t, "zstd")
			p := compress1("zstd", "-q", "-k")(t, d)
			b, _ := os.ReadFile(p)
			out := filepath.Join(d, "a.rar")
			os.WriteFile(out, virustest.StoredRAR("clam.exe.zst", b), 0o644)
			return out
		}, false, false},
		{"zip in 7z in rar (EICAR)", func(t *testing.T, d string) string {
			need(t, "zip", "7z")
			os.WriteFile(filepath.Join(d, "eicar.com"), eicarPadded(), 0o644)
			run(t, d, "zip", "-q", "in.zip", "eicar.com")
			run(t, d, "7z", "a", "-bd", "mid.7z", "in.zip")
			b, _ := os.ReadFile(filepath.Join(d, "mid.7z"))
			out := filepath.Join(d, "a.rar")
			os.WriteFile(out, virustest.StoredRAR("mid.7z", b), 0o644)
			return out
		}, true, false}, // clamd finds the 7z embedded in the raw RAR bytes
		{"zip in zip in zip", func(t *testing.T, d string) string {
			need(t, "zip")
			payload(t, d, "clam.exe")
			run(t, d, "zip", "-q", "1.zip", "clam.exe")
			run(t, d, "zip", "-q", "2.zip", "1.zip")
			run(t, d, "zip", "-q", "3.zip", "2.zip")
			return filepath.Join(d, "3.zip")
		}, true, false},
		{"zstd in zip", func(t *testing.T, d string) string {
			need(t, "zip", "zstd")
			compress1("zstd", "-q", "-k")(t, d)
			run(t, d, "zip", "-q", "a.zip", "clam.exe.zst")
			return filepath.Join(d, "a.zip")
		}, false, false},
		{"lz4 in 7z", func(t *testing.T, d string) string {
			need(t, "7z", "lz4")
			compress1("lz4", "-q", "-k", "-m")(t, d)
			run(t, d, "7z", "a", "-bd", "a.7z", "clam.exe.lz4")
			return filepath.Join(d, "a.7z")
		}, true, false},
		{"7z (encrypted headers) in rar", func(t *testing.T, d string) string {
			// what mavis's decoder cannot open either: both miss it, the
			// decoder reports it encrypted (CC_UNCHECKED), never clean
			need(t, "7z")
			payload(t, d, "clam.exe")
			run(t, d, "7z", "a", "-bd", "-psecret", "-mhe=on", "mid.7z", "clam.exe")
			b, _ := os.ReadFile(filepath.Join(d, "mid.7z"))
			out := filepath.Join(d, "a.rar")
			os.WriteFile(out, virustest.StoredRAR("mid.7z", b), 0o644)
			return out
		}, false, true},
	}
}

// unpack stands in for internal/decode: it unpacks file recursively into
// dir with the external programs amavis uses and returns the leaves.
func unpack(t *testing.T, file, dir string, depth int) []string {
	t.Helper()
	if depth > 6 {
		t.Fatalf("too deep: %s", file)
	}
	out := filepath.Join(dir, fmt.Sprintf("u%d-%s", depth, filepath.Base(file)))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	base := filepath.Base(file)
	ext := filepath.Ext(base)
	var cmd *exec.Cmd
	switch ext {
	case ".zst":
		cmd = exec.Command("zstd", "-q", "-d", file, "-o", filepath.Join(out, strings.TrimSuffix(base, ext)))
	case ".lz4":
		cmd = exec.Command("lz4", "-q", "-d", file, filepath.Join(out, strings.TrimSuffix(base, ext)))
	case ".lzo":
		cmd = exec.Command("lzop", "-d", file, "-o"+filepath.Join(out, strings.TrimSuffix(base, ext)))
	case ".zip", ".7z", ".tar", ".tgz", ".tbz", ".txz", ".gz", ".bz2", ".xz", ".cpio", ".a", ".arj", ".cab", ".rar":
		cmd = exec.Command("7z", "x", "-y", "-bd", "-pmavis-no-password", "-o"+out, file)
	default:
		return []string{file}
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		if bytes.Contains(b, []byte("Wrong password")) || bytes.Contains(b, []byte("Cannot open encrypted archive")) {
			return []string{file} // encrypted: the decoder keeps it as it is
		}
		t.Fatalf("unpack %s: %v\n%s", base, err, b)
	}
	var leaves []string
	err := filepath.Walk(out, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		leaves = append(leaves, unpack(t, p, dir, depth+1)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return leaves
}

// TestCoverage: with the raw message and the parts streamed (ScanBoth),
// every sample's virus is found; the parts alone find every one the decoder
// unpacks; the raw message alone finds only what clamd can open.
func TestCoverage(t *testing.T) {
	cl := virustest.Require(t)
	need(t, "7z")
	scanners := map[What]*Clamd{}
	for _, w := range []What{ScanMessage, ScanParts, ScanBoth} {
		scanners[w] = clamdScanner(t, "ClamAV-clamd", "unix", cl.Socket, ClamdOptions{What: w})
	}
	elapsed := map[What]time.Duration{}
	var table strings.Builder
	fmt.Fprintf(&table, "\n| sample | message only | parts only | both |\n|---|---|---|---|\n")
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			build := t.TempDir()
			att := s.build(t, build)
			data, err := os.ReadFile(att)
			if err != nil {
				t.Fatal(err)
			}
			msg := virustest.Mail(t, filepath.Base(att), data)
			parts := t.TempDir()
			text := filepath.Join(parts, "p001")
			os.WriteFile(text, []byte("See the attachment.\r\n"), 0o644)
			req := &Request{LogID: "cov", Message: bytes.NewReader(msg), Size: int64(len(msg)), Dir: parts,
				Parts: append([]string{text}, unpack(t, att, parts, 0)...)}
			found := map[What]bool{}
			for _, w := range []What{ScanMessage, ScanParts, ScanBoth} {
				start := time.Now()
				r := scanners[w].Scan(ctxT(t, 60*time.Second), req)
				elapsed[w] += time.Since(start)
				if r.Err != nil {
					t.Fatalf("%v: %v", w, r.Err)
				}
				found[w] = r.Infected
			}
			fmt.Fprintf(&table, "| %s | %s | %s | %s |\n", s.name, yes(found[ScanMessage]), yes(found[ScanParts]), yes(found[ScanBoth]))
			if s.encrypted {
				if found[ScanBoth] {
					t.Errorf("encrypted sample found: %v", found)
				}
				return
			}
			if !found[ScanBoth] || !found[ScanParts] {
				t.Errorf("not found: %v", found)
			}
			if found[ScanMessage] != s.clamdOpens {
				t.Errorf("clamd alone found it: %v, expected %v (clamd's unpackers changed?)", found[ScanMessage], s.clamdOpens)
			}
		})
	}
	t.Logf("%s\nwall time over the corpus: message %v, parts %v, both %v", table.String(),
		elapsed[ScanMessage].Round(time.Millisecond), elapsed[ScanParts].Round(time.Millisecond), elapsed[ScanBoth].Round(time.Millisecond))
}

func yes(b bool) string {
	if b {
		return "found"
	}
	return "**missed**"
}
