package decode

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestClamAVTestfiles decodes each of Debian's clamav-testfiles as an
// attachment: the outer type must be right and, where the format is one we
// unpack, the clam.exe inside must be found and typed as a PE executable.
func TestClamAVTestfiles(t *testing.T) {
	const dir = "/usr/share/clamav-testfiles"
	if _, err := os.Stat(dir); err != nil {
		t.Skip("clamav-testfiles not installed")
	}
	cases := []struct {
		file  string
		outer string // short type of the file itself
		inner bool   // a PE must be found inside
		ctype string // declared type, default application/octet-stream
		tool  string // program needed
	}{
		{"clam.exe", "exe-ms", false, "", ""},
		{"clam-aspack.exe", "exe-ms", false, "", ""},
		{"clam-fsg.exe", "exe-ms", false, "", ""},
		{"clam-mew.exe", "exe-ms", false, "", ""},
		{"clam-nsis.exe", "exe-ms", false, "", ""},
		{"clam-pespin.exe", "exe-ms", false, "", ""},
		{"clam-petite.exe", "exe-ms", false, "", ""},
		{"clam-upack.exe", "exe-ms", false, "", ""},
		{"clam-upx.exe", "exe-ms", false, "", ""},
		{"clam-wwpack.exe", "exe-ms", false, "", ""},
		{"clam-yc.exe", "exe-ms", false, "", ""},
		{"clam.ea05.exe", "exe-ms", false, "", ""},
		{"clam.ea06.exe", "exe-ms", false, "", ""},
		{"clam_IScab_ext.exe", "exe-ms", false, "", ""},
		{"clam_IScab_int.exe", "exe-ms", false, "", ""},
		{"clam_ISmsi_ext.exe", "exe-ms", false, "", ""},
		{"clam_ISmsi_int.exe", "exe-ms", false, "", ""},
		{"clam.7z", "7z", true, "", ""},
		{"clam.arj", "arj", true, "", "arj"},
		{"clam.bin-be.cpio", "cpio", true, "", ""},
		{"clam.bin-le.cpio", "cpio", true, "", ""},
		{"clam.newc.cpio", "cpio", true, "", ""},
		{"clam.odc.cpio", "cpio", true, "", ""},
		{"clam.zip", "zip", true, "", ""},
		{"clam.bz2.zip", "zip", true, "", ""},
		{"clam.d64.zip", "zip", true, "", "7z"},
		{"clam.impl.zip", "zip", true, "", "7z"},
		{"clam.cab", "cab", true, "", "cabextract"},
		{"clam.chm", "chm", true, "", "7z"},
		{"clam.exe.bz2", "bz2", true, "", ""},
		{"clam.exe.szdd", "szdd", true, "", "7z"},
		{"clam.tar.gz", "gz", true, "", ""},
		{"clam_cache_emax.tgz", "gz", false, "", ""},
		{"clam.tnef", "tnef", true, "", ""},
		{"clam.ole.doc", "doc", true, "", ""},
		{"clam.ppt", "doc", true, "", ""},
		{"clam.exe.mbox.base64", "asc", true, "", ""},
		{"clam.exe.mbox.uu", "asc", true, "", ""},
		{"clam.mail", "asc", true, "message/rfc822", ""},
		{"clam.exe.binhex", "hqx", false, "", ""},
		{"clam.exe.html", "html", false, "", ""},
		{"clam.exe.rtf", "rtf", false, "", ""},
		{"clam.pdf", "pdf", false, "", ""},
		{"clam.sis", "dat", false, "", ""},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		seen[c.file] = true
		t.Run(c.file, func(t *testing.T) {
			if c.tool != "" {
				needTool(t, c.tool)
			}
			data, err := os.ReadFile(filepath.Join(dir, c.file))
			if err != nil {
				t.Skip(err)
			}
			att := file(c.file, data)
			if c.ctype != "" {
				att.ctype = c.ctype
			}
			res := decodeBytes(t, mailWith(att), DefaultLimits())
			o := find(res, c.file)
			if o < 0 || !res.Parts[o].HasType(c.outer) {
				t.Fatalf("outer type: want %s:\n%s", c.outer, res.Tree())
			}
			if !c.inner {
				return
			}
			for i, p := range res.Parts {
				if i != o && p.Depth > res.Parts[o].Depth && p.HasType("exe-ms") && inside(res, i, o) {
					return
				}
			}
			t.Errorf("no PE found inside %s:\n%s", c.file, res.Tree())
		})
	}
	all, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range all {
		if !seen[filepath.Base(f)] && !strings.HasSuffix(f, ".md") {
			t.Errorf("test file %s has no expectation", filepath.Base(f))
		}
	}
}

func inside(r *Result, i, o int) bool {
	for _, j := range r.Chain(i) {
		if j == o {
			return true
		}
	}
	return false
}
