package policy

import (
	"testing"

	"github.com/mavis-filter/mavis/internal/mail"
)

func rp(s string) mail.Reply {
	r, ok := ParseReply(s)
	if !ok {
		panic("bad reply " + s)
	}
	return r
}

func TestOneResponseForAll(t *testing.T) {
	pass := rp("250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4XyZ")
	disc := rp("250 2.7.0 Ok, discarded, id=1-01 - INFECTED: Eicar-Signature")
	rej := rp("554 5.7.0 Reject, id=1-01 - INFECTED: Eicar-Signature")
	mtaRej := rp("550 5.1.1 id=1-01 - Rejected by next-hop MTA on relaying, from MTA(smtp:[127.0.0.1]:10025): 550 5.1.1 <x@y>: Recipient address rejected")
	temp := rp("451 4.5.0 id=1-01 - Temporary MTA failure on relaying, From MTA() during fwd-connect (x): id=1-01")
	tests := []struct {
		name    string
		rcpts   []RcptState
		lmtp    bool
		want    string
		wantNDN bool
	}{
		{"none", nil, false, "250 2.5.0 Ok, id=1-01", false},
		{"all pass", []RcptState{{DPass, pass, true, true}, {DPass, pass, true, true}}, false, pass.String(), false},
		{"temp wins", []RcptState{{DPass, pass, true, true}, {DTempfail, temp, true, true}}, false, temp.String(), false},
		{"all discard", []RcptState{{DDiscard, disc, true, false}, {DDiscard, disc, true, false}}, false, disc.String(), false},
		{"all reject", []RcptState{{DReject, rej, true, false}}, false, rej.String(), false},
		{"discard+reject", []RcptState{{DDiscard, disc, true, false}, {DReject, rej, true, false}}, false, rej.String(), false},
		{"mta reject preferred", []RcptState{{DReject, rej, true, false}, {DReject, mtaRej, true, true}}, false, mtaRej.String(), false},
		{"pass+reject smtp", []RcptState{{DPass, pass, true, true}, {DReject, rej, true, false}}, false, pass.String() + ", but 1 REJECT", true},
		{"pass+reject lmtp", []RcptState{{DPass, pass, true, true}, {DReject, rej, true, false}}, true, pass.String() + ", but 1 REJECT", false},
		{"pass+discard", []RcptState{{DPass, pass, true, true}, {DDiscard, disc, true, false}, {DDiscard, disc, true, false}}, false, pass.String() + ", but 2 DISCARD", false},
		{"bounce all", []RcptState{{DBounce, rp("554 5.7.0 Bounce, id=1-01 - BANNED: x"), true, false}}, false, "250 2.5.0 Ok, id=1-01, BOUNCE", true},
		{"pass, reject, bounce, discard", []RcptState{{DPass, pass, true, true}, {DReject, rej, true, false}, {DBounce, rej, true, false}, {DDiscard, disc, true, false}}, false, pass.String() + ", but 1 REJECT, and 1 BOUNCE, and 1 DISCARD", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ndn := OneResponseForAll("1-01", tt.rcpts, tt.lmtp, false)
			if got.String() != tt.want || ndn != tt.wantNDN {
				t.Errorf("got %q ndn=%v\nwant %q ndn=%v", got.String(), ndn, tt.want, tt.wantNDN)
			}
		})
	}
	got, _ := OneResponseForAll("1-01", []RcptState{{DBounce, rp("554 5.7.0 Bounce, id=1-01 - x"), true, false}}, false, true)
	if want := "250 2.5.0 Ok, id=1-01, DISCARD(bounce.suppressed)"; got.String() != want {
		t.Errorf("suppressed: got %q want %q", got, want)
	}
}

func TestMTAFailure(t *testing.T) {
	tests := []struct {
		name       string
		fwd        string
		configured Destiny
		soft       bool
		wantD      Destiny
		want       string
	}{
		{"connect fail (rig sample)", "451 4.5.0 From MTA() during fwd-connect (All attempts (1) failed connecting to smtp:[127.0.0.1]:10025): id=03694-01", DTempfail, false, DTempfail,
			"451 4.5.0 id=03694-01 - Temporary MTA failure on relaying, From MTA() during fwd-connect (All attempts (1) failed connecting to smtp:[127.0.0.1]:10025): id=03694-01"},
		{"next hop 5xx", "550 5.1.1 from MTA(smtp:[127.0.0.1]:10025): 550 5.1.1 <x@y>: Recipient address rejected", DReject, false, DReject,
			"550 5.1.1 id=03694-01 - Rejected by next-hop MTA on relaying, from MTA(smtp:[127.0.0.1]:10025): 550 5.1.1 <x@y>: Recipient address rejected"},
		{"pass impossible", "550 5.1.1 from MTA(x): 550 no", DPass, false, DReject, "550 5.1.1 id=03694-01 - Rejected by next-hop MTA on relaying, from MTA(x): 550 no"},
		{"discard", "550 5.1.1 from MTA(x): 550 no", DDiscard, false, DDiscard, "250 2.1.1 Discarded id=03694-01 - Rejected by next-hop MTA on relaying, from MTA(x): 550 no"},
		{"soft bounce", "550 5.1.1 from MTA(x): 550 no", DReject, true, DReject, "450 4.1.1 id=03694-01 - Rejected by next-hop MTA on relaying, from MTA(x): 550 no"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, r := MTAFailure("03694-01", rp(tt.fwd), tt.configured, tt.soft)
			if d != tt.wantD || r.String() != tt.want {
				t.Errorf("got %v %q\nwant %v %q", d, r.String(), tt.wantD, tt.want)
			}
		})
	}
}

func TestParseDestiny(t *testing.T) {
	for in, want := range map[string]Destiny{"D_PASS": DPass, "d_discard": DDiscard, "D_BOUNCE": DBounce, "D_REJECT": DReject, "-4": DTempfail} {
		if got, err := ParseDestiny(in); err != nil || got != want {
			t.Errorf("ParseDestiny(%q)=%v,%v", in, got, err)
		}
	}
	if _, err := ParseDestiny("D_MAYBE"); err == nil {
		t.Error("no error for D_MAYBE")
	}
}
