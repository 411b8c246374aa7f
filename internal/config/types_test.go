package config

import (
	"net/netip"
	"strings"
	"testing"
)

func TestIPACL(t *testing.T) {
	acl, err := ParseIPACL("!192.168.1.1", "192.168.0.0/16", "10/8", "172.16.0.0/255.240.0.0",
		"[2001:db8::]/32", "IPv6:fe80::1", "!!127.0.0.1", "[::ffff:198.51.100.0]/120")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		ip           string
		allow, found bool
	}{
		{"192.168.1.1", false, true}, // negated, first match wins
		{"192.168.200.3", true, true},
		{"10.255.0.1", true, true}, // "10/8": fewer fields with a length
		{"172.31.255.255", true, true},
		{"172.32.0.1", false, false},
		{"2001:db8:1::5", true, true},
		{"fe80::1", true, true},
		{"fe80::2", false, false},
		{"127.0.0.1", true, true},          // "!!" is not negated
		{"::ffff:192.168.3.4", true, true}, // IPv4-mapped matches IPv4 entries
		{"198.51.100.77", true, true},      // an IPv4-mapped network in brackets
		{"fe80::1%eth0", true, true},       // zones ignored
		{"8.8.8.8", false, false},
	}
	for _, tc := range tests {
		allow, found := acl.Lookup(netip.MustParseAddr(tc.ip))
		if allow != tc.allow || found != tc.found {
			t.Errorf("%s: allow %v found %v, want %v %v", tc.ip, allow, found, tc.allow, tc.found)
		}
	}
	all, _ := ParseIPACL("::/0")
	if !all.Allows(netip.MustParseAddr("192.0.2.1")) || !all.Allows(netip.MustParseAddr("2001:db8::1")) {
		t.Error("::/0 matches everything, IPv4 too (amavis maps IPv4 into IPv6)")
	}
	v4, _ := ParseIPACL("0/0")
	if !v4.Allows(netip.MustParseAddr("192.0.2.1")) || v4.Allows(netip.MustParseAddr("2001:db8::1")) {
		t.Error("0/0 matches all of IPv4 only")
	}
	for _, bad := range []string{"", "!", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.4/33", "1.2.3.4/x",
		"[::1]/129", "::1/-1", "1.2.3.4/255.0.255.0", "foo", "[1.2.3.4", "1.2.3.4/0255"} {
		if _, err := ParseIPACLEntry(bad); err == nil {
			t.Errorf("ParseIPACLEntry(%q) succeeded", bad)
		}
	}
}

func TestParseMethod(t *testing.T) {
	tests := []struct {
		in                      string
		proto, host, port, path string
	}{
		{"smtp:[127.0.0.1]:10025", "smtp", "127.0.0.1", "10025", ""},
		{"SMTP:127.0.0.1:10025", "smtp", "127.0.0.1", "10025", ""},
		{"smtp:[::1]:10025", "smtp", "::1", "10025", ""},
		{"smtp:[IPv6:2001:db8::1]:25", "smtp", "2001:db8::1", "25", ""},
		{"lmtp:[mail.example.com]:24", "lmtp", "mail.example.com", "24", ""},
		{"smtp:*:*", "smtp", "*", "*", ""},
		{"lmtp:/var/run/dovecot/lmtp", "lmtp", "", "", "/var/run/dovecot/lmtp"},
		{"local:spam-%m.gz", "local", "", "", "spam-%m.gz"},
		{"sql:", "sql", "", "", ""},
		{"bsmtp:/var/spool/amavis/%m.bsmtp", "bsmtp", "", "", "/var/spool/amavis/%m.bsmtp"},
		{"pipe:flags=q argv=/usr/sbin/sendmail -i -f ${sender} -- ${recipient}", "pipe", "", "", "flags=q argv=/usr/sbin/sendmail -i -f ${sender} -- ${recipient}"},
	}
	for _, tc := range tests {
		m, err := ParseMethod(tc.in)
		if err != nil {
			t.Errorf("ParseMethod(%q): %v", tc.in, err)
			continue
		}
		if m.Proto != tc.proto || m.Host != tc.host || m.Port != tc.port || m.Path != tc.path || m.String() != tc.in {
			t.Errorf("ParseMethod(%q) = %+v", tc.in, m)
		}
	}
	if a := (Method{Host: "::1", Port: "25"}).Addr(); a != "[::1]:25" {
		t.Errorf("Addr = %q", a)
	}
	for _, bad := range []string{"", "smtp", "smtp:", "smtp:[127.0.0.1]", "smtp:[127.0.0.1]:0", "smtp:127.0.0.1",
		"smtp:[::1:25", "smtp:::1:25", "smtp:[zz::1]:25", "smtp:bad host:25", "smtp:300.1.1.1:25", "ftp:x", "pipe:"} {
		if m, err := ParseMethod(bad); err == nil {
			t.Errorf("ParseMethod(%q) = %+v, want error", bad, m)
		}
	}
}

