package decode

import (
	"strings"
	"testing"
)

const hdr = "From: a@example.com\r\nTo: b@example.org\r\nSubject: t\r\nMIME-Version: 1.0\r\n"

func TestMalformedMIME(t *testing.T) {
	exe := b64lines(tinyPE(false))
	cases := []struct {
		name    string
		msg     string
		exeName string // a part with this name must be a PE
		mimeErr string // substring of a MIME error, "" for none expected
		minor   int    // an UNCHECKED minor expected, -1 for none
		hold    string
	}{
		{"boundary mismatch hides nothing", hdr + "Content-Type: multipart/mixed; boundary=\"abc\"\r\n\r\n" +
			"--abd\r\nContent-Type: text/plain\r\n\r\nhi\r\n--abd\r\nContent-Type: application/octet-stream; name=\"a.exe\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + exe + "--abd--\r\n",
			"a.exe", "declared boundary not found", -1, ""},
		{"no boundary parameter", hdr + "Content-Type: multipart/mixed\r\n\r\n" +
			"--zz\r\nContent-Type: application/octet-stream; name=\"b.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--zz--\r\n",
			"b.exe", "multipart without boundary", -1, ""},
		{"missing closing boundary", hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
			"--q\r\nContent-Type: application/octet-stream; name=\"c.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe,
			"c.exe", "missing closing boundary", -1, ""},
		{"part after closing boundary", hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
			"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q--\r\n" +
			"--q\r\nContent-Type: application/octet-stream; name=\"d.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--q--\r\n",
			"d.exe", "part after the closing boundary", -1, ""},
		{"inner multipart unterminated", hdr + "Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
			"--outer\r\nContent-Type: multipart/alternative; boundary=inner\r\n\r\n--inner\r\nContent-Type: text/plain\r\n\r\nx\r\n" +
			"--outer\r\nContent-Type: application/octet-stream; name=\"e.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--outer--\r\n",
			"e.exe", "missing closing boundary before the enclosing one", -1, ""},
		{"header line without colon", hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
			"--q\r\nContent-Type: application/octet-stream; name=\"f.exe\"\r\nthis is not a header\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--q--\r\n",
			"f.exe", "malformed header line", -1, ""},
		{"garbage in base64", hdr + "Content-Type: application/octet-stream; name=\"g.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			strings.Replace(exe, "\r\n", "!!\r\n", 3),
			"g.exe", "malformed base64", -1, ""},
		{"ambiguous boundaries", hdr + "Content-Type: multipart/mixed; boundary=a; boundary=b\r\n\r\n" +
			"--b\r\nContent-Type: application/octet-stream; name=\"h.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--b--\r\n",
			"h.exe", "multiple boundary parameters", MinorAmbiguous, ""},
		{"two content types", hdr + "Content-Type: text/plain\r\nContent-Type: application/octet-stream; name=\"l.exe\"\r\n" +
			"Content-Transfer-Encoding: base64\r\n\r\n" + exe, "l.exe", "duplicate Content-Type", MinorAmbiguous, ""},
		{"bare LF and broken params", "From: a@b\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"lf\n\n" +
			"--lf\nContent-Type: application/octet-stream; name=i.exe (comment)\nContent-Disposition: attachment; filename=\"i.exe\n" +
			"Content-Transfer-Encoding: BASE64\n\n" + strings.ReplaceAll(exe, "\r\n", "\n") + "--lf--\n",
			"i.exe", "unterminated quoted string", -1, ""},
		{"encrypted MIME", hdr + "Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=e\r\n\r\n" +
			"--e\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n--e\r\nContent-Type: application/octet-stream\r\n\r\n" +
			"-----BEGIN PGP MESSAGE-----\r\n\r\nhQEMA\r\n-----END PGP MESSAGE-----\r\n--e--\r\n",
			"", "", MinorEncrypted, ""},
		{"nesting bomb", hdr + strings.Repeat("Content-Type: multipart/mixed; boundary=n\r\n\r\n--n\r\n", 100),
			"", "", MinorOverLimits, "Maximum MIME nesting depth (64) exceeded"},
		{"quoted-printable", hdr + "Content-Type: text/html; name=\"j.exe\"\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n" +
			qpEncode(tinyPE(false)), "j.exe", "", -1, ""},
		{"overlong line cannot forge a boundary", hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
			"--q\r\nContent-Type: text/plain\r\n\r\n" + strings.Repeat("x", 70000) + "--q--\r\n" +
			"--q\r\nContent-Type: application/octet-stream; name=\"k.exe\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + exe + "--q--\r\n",
			"k.exe", "", -1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := decodeBytes(t, []byte(c.msg), DefaultLimits())
			if c.exeName != "" {
				i := find(res, c.exeName)
				if i < 0 || !res.Parts[i].HasType("exe-ms") {
					t.Errorf("%s not seen as PE:\n%s", c.exeName, res.Tree())
				}
			}
			if c.mimeErr != "" && !strings.Contains(strings.Join(res.MIMEErrors, "\n"), c.mimeErr) {
				t.Errorf("MIME errors %q lack %q", res.MIMEErrors, c.mimeErr)
			}
			if c.mimeErr == "" && c.minor < 0 && len(res.MIMEErrors) > 0 {
				t.Errorf("unexpected MIME errors %q", res.MIMEErrors)
			}
			if c.minor >= 0 && !hasMinor(res, c.minor) {
				t.Errorf("minors %v lack %d:\n%s", res.Minors(), c.minor, res.Tree())
			}
			if c.hold != res.Hold {
				t.Errorf("hold %q, want %q", res.Hold, c.hold)
			}
		})
	}
}

