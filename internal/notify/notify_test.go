package notify

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	_ "github.com/emersion/go-message/charset"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// parsed is a notification taken apart with go-message.
type parsed struct {
	header message.Header
	parts  []parsedPart
}

type parsedPart struct {
	ctype  string
	params map[string]string
	body   string
}

func parseMsg(t *testing.T, raw []byte) parsed {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("go-message cannot read the notification: %v", err)
	}
	p := parsed{header: e.Header}
	mr := e.MultipartReader()
	if mr == nil {
		t.Fatalf("not multipart: %s", e.Header.Get("Content-Type"))
	}
	for {
		pe, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("part: %v", err)
		}
		ct, params, _ := pe.Header.ContentType()
		b, err := io.ReadAll(pe.Body)
		if err != nil {
			t.Fatalf("part body: %v", err)
		}
		p.parts = append(p.parts, parsedPart{ctype: ct, params: params, body: strings.ReplaceAll(string(b), "\r\n", "\n")})
	}
	return p
}

// readSample parses one of amavis's real notifications, dropping the
// capture server's X-Rig-* lines.
func readSample(t *testing.T, name string) parsed {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "X-Rig-") {
			keep = append(keep, l)
		}
	}
	return parseMsg(t, []byte(strings.Join(keep, "\n")))
}

func bannedInfo(t *testing.T) *Info {
	in := eicarInfo(t)
	in.LogID, in.MailID = "23233-08", "zljubJNZ3ndO"
	in.Received = in.Received.Add(time.Second)
	b := policy.Category{Major: policy.CCBanned}
	in.Main, in.Blocking = b, &b
	in.VirusNames, in.Scanners, in.ScannerOutput = nil, nil, ""
	in.Banned = "application/octet-stream,.exe,.exe-ms,setup.exe"
	in.Quarantined = []string{"z/banned-zljubJNZ3ndO"}
	h, _ := mail.ParseHeader(strings.NewReader(strings.NewReplacer("Test attachment", "Installer",
		"rig-corpus-07", "rig-corpus-08", "2196031127299357468", "2931333808614065463").Replace(eicarHeader)))
	in.Header = h
	in.Rcpts[0].Reply = mail.Reply{Code: 250, Enh: "2.7.0", Text: "Ok, discarded, id=23233-08 - BANNED: application/octet-stream,.exe,.exe-ms,setup.exe"}
	in.Rcpts[0].Category, in.Rcpts[0].Blocking = b, &b
	return in
}

// TestAdminMatchesAmavis compares our admin notifications with the ones
// amavisd-new 2.13 sent in the reference rig for the same messages.
func TestAdminMatchesAmavis(t *testing.T) {
	tests := []struct {
		name   string
		sample string
		info   func(*testing.T) *Info
	}{
		{"virus", "amavis-admin-virus.eml", func(t *testing.T) *Info { return eicarInfo(t) }},
		{"banned", "amavis-admin-banned.eml", bannedInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := Admin(tt.info(t), AdminOptions{Admins: []string{"postmaster@rig.test"}})
			if err != nil {
				t.Fatal(err)
			}
			if n.MailFrom != "postmaster@amavis-rig.test" || strings.Join(n.Rcpts, ",") != "postmaster@rig.test" {
				t.Errorf("envelope %q -> %v", n.MailFrom, n.Rcpts)
			}
			got := parseMsg(t, n.Message)
			want := readSample(t, tt.sample)
			for _, f := range []string{"From", "Date", "Subject", "To", "Message-Id", "Mime-Version", "Content-Transfer-Encoding"} {
				if g, w := got.header.Get(f), want.header.Get(f); g != w {
					t.Errorf("%s: got %q, want %q", f, g, w)
				}
			}
			if n.Subject != strings.ReplaceAll(want.header.Get("Subject"), "\r\n", "") {
				t.Logf("subject for logs: %q", n.Subject)
			}
			if len(got.parts) != 2 || len(want.parts) != 2 {
				t.Fatalf("parts: got %d, want %d", len(got.parts), len(want.parts))
			}
			for i := range want.parts {
				if got.parts[i].ctype != want.parts[i].ctype {
					t.Errorf("part %d type %s, want %s", i, got.parts[i].ctype, want.parts[i].ctype)
				}
			}
			// The report text, line by line. amavis lowercases the reply
			// line of a blocked recipient (its mail_addr_decode treats the
			// whole report line as an address); mavis keeps its case.
			gl := strings.Split(got.parts[0].body, "\n")
			wl := strings.Split(want.parts[0].body, "\n")
			if len(gl) != len(wl) {
				t.Errorf("text has %d lines, amavis %d:\n%s", len(gl), len(wl), got.parts[0].body)
			}
			for i := 0; i < len(gl) && i < len(wl); i++ {
				if gl[i] != wl[i] && !(strings.HasPrefix(gl[i], "   250 ") && strings.ToLower(gl[i]) == wl[i]) {
					t.Errorf("line %d:\n got %q\nwant %q", i+1, gl[i], wl[i])
				}
			}
			// The header part: Return-Path from the envelope, then the
			// original header section.
			if got.parts[1].body != want.parts[1].body {
				t.Errorf("header part:\n%s\nwant\n%s", got.parts[1].body, want.parts[1].body)
			}
			if got.parts[1].params["name"] != "header.hdr" {
				t.Errorf("header part params %v", got.parts[1].params)
			}
		})
	}
}