func TestCCKey(t *testing.T) {
	tests := []struct {
		in   string
		want CCKey
		str  string
	}{
		{"CC_VIRUS", CC(CCVirus), "CC_VIRUS"},
		{"&CC_BANNED", CC(CCBanned), "CC_BANNED"},
		{"CC_UNCHECKED,3", CCMinor(CCUnchecked, 3), "CC_UNCHECKED,3"},
		{"CC_SPAMMY(), 1", CCMinor(CCSpammy, 1), "CC_SPAMMY,1"},
		{"6", CC(CCSpam), "CC_SPAM"},
		{"4,8", CCMinor(CCBadH, 8), "CC_BADH,8"},
		{"0", CC(CCCatchAll), "CC_CATCHALL"},
	}
	for _, tc := range tests {
		k, err := ParseCCKey(tc.in)
		if err != nil || k != tc.want || k.String() != tc.str {
			t.Errorf("ParseCCKey(%q) = %v %v", tc.in, k, err)
		}
	}
	for _, bad := range []string{"", "CC_FOO", "10", "-1", "CC_SPAM,x", "CC_SPAM,-1", "CC_SPAM,256"} {
		if _, err := ParseCCKey(bad); err == nil {
			t.Errorf("ParseCCKey(%q) succeeded", bad)
		}
	}
	b := ByCcat{CC(CCSpam): Const(IntValue(1)), CCMinor(CCSpam, 2): Const(IntValue(2))}
	if m, _ := b.Get(CCSpam, 2); !m[0].Value.Equal(IntValue(2)) {
		t.Error("Get minor")
	}
	if m, _ := b.Get(CCSpam, 1); !m[0].Value.Equal(IntValue(1)) {
		t.Error("Get falls back to major")
	}
	if _, ok := b.Get(CCVirus, -1); ok {
		t.Error("Get absent")
	}
}

func TestDestiny(t *testing.T) {
	for _, d := range []Destiny{DPass, DDiscard, DBounce, DReject, DTempfail} {
		got, err := ParseDestiny(d.String())
		if err != nil || got != d {
			t.Errorf("round trip %v", d)
		}
	}
	if _, err := ParseDestiny("d_pass"); err == nil {
		t.Error("destinies are case-sensitive barewords")
	}
	if d, ok := IntValue(-3).Destiny(); !ok || d != DReject {
		t.Error("numeric destiny value")
	}
	if _, ok := BoolValue(true).Destiny(); ok {
		t.Error("bool is no destiny")
	}
}

func TestValue(t *testing.T) {
	truth := []struct {
		v    Value
		want bool
	}{
		{Undef(), false}, {BoolValue(false), false}, {IntValue(0), false}, {FloatValue(0), false},
		{StringValue(""), false}, {StringValue("0"), false},
		{StringValue("0.0"), true}, {StringValue("00"), true}, {StringValue(" "), true},
		{IntValue(-1), true}, {BoolValue(true), true}, {ListValue(nil), true}, {TableValue(nil), true},
	}
	for _, tc := range truth {
		if tc.v.Truth() != tc.want {
			t.Errorf("Truth(%v) = %v", tc.v, !tc.want)
		}
	}
	if n, ok := StringValue(" 5.5 ").Number(); !ok || n != 5.5 {
		t.Error("Number of a numeric string")
	}
	if _, ok := StringValue("high").Number(); ok {
		t.Error("Number of text")
	}
	if s := FloatValue(2).Str(); s != "2" {
		t.Errorf("Str(2.0) = %q", s)
	}
	if s := FloatValue(2).String(); s != "2.0" {
		t.Errorf("String(2.0) = %q (TOML must keep it a float)", s)
	}
	if s := TableValue(map[string]Value{"b": IntValue(1), "a c": StringValue("x\n")}).String(); s != `{ "a c" = "x\n", b = 1 }` {
		t.Errorf("table String = %s", s)
	}
	if !ListValue([]Value{IntValue(1), Undef()}).Equal(ListValue([]Value{IntValue(1), Undef()})) ||
		IntValue(1).Equal(FloatValue(1)) {
		t.Error("Equal")
	}
	if got := tomlString("a\x00\x7f\"\\é"); got != `"a\u0000\u007F\"\\é"` {
		t.Errorf("tomlString = %s", got)
	}
}

