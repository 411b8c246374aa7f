package spamd

import (
	"bufio"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

func TestReadReply(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		wantErr  string
		spam     bool
		score    float64
		reqd     float64
		body     string
	}{
		{"report", "SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nhello",
			"", true, 1000, 5, "hello"},
		{"ham negative", "SPAMD/1.1 0 EX_OK\r\nContent-length: 0\r\nSpam: False ; -1.9 / 5.0\r\n\r\n",
			"", false, -1.9, 5, ""},
		{"no content-length", "SPAMD/1.1 0 EX_OK\r\nSpam: Yes ; 7.2 / 5.0\r\n\r\nA,B\r\n",
			"", true, 7.2, 5, "A,B\r\n"},
		{"error code", "SPAMD/1.0 76 Bad header line: (Content-Length mismatch)\r\n", "76 Bad header line", false, 0, 0, ""},
		{"garbage", "HTTP/1.0 200 OK\r\n\r\n", "bad spamd status line", false, 0, 0, ""},
		{"empty", "", "without a reply", false, 0, 0, ""},
		{"short body", "SPAMD/1.1 0 EX_OK\r\nContent-length: 50\r\nSpam: True ; 1 / 5\r\n\r\nabc", "reading spamd reply body", false, 0, 0, ""},
		{"bad spam header", "SPAMD/1.1 0 EX_OK\r\nSpam: Maybe ; 1 / 5\r\n\r\n", "bad spamd Spam header", false, 0, 0, ""},
		{"nan score", "SPAMD/1.1 0 EX_OK\r\nSpam: True ; NaN / 5\r\n\r\n", "bad spamd Spam header", false, 0, 0, ""},
		{"huge body", "SPAMD/1.1 0 EX_OK\r\nContent-length: 99999999999\r\nSpam: True ; 1 / 5\r\n\r\n", "too large", false, 0, 0, ""},
		{"long line", "SPAMD/1.1 0 EX_OK\r\nX: " + strings.Repeat("a", 20000) + "\r\n\r\n", "longer than", false, 0, 0, ""},
		{"bad header", "SPAMD/1.1 0 EX_OK\r\nno colon\r\n\r\n", "bad spamd reply header", false, 0, 0, ""},
		{"too many headers", "SPAMD/1.1 0 EX_OK\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n", "too many", false, 0, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rp, err := readReply(bufio.NewReader(strings.NewReader(tc.in)), 1<<20)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !rp.HasSpam || rp.IsSpam != tc.spam || rp.Score != tc.score || rp.Required != tc.reqd || string(rp.Body) != tc.body {
				t.Errorf("reply = %+v", rp)
			}
		})
	}
}

// A REPORT body as spamd 4.0.1 sends it for sample-spam.txt with a long
// description and a rule message, to check the table parser.
const reportBody = `Spam detection software, running on the system "vm",
has identified this incoming email as possible spam.  The original
message has been attached to this so you can view it or label
similar future email.  If you have any questions, see
@@CONTACT_ADDRESS@@ for details.

Content preview:  This is the GTUBE, the Generic Test for Unsolicited Bulk Email
   2001 Reviving verify that the filter is installed correctly and is detecting incoming spam.

Content analysis details:   (1002.2 points, 5.0 required)

 pts rule name              description
---- ---------------------- --------------------------------------------------
-0.0 NO_RECEIVED            Informational: message has no Received headers
1000 GTUBE                  BODY: Generic Test for Unsolicited Bulk Email
 2.2 LONGWORDS              Long string of long words
                            10 days continuation of a long description
                            [cf: 100]
 -20 USER_IN_WELCOMELIST    User is listed in 'welcomelist_from'
 0.0 T_SCC_BODY_TEXT_LINE
-0.0 NO_RELAYS              Informational: message was not relayed via SMTP

`

func TestParseReport(t *testing.T) {
	got := parseReport([]byte(reportBody))
	want := []spam.Test{{Name: "GTUBE", Score: 1000}, {Name: "LONGWORDS", Score: 2.2}, {Name: "NO_RECEIVED", Score: 0},
		{Name: "NO_RELAYS", Score: 0}, {Name: "T_SCC_BODY_TEXT_LINE", Score: 0}, {Name: "USER_IN_WELCOMELIST", Score: -20}}
	if !equalTests(got, want) {
		t.Errorf("parseReport =\n %v\nwant\n %v", got, want)
	}
	// without the ruler only upper-case names count: the preview line
	// "   2001 Reviving ..." is not a rule
	noRuler := strings.Replace(reportBody, "---- ---", "", 1)
	got = parseReport([]byte(noRuler))
	if !equalTests(got, want) {
		t.Errorf("parseReport without ruler =\n %v\nwant\n %v", got, want)
	}
	if got := parseReport([]byte("nothing here")); len(got) != 0 {
		t.Errorf("parseReport(garbage) = %v", got)
	}
}