func qpEncode(b []byte) string {
	var s strings.Builder
	n := 0
	for _, c := range b {
		var tok string
		if c >= 33 && c <= 126 && c != '=' {
			tok = string(c)
		} else {
			tok = "=" + strings.ToUpper(string("0123456789abcdef"[c>>4])+string("0123456789abcdef"[c&15]))
		}
		if n+len(tok) > 75 {
			s.WriteString("=\r\n")
			n = 0
		}
		s.WriteString(tok)
		n += len(tok)
	}
	return s.String() + "\r\n"
}

func TestPreambleAndTree(t *testing.T) {
	msg := hdr + "Content-Type: multipart/mixed; boundary=q\r\n\r\n" +
		"<script>alert(1)</script>\r\n" +
		"--q\r\nContent-Type: text/plain\r\n\r\nhi\r\n--q\r\nContent-Type: application/zip; name=\"x.zip\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + b64lines(zipOf(member{"a.exe", tinyPE(false)})) + "--q--\r\n"
	res := decodeBytes(t, []byte(msg), DefaultLimits())
	if find(res, "preamble") < 0 {
		t.Errorf("non-trivial preamble not a part:\n%s", res.Tree())
	}
	tree := res.Tree()
	for _, want := range []string{"p001 1 multipart/mixed\n", "  p002 1 \"preamble\" [html] 27 B\n",
		"  p004 1/2 application/zip \"x.zip\" [zip]", "    p005 1/2/1 \"a.exe\" [exe,exe-ms] 1024 B\n"} {
		if !strings.Contains(tree, want) {
			t.Errorf("tree lacks %q:\n%s", want, tree)
		}
	}
	i := find(res, "a.exe")
	np := res.NamePath(i)
	want := "P=p001\tL=1\tM=multipart/mixed\nP=p004\tL=1/2\tM=application/zip\tT=zip\tN=x.zip\nP=p005\tL=1/2/1\tT=exe\tT=exe-ms\tN=a.exe"
	if np != want {
		t.Errorf("NamePath:\n%q\nwant\n%q", np, want)
	}
	leaves := res.Leaves()
	if len(leaves) != 3 {
		t.Errorf("leaves %v", leaves)
	}
}