func TestRegexpComments(t *testing.T) {
	re, err := CompileRegexp(`(?#one)a[(?#]b(?#two)\(?#`)
	if err != nil {
		t.Fatal(err)
	}
	if re.Comment != "one two" || !re.MatchString("a(b(#") {
		t.Errorf("comment %q, re %v", re.Comment, re.Re())
	}
	if _, err := CompileRegexp(`(?#unterminated`); err == nil {
		t.Error("unterminated comment accepted")
	}
}

func TestExtraChecks(t *testing.T) {
	tests := []struct {
		src, want string
	}{
		{`inet_socket_bind = ["127.0.0.1", "[::1]", "*", "localhost"]`, ""},
		{`inet_socket_bind = "1.2.3.4.5"`, `key "inet_socket_bind": "1.2.3.4.5" is not an address to bind to`},
		{`local_client_bind_address = "10.0.0.1"`, ""},
		{`local_client_bind_address = "host"`, `key "local_client_bind_address": "host" is not an IP address`},
		{`listen_sockets = ["unix:/run/a.sock", "inet:127.0.0.1:10024", "inet6:[::1]:10024", "/run/b.sock", "10025", "localhost:10026"]`, ""},
		{`listen_sockets = ["unix:relative"]`, `key "listen_sockets[0]": bad socket "unix:relative"`},
		{`listen_sockets = ["99999"]`, `key "listen_sockets[0]": bad socket "99999"`},
	}
	for _, tc := range tests {
		_, err := testEnv.Parse("t.toml", []byte(tc.src))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.src, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

func TestListeners(t *testing.T) {
	tests := []struct {
		src  string
		want string
	}{
		{``, "tcp 127.0.0.1:10024, tcp [::1]:10024, unix /srv/mavis/amavisd.sock"},
		{"inet_socket_port = [10024, 10026]\ninet_socket_bind = [\"*\"]\nunix_socketname = \"undef\"", "tcp :10024, tcp :10026"},
		{`listen_sockets = ["unix:/run/a.sock", "inet:127.0.0.1:10030", "inet6:[::1]:10031", "10032", "/run/b"]`,
			"unix /run/a.sock, tcp 127.0.0.1:10030, tcp [::1]:10031, tcp 127.0.0.1:10032, tcp [::1]:10032, unix /run/b"},
	}
	for _, tc := range tests {
		var got []string
		for _, l := range mustParse(t, tc.src).Settings().Listeners() {
			got = append(got, l.Network+" "+l.Address)
		}
		if g := strings.Join(got, ", "); g != tc.want {
			t.Errorf("%q: Listeners = %s, want %s", tc.src, g, tc.want)
		}
	}
}

// TestConcurrentSettings runs snapshot lookups in parallel (for -race).
func TestConcurrentSettings(t *testing.T) {
	c := mustParse(t, "[policy_bank.A]\nlog_level = 1\n[policy_bank.B]\nlog_level = 2")
	done := make(chan bool)
	for i := range 8 {
		go func() {
			defer func() { done <- true }()
			for j := range 200 {
				banks := [][]string{{"A"}, {"B"}, {"A", "B"}, {"B", "A"}, {"X", "A"}}[(i+j)%5]
				s := c.Settings(banks...)
				if want := map[string]int{"A": 1, "B": 2}[banks[len(banks)-1]]; s.LogLevel.Value() != want {
					t.Errorf("banks %v: log_level %v", banks, s.LogLevel)
					return
				}
			}
		}()
	}
	for range 8 {
		<-done
	}
}
