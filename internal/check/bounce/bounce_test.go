package bounce

import (
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func parse(t *testing.T, sender, msg string) Report {
	t.Helper()
	msg = strings.ReplaceAll(msg, "\n", "\r\n")
	h, err := mail.ParseHeader(strings.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	return Parse(sender, h, strings.NewReader(msg))
}

const rfc3464 = `From: MAILER-DAEMON@mx.example.net
To: user@example.org
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B"

--B
Content-Type: text/plain

The mail could not be delivered.
--B
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Final-Recipient: rfc822; nobody@example.net
Action: failed
Status: 5.1.1
--B
Content-Type: text/rfc822-headers

From: user@example.org
To: nobody@example.net
Subject: hi
Message-ID: <orig123@example.org>

--B--
`

const qmail = `From: MAILER-DAEMON@qmail.example.net
To: user@example.org
Subject: failure notice

Hi. This is the qmail-send program at qmail.example.net.
I'm afraid I wasn't able to deliver your message.

--- Below this line is a copy of the message.

Return-Path: <user@example.org>
From: user@example.org
Message-ID: <q77@elsewhere.example>
Subject: hello

body
`

const forward = `From: friend@example.net
To: user@example.org
Subject: Fwd: look at this
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="B"

--B
Content-Type: text/plain

see attached
--B
Content-Type: message/rfc822

From: other@example.com
Message-ID: <x@example.com>

hi
--B--
`

func TestParse(t *testing.T) {
	tests := []struct {
		name, sender, msg string
		bounce, unverif   bool
		msgID, format     string
	}{
		{"rfc3464", "", rfc3464, true, false, "<orig123@example.org>", "rfc3464"},
		{"qmail", "", qmail, true, false, "<q77@elsewhere.example>", "--- Below this line is a copy of the message."},
		{"forward is not a bounce", "friend@example.net", forward, false, false, "", ""},
		{"null sender, nothing attached", "", "From: MAILER-DAEMON@x\nSubject: oops\n\nsomething failed\n", false, true, "", ""},
		{"plain mail", "a@example.net", "From: a@example.net\nSubject: hi\n\nhello\n", false, false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := parse(t, tt.sender, tt.msg)
			if r.IsBounce != tt.bounce || r.Unverifiable != tt.unverif || r.MessageID != tt.msgID || r.Format != tt.format {
				t.Errorf("got %+v", r)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("", rfc3464)
	f.Add("", qmail)
	f.Add("a@b", forward)
	f.Fuzz(func(t *testing.T, sender, msg string) {
		h, err := mail.ParseHeader(strings.NewReader(msg))
		if err != nil {
			t.Skip()
		}
		r := Parse(sender, h, strings.NewReader(msg))
		if r.IsBounce && r.Unverifiable {
			t.Fatal("both bounce and unverifiable")
		}
	})
}