func TestAdminSubjects(t *testing.T) {
	tests := []struct {
		cat  policy.Category
		want string
	}{
		{policy.Category{Major: policy.CCUnchecked}, "UNCHECKED contents in mail FROM [127.0.0.1] <sender@example.net>"},
		{policy.Category{Major: policy.CCUnchecked, Minor: 1}, "UNCHECKED contents in mail FROM [127.0.0.1] <sender@example.net>"},
		{policy.Category{Major: policy.CCBadH, Minor: 2}, "INVALID HEADER in mail FROM [127.0.0.1] <sender@example.net>"},
		{policy.Category{Major: policy.CCSpam}, "Spam FROM [127.0.0.1] <sender@example.net>"},
		{policy.Category{Major: policy.CCOversized}, "OVERSIZED mail FROM [127.0.0.1] <sender@example.net>"},
	}
	for _, tt := range tests {
		in := eicarInfo(t)
		c := tt.cat
		in.Main, in.Blocking = c, &c
		in.VirusNames, in.Scanners = nil, nil
		in.Originating = true
		n, err := Admin(in, AdminOptions{Admins: []string{"a@x.test", "b@x.test"}, HdrFrom: `"Filter" <filter@x.test>`, MailFrom: "<>"})
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Replace(tt.want, "FROM ", "FROM LOCAL ", 1)
		if n.Subject != want {
			t.Errorf("%v: subject %q, want %q", tt.cat, n.Subject, want)
		}
		p := parseMsg(t, n.Message)
		if p.header.Get("To") != "<a@x.test>, <b@x.test>" || p.header.Get("From") != `"Filter" <filter@x.test>` || n.MailFrom != "" {
			t.Errorf("%v: To %q From %q mailfrom %q", tt.cat, p.header.Get("To"), p.header.Get("From"), n.MailFrom)
		}
		if tt.cat.Major == policy.CCSpam {
			if !strings.HasPrefix(p.header.Get("Message-Id"), "<SA") || !strings.Contains(p.parts[0].body, "Spam scanner report:") {
				t.Errorf("spam admin template not used:\n%s", p.parts[0].body)
			}
		} else if !strings.Contains(p.parts[0].body, "No viruses were found.") {
			t.Errorf("%v: text:\n%s", tt.cat, p.parts[0].body)
		}
	}
	if n, err := Admin(eicarInfo(t), AdminOptions{}); n != nil || err != nil {
		t.Errorf("no admins: %v %v", n, err)
	}
}

func bounceInfo(t *testing.T) *Info {
	in := bannedInfo(t)
	in.Params.EnvID = "env+2Bid"
	in.Rcpts[0].Destiny = policy.DBounce
	in.Rcpts[0].Reply = mail.Reply{Code: 554, Enh: "5.7.0", Text: "Bounce, id=23233-08 - BANNED: application/octet-stream,.exe,.exe-ms,setup.exe"}
	in.Rcpts[0].ORcpt = "rfc822;user+2Bext@rig.test"
	in.Rcpts = append(in.Rcpts, Rcpt{Addr: "other@rig.test", Destiny: policy.DPass, Done: Relayed,
		Reply:    mail.Reply{Code: 250, Enh: "2.0.0", Text: "from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as ABC"},
		Category: policy.Category{Major: policy.CCBanned}})
	return in
}

