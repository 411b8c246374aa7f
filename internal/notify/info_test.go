package notify

import (
	"strings"
	"testing"
	"time"

	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// eicarHeader is the header of the rig's corpus message 07 (EICAR).
const eicarHeader = "From: Sender <sender@example.net>\r\n" +
	"To: User <user@rig.test>\r\n" +
	"Subject: Test attachment\r\n" +
	"Date: Sat, 01 Jun 2024 12:00:00 +0000\r\n" +
	"Message-ID: <rig-corpus-07@example.net>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"===============2196031127299357468==\"\r\n" +
	"\r\n"

// eicarInfo describes the message amavis reported in
// reference/samples/full/07-eicar.10024.out1.eml.
func eicarInfo(t testing.TB) *Info {
	h, err := mail.ParseHeader(strings.NewReader(eicarHeader + "body\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	virus := policy.Category{Major: policy.CCVirus}
	return &Info{
		LogID:    "23233-07",
		MailID:   "7k45DZ5zqMRC",
		Received: time.Date(2026, 11, 21, 7, 11, 23, 0, time.UTC),
		Hostname: "amavis-rig.test",
		Sender:   "sender@example.net",
		Header:   h,
		Client:   mail.ClientInfo{Addr: "127.0.0.1", Helo: "client.rig.test"},
		Conn:     mail.ConnInfo{Helo: "localhost", RemoteIP: "127.0.0.1"},
		Rcpts: []Rcpt{{
			Addr: "user@rig.test", Destiny: policy.DDiscard, Done: DoneHere,
			Reply:    mail.Reply{Code: 250, Enh: "2.7.0", Text: "Ok, discarded, id=23233-07 - INFECTED: Rig.Test.EICAR_NDB-1.UNOFFICIAL"},
			Category: virus, Blocking: &virus,
		}},
		Main:          virus,
		Blocking:      &virus,
		VirusNames:    []string{"Rig.Test.EICAR_NDB-1.UNOFFICIAL"},
		Scanners:      []string{"ClamAV-clamd"},
		ScannerOutput: "p002: Rig.Test.EICAR_NDB-1.UNOFFICIAL FOUND",
		Quarantined:   []string{"7/virus-7k45DZ5zqMRC"},
	}
}

func TestRFC2822Date(t *testing.T) {
	loc := time.FixedZone("CEST", 2*3600)
	if got := RFC2822Date(time.Date(2024, 6, 1, 9, 5, 3, 0, loc)); got != "Sat,  1 Jun 2024 09:05:03 +0200 (CEST)" {
		t.Errorf("got %q", got)
	}
	if got := RFC2822Date(time.Date(2026, 11, 21, 7, 11, 23, 0, time.UTC)); got != "Sat, 21 Nov 2026 07:11:23 +0000 (UTC)" {
		t.Errorf("got %q", got)
	}
}

func TestQuoteAddr(t *testing.T) {
	for in, want := range map[string]string{
		"a@b.c": "<a@b.c>", "": "<>", "postmaster": "<postmaster>",
		"a b@c": `<"a b"@c>`, `x"y@z`: `<"x\"y"@z>`, ".a@b": `<".a"@b>`,
	} {
		if got := quoteAddr(in); got != want {
			t.Errorf("quoteAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCCatMacro(t *testing.T) {
	in := eicarInfo(t)
	banned := policy.Category{Major: policy.CCBanned}
	in.Blocking = &banned // blocked by banned although main is virus (a lover)
	m := in.macros(nil)
	for tmpl, want := range map[string]string{
		"[:ccat|major]":                  "8",
		"[:ccat|major|main]":             "9",
		"[:ccat|name|main]":              "Virus",
		"[:ccat|name]":                   "Virus",
		"[:ccat|name|blocking]":          "Banned",
		"[:ccat|is_blocked_by_nonmain]":  "1",
		"[:ccat|minor]":                  "0",
		"[:ccat]":                        "(8,0)",
		"%#R %R":                         "1 <user@rig.test>",
		"%#D %#O":                        "0 1",
		"[:dsn_notify]":                  "FAILURE",
		"[:header_field|Subject|4]":      "Test",
		"[:useragent]":                   "",
		"[:mail_addr_decode|<U@EX.COM>]": "<U@ex.com>",
	} {
		if got, _ := Expand(tmpl, m); got != want {
			t.Errorf("%s = %q, want %q", tmpl, got, want)
		}
	}
}