func TestParseSymbols(t *testing.T) {
	got := parseSymbols([]byte("NO_RELAYS,GTUBE,NO_RECEIVED\r\n"))
	want := []spam.Test{{Name: "GTUBE", NoScore: true}, {Name: "NO_RECEIVED", NoScore: true}, {Name: "NO_RELAYS", NoScore: true}}
	if !equalTests(got, want) {
		t.Errorf("parseSymbols = %v", got)
	}
	if got := parseSymbols([]byte("")); len(got) != 0 {
		t.Errorf("parseSymbols(empty) = %v", got)
	}
	if got := parseSymbols([]byte("A=1,B C,D")); !equalTests(got, []spam.Test{{Name: "D", NoScore: true}}) {
		t.Errorf("parseSymbols(bad names) = %v", got)
	}
}

func TestParseHeaders(t *testing.T) {
	withScores := "Return-Path: <a@b>\n" +
		"X-Spam-Checker-Version: SpamAssassin 4.0.1 (2024-03-25) on vm\n" +
		"X-Spam-Status: Yes, score=1000.0 required=5.0 tests=GTUBE,NO_RECEIVED,\n" +
		"\tNO_RELAYS autolearn=no autolearn_force=no version=4.0.1\n" +
		"X-Spam-Tests: GTUBE=1000,NO_RECEIVED=-0.001,\n\tNO_RELAYS=-0.001\n" +
		"Subject: x\n\n"
	info := parseHeaders([]byte(withScores))
	want := []spam.Test{{Name: "GTUBE", Score: 1000}, {Name: "NO_RECEIVED", Score: -0.001}, {Name: "NO_RELAYS", Score: -0.001}}
	if !equalTests(info.Tests, want) || info.Autolearn != "no" {
		t.Errorf("parseHeaders = %+v", info)
	}
	namesOnly := strings.Replace(withScores, "X-Spam-Tests: GTUBE=1000,NO_RECEIVED=-0.001,\n\tNO_RELAYS=-0.001\n", "", 1)
	info = parseHeaders([]byte(namesOnly))
	want = []spam.Test{{Name: "GTUBE", NoScore: true}, {Name: "NO_RECEIVED", NoScore: true}, {Name: "NO_RELAYS", NoScore: true}}
	if !equalTests(info.Tests, want) || info.Autolearn != "no" {
		t.Errorf("parseHeaders without X-Spam-Tests = %+v", info)
	}
	info = parseHeaders([]byte("X-Spam-Status: No, score=0.0 required=5.0 tests=none autolearn=disabled\n\tversion=4.0.1\n\n"))
	if len(info.Tests) != 0 || info.Autolearn != "disabled" {
		t.Errorf("parseHeaders(none) = %+v", info)
	}
	info = parseHeaders([]byte("X-Spam-Tests: none\nX-Spam-Status: No, tests=A\n\n"))
	if !equalTests(info.Tests, []spam.Test{{Name: "A", NoScore: true}}) {
		t.Errorf("parseHeaders(X-Spam-Tests none) = %+v", info)
	}
}

func equalTests(a, b []spam.Test) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func FuzzReadReply(f *testing.F) {
	f.Add([]byte("SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nhello"))
	f.Add([]byte("SPAMD/1.1 0 EX_OK\r\nSpam: False ; 0.0 / 5.0\r\n\r\n"))
	f.Add([]byte("SPAMD/1.0 76 Bad header line\r\n"))
	f.Add([]byte("SPAMD/1.5 0 PONG\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		rp, err := readReply(bufio.NewReader(strings.NewReader(string(b))), 1<<16)
		if err == nil && int64(len(rp.Body)) > 1<<16 {
			t.Fatalf("body %d bytes above the limit", len(rp.Body))
		}
	})
}

func FuzzParseBodies(f *testing.F) {
	f.Add([]byte(reportBody))
	f.Add([]byte("GTUBE,NO_RECEIVED"))
	f.Add([]byte("X-Spam-Status: Yes, tests=A,\n\tB autolearn=no\nX-Spam-Tests: A=1,B=2\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, tests := range [][]spam.Test{parseReport(b), parseSymbols(b), parseHeaders(b).Tests} {
			for _, tt := range tests {
				if !validRuleName(tt.Name) {
					t.Fatalf("invalid test name %q", tt.Name)
				}
			}
		}
	})
}