func TestDSNStructure(t *testing.T) {
	in := bounceInfo(t)
	n, suppressed, verdicts, err := DSN(in, DSNOptions{Bcc: "dsn-copy@rig.test"})
	if err != nil {
		t.Fatal(err)
	}
	if n == nil || suppressed {
		t.Fatalf("DSN = %v, suppressed %v, verdicts %v", n, suppressed, verdicts)
	}
	if verdicts[0].Verdict != Report || verdicts[1].Verdict != NoDSN {
		t.Errorf("verdicts %+v", verdicts)
	}
	if n.MailFrom != "" || strings.Join(n.Rcpts, ",") != "sender@example.net,dsn-copy@rig.test" || n.Kind != "dsn" {
		t.Errorf("envelope %q -> %v", n.MailFrom, n.Rcpts)
	}
	p := parseMsg(t, n.Message)
	ct, params, _ := p.header.ContentType()
	if ct != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Errorf("content type %s %v", ct, params)
	}
	if got := p.header.Get("Subject"); got != "BANNED contents from you (application/octet-stream,.exe,.exe-ms,setup.exe)" {
		t.Errorf("subject %q", got)
	}
	for f, want := range map[string]string{
		"From": `"Content-filter at amavis-rig.test" <postmaster@amavis-rig.test>`, "To": "<sender@example.net>",
		"Message-Id": "<VSzljubJNZ3ndO@amavis-rig.test>", "In-Reply-To": "<rig-corpus-08@example.net>",
		"Date": "Sat, 21 Nov 2026 07:11:24 +0000 (UTC)",
	} {
		if got := p.header.Get(f); got != want {
			t.Errorf("%s: %q, want %q", f, got, want)
		}
	}
	if len(p.parts) != 3 || p.parts[0].ctype != "text/plain" || p.parts[1].ctype != "message/delivery-status" || p.parts[2].ctype != "text/rfc822-headers" {
		t.Fatalf("parts: %+v", p.parts)
	}
	if p.parts[1].params["name"] != "dsn_status.dsn" {
		t.Errorf("status part params %v", p.parts[1].params)
	}
	for _, want := range []string{"BANNED CONTENTS ALERT", "banned name: application/octet-stream", "-> <user@rig.test>", "-> <other@rig.test>", "Our internal reference code for your message is 23233-08/zljubJNZ3ndO"} {
		if !strings.Contains(p.parts[0].body, want) {
			t.Errorf("text lacks %q:\n%s", want, p.parts[0].body)
		}
	}
	wantStatus := "Reporting-MTA: dns; amavis-rig.test\n" +
		"Received-From-MTA: dns; localhost ([127.0.0.1])\n" +
		"Arrival-Date: Sat, 21 Nov 2026 07:11:24 +0000 (UTC)\n" +
		"Original-Envelope-Id: env+id\n" +
		"\n" +
		"Original-Recipient: rfc822;user+ext@rig.test\n" +
		"Final-Recipient: rfc822;user@rig.test\n" +
		"Action: failed\n" +
		"Status: 5.7.0\n" +
		"Diagnostic-Code: smtp; 554-5.7.0 Bounce, id=23233-08 - BANNED:\n" +
		" 554 5.7.0 application/octet-stream,.exe,.exe-ms,setup.exe\n" +
		"Last-Attempt-Date: Sat, 21 Nov 2026 07:11:24 +0000 (UTC)\n" +
		"Final-Log-ID: 23233-08/zljubJNZ3ndO\n"
	if p.parts[1].body != wantStatus {
		t.Errorf("delivery-status:\n%s\nwant\n%s", p.parts[1].body, wantStatus)
	}
	if !strings.HasPrefix(p.parts[2].body, "Return-Path: <sender@example.net>\nFrom: Sender") || strings.Contains(p.parts[2].body, "body") {
		t.Errorf("header part:\n%s", p.parts[2].body)
	}
}

