package logging

import (
	"fmt"
	"strings"
)

// Entry is the data of amavis's main per-message log entry ($log_short_templ).
// One message can give two entries: a "Passed" one for delivered recipients
// and a "Blocked" one for the rest.
type Entry struct {
	Passed     bool     // "Passed" or "Blocked"
	CCat       string   // CLEAN, SPAM, INFECTED (Eicar-Signature), BAD-HEADER-3 …
	Actions    []string // RelayedInbound, DiscardedInbound, Quarantined …
	PolicyBank string   // %p: bank path, e.g. "MYNETS/ORIGINATING"
	Local      bool     // %l: client is local (originating)
	ClientIP   string   // %a: original client from XFORWARD ADDR
	ClientPort string   // its PORT
	Originator string   // %e: best guess of the originating IP
	Sender     string   // envelope sender, without angle brackets
	Rcpts      []string // recipients of this entry
	Quarantine string   // %q
	QueueID    string   // %Q: the MTA's queue id (XFORWARD IDENT)
	MessageID  string   // %m
	ResentID   string   // %r
	MailID     string   // %i
	Hits       string   // score, or "-"
	Size       int64    // %z
	PartTag    string   // partition tag, shown when not "" and not "0"
	QueuedAs   []string // queue ids reported by the next hop
	ElapsedMS  int64    // %y
}

// MainLine renders an entry exactly like amavis's short template, e.g.
//
//	Passed CLEAN {RelayedInbound}, [198.51.100.7]:41234 [198.51.100.7] <a@b.example> -> <c@d.example>, Queue-ID: 4XyZ, Message-ID: <x@y>, mail_id: Ab3_dE-fGh12, Hits: -1.9, size: 2345, queued_as: 4Z1Q, 630 ms
func MainLine(e Entry) string {
	var b strings.Builder
	if e.Passed {
		b.WriteString("Passed ")
	} else {
		b.WriteString("Blocked ")
	}
	b.WriteString(e.CCat)
	b.WriteString(" {")
	b.WriteString(strings.Join(e.Actions, ","))
	b.WriteString("},")
	if e.PolicyBank != "" {
		b.WriteString(" " + e.PolicyBank)
	}
	if e.ClientIP != "" {
		if e.Local {
			b.WriteString(" LOCAL")
		}
		b.WriteString(" [" + e.ClientIP + "]")
		if e.ClientPort != "" {
			b.WriteString(":" + e.ClientPort)
		}
	}
	if e.Originator != "" {
		b.WriteString(" [" + e.Originator + "]")
	}
	b.WriteString(" <" + e.Sender + "> -> ")
	for i, r := range e.Rcpts {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString("<" + r + ">")
	}
	if e.Quarantine != "" {
		b.WriteString(", quarantine: " + e.Quarantine)
	}
	if e.QueueID != "" {
		b.WriteString(", Queue-ID: " + e.QueueID)
	}
	if e.MessageID != "" {
		b.WriteString(", Message-ID: " + e.MessageID)
	}
	if e.ResentID != "" {
		b.WriteString(", Resent-Message-ID: " + e.ResentID)
	}
	if e.MailID != "" {
		b.WriteString(", mail_id: " + e.MailID)
	}
	hits := e.Hits
	if hits == "" {
		hits = "-"
	}
	b.WriteString(", Hits: " + hits)
	fmt.Fprintf(&b, ", size: %d", e.Size)
	if e.PartTag != "" && e.PartTag != "0" {
		b.WriteString(", pt: " + e.PartTag)
	}
	if e.Passed && len(e.QueuedAs) > 0 {
		b.WriteString(", queued_as: " + strings.Join(e.QueuedAs, "/"))
	}
	fmt.Fprintf(&b, ", %d ms", e.ElapsedMS)
	return b.String()
}