func TestDSNTemplatesByCategory(t *testing.T) {
	tests := []struct {
		cat     policy.Category
		subject string
	}{
		{policy.Category{Major: policy.CCVirus}, "VIRUS in message apparently from you (Eicar-Signature)"},
		{policy.Category{Major: policy.CCSpam}, "Considered UNSOLICITED BULK EMAIL, apparently from you"},
		{policy.Category{Major: policy.CCBadH, Minor: 2}, "Undeliverable mail, invalid header section: unencoded 8-bit character"},
		{policy.Category{Major: policy.CCBadH, Minor: 8}, "Undeliverable mail, invalid header section: duplicate header field"},
		{policy.Category{Major: policy.CCUnchecked, Minor: 1}, "Undeliverable mail, contents UNCHECKED"},
		{policy.Category{Major: policy.CCOversized}, "Undeliverable mail, OVERSIZED message"},
		{policy.Category{Major: policy.CCMTA, Minor: 2}, "Undeliverable mail, MTA-BLOCKED"},
	}
	for _, tt := range tests {
		in := bounceInfo(t)
		in.Rcpts = in.Rcpts[:1]
		c := tt.cat
		in.Main, in.Blocking = c, &c
		in.Rcpts[0].Category, in.Rcpts[0].Blocking = c, &c
		in.VirusNames = []string{"Eicar-Signature"}
		in.BadHeaders = []string{"Non-encoded 8-bit data (char E9 hex): Subject: caf\\xE9"}
		n, _, _, err := DSN(in, DSNOptions{})
		if err != nil || n == nil {
			t.Fatalf("%v: %v %v", tt.cat, n, err)
		}
		if n.Subject != tt.subject {
			t.Errorf("%v: subject %q, want %q", tt.cat, n.Subject, tt.subject)
		}
		p := parseMsg(t, n.Message)
		if len(p.parts) != 3 {
			t.Errorf("%v: %d parts", tt.cat, len(p.parts))
		}
		if tt.cat.Major == policy.CCBadH {
			body := p.parts[0].body
			if !strings.Contains(body, "INVALID HEADER: ") || !strings.Contains(body, "Non-encoded 8-bit data") || !strings.Contains(body, "This nondelivery report was generated by the program mavis at host") {
				t.Errorf("bad-header DSN text:\n%s", body)
			}
		}
	}
}

func TestDSNNotNeeded(t *testing.T) {
	in := eicarInfo(t) // discarded: no DSN, not "suppressed" (a 2xx reply)
	n, sup, v, err := DSN(in, DSNOptions{})
	if n != nil || sup || err != nil || v[0].Verdict != NoDSN {
		t.Errorf("discard: %v %v %v %v", n, sup, v, err)
	}
	in = bounceInfo(t)
	in.Sender = ""
	n, sup, _, _ = DSN(in, DSNOptions{})
	if n != nil || !sup {
		t.Errorf("null sender: %v suppressed=%v", n, sup)
	}
	in = bounceInfo(t)
	in.Rcpts[0].Notify = []string{"NEVER"}
	n, sup, v, _ = DSN(in, DSNOptions{})
	if n != nil || !sup || v[0].Reason != "NOTIFY=NEVER" {
		t.Errorf("NOTIFY=NEVER: %v %v %v", n, sup, v)
	}
}

func TestDSNUTF8HeaderPart(t *testing.T) {
	in := bounceInfo(t)
	h, _ := mail.ParseHeader(strings.NewReader("From: Jörg <j@x.test>\r\nSubject: Grüße\r\n\r\n"))
	in.Header = h
	n, _, _, err := DSN(in, DSNOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := parseMsg(t, n.Message)
	if p.parts[2].ctype != "message/global-headers" || p.parts[0].ctype != "text/plain" {
		t.Errorf("parts %s %s", p.parts[0].ctype, p.parts[2].ctype)
	}
	if !strings.Contains(p.parts[0].body, "From: Jörg <j@x.test>") || !strings.Contains(p.parts[0].body, "Subject: Grüße") {
		t.Errorf("text (decoded):\n%s", p.parts[0].body)
	}
}

func BenchmarkAdminNotification(b *testing.B) {
	in := eicarInfo(b)
	opt := AdminOptions{Admins: []string{"postmaster@rig.test"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Admin(in, opt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDSN(b *testing.B) {
	in := eicarInfo(b)
	in.Rcpts[0].Destiny = policy.DBounce
	in.Rcpts[0].Reply = mail.Reply{Code: 554, Enh: "5.7.0", Text: "Bounce, id=23233-07 - INFECTED: Eicar"}
	b.ReportAllocs()
	for b.Loop() {
		if n, _, _, err := DSN(in, DSNOptions{}); err != nil || n == nil {
			b.Fatal(err)
		}
	}
}
