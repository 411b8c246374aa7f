package lookup

import (
	"context"
	"errors"
	"testing"
)

type want struct {
	found bool
	value any
	key   string
}

func check(t *testing.T, label string, r Result, err error, w want) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: error %v", label, err)
	}
	if r.Found != w.found || r.Key != w.key || (w.found && r.Value != w.value) {
		t.Errorf("%s = {found %v, value %#v, key %q}, want {found %v, value %#v, key %q}",
			label, r.Found, r.Value, r.Key, w.found, w.value, w.key)
	}
}

func TestHashLookup(t *testing.T) {
	ctx := context.Background()
	rules := Rules{Delimiter: "+"}
	h := NewHash(map[string]any{
		"user+foo@sub.example.com": "ext-exact",
		"boss@example.com":         "boss",
		"bob@":                     "bob-any-domain",
		".example.com":             "example-and-subs",
		"other.org":                "other-exact",
		".net":                     nil, // undef: stops this table, not found
		"":                         "null-sender",
		"postmaster@":              "$3 at $5",
	}, rules)
	tests := []struct {
		key string
		w   want
	}{
		{"User+Foo@Sub.Example.COM", want{true, "ext-exact", "user+foo@sub.example.com"}},
		{"user+bar@sub.example.com", want{true, "example-and-subs", ".example.com"}},
		{"Boss+x@Example.com", want{true, "boss", "boss@example.com"}},
		{"bob+x@anywhere.test", want{true, "bob-any-domain", "bob@"}},
		{"x@other.org", want{true, "other-exact", "other.org"}},
		{"x@sub.other.org", want{}}, // no leading dot: exact domain only
		{"x@a.b.net", want{false, nil, ".net"}},
		{"", want{true, "null-sender", ""}},
		{"postmaster@Mail.Example.ORG", want{true, "postmaster at mail.example.org", "postmaster@"}},
		{"x@example.org", want{}},
	}
	for _, tc := range tests {
		r, err := h.Lookup(ctx, tc.key)
		check(t, "Hash.Lookup("+tc.key+")", r, err, tc.w)
	}

	all, err := h.LookupAll(ctx, "User+Foo@Sub.Example.COM")
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range all {
		keys = append(keys, r.Key)
	}
	if len(keys) != 2 || keys[0] != "user+foo@sub.example.com" || keys[1] != ".example.com" {
		t.Errorf("LookupAll keys %q", keys)
	}
}

func TestHashCaseSensitiveLocalpart(t *testing.T) {
	ctx := context.Background()
	h := NewHash(map[string]any{"John@example.com": 1}, Rules{LocalpartCaseSensitive: true})
	r, _ := h.Lookup(ctx, "john@Example.com")
	if r.Found {
		t.Errorf("case-sensitive local part matched a different case")
	}
	r, _ = h.Lookup(ctx, "John@EXAMPLE.com")
	if !r.Found {
		t.Errorf("domain case should not matter")
	}
}

func TestACL(t *testing.T) {
	ctx := context.Background()
	rules := Rules{Delimiter: "+"}
	type c struct {
		addr  string
		found bool
		value bool
	}
	tests := []struct {
		name string
		acl  []string
		lpcs bool
		tc   []c
	}{
		// the examples of amavis's lookup_acl documentation
		{"me.ac.uk !.ac.uk .uk", []string{"me.ac.uk", "!.ac.uk", ".uk"}, false, []c{
			{"x@me.ac.uk", true, true},
			{"x@you.ac.uk", true, false},
			{"x@them.co.uk", true, true},
			{"x@some.com", false, false},
			{"x@ac.uk", true, false},
		}},
		{"with !. catch-all", []string{"me.ac.uk", "!.ac.uk", ".uk", "!."}, false, []c{
			{"x@some.com", true, false},
		}},
		{"with . catch-all", []string{"me.ac.uk", "!.ac.uk", ".uk", "."}, false, []c{
			{"x@some.com", true, true},
			{"", true, true},
		}},
		{"complex example", []string{
			"!The.Boss@dept1.xxx.com", ".dept1.xxx.com",
			".dept2.xxx.com", ".dept3.xxx.com", "lab.dept4.xxx.com",
			"sub.xxx.com", "!.sub.xxx.com",
			"me.d.aaa.com", "him.d.aaa.com", "!.d.aaa.com", ".aaa.com",
		}, false, []c{
			{"the.boss@dept1.xxx.com", true, false},
			{"The.Boss@Dept1.XXX.com", true, false},
			{"other@dept1.xxx.com", true, true},
			{"x@a.dept1.xxx.com", true, true},
			{"x@lab.dept4.xxx.com", true, true},
			{"x@other.dept4.xxx.com", false, false},
			{"x@sub.xxx.com", true, true},
			{"x@a.sub.xxx.com", true, false},
			{"x@me.d.aaa.com", true, true},
			{"x@you.d.aaa.com", true, false},
			{"x@d.aaa.com", true, false},
			{"x@aaa.com", true, true},
			{"x@q.aaa.com", true, true},
			{"x@xaaa.com", false, false},
		}},
		{"double negation is positive", []string{"!!example.com"}, false, []c{
			{"x@example.com", true, true},
		}},
		{"triple negation is negative", []string{"!!!example.com"}, false, []c{
			{"x@example.com", true, false},
		}},
		{"address element: no extension stripping", []string{"user@example.com"}, false, []c{
			{"USER@Example.COM", true, true},
			{"user+ext@example.com", false, false},
			{"user@sub.example.com", false, false},
		}},
		{"address element, case-sensitive local part", []string{"User@example.com"}, true, []c{
			{"User@EXAMPLE.com", true, true},
			{"user@example.com", false, false},
		}},
		{"domain key case-insensitive, trailing dot", []string{"Example.COM"}, false, []c{
			{"x@example.com.", true, true},
		}},
		{"IDN element", []string{".bücher.de"}, false, []c{
			{"x@Shop.BÜCHER.de", true, true},
			{"x@xn--bcher-kva.de", true, true},
		}},
		{"empty element matches no-domain keys", []string{""}, false, []c{
			{"", true, true},
			{"user", true, true},
			{"u@x.org", false, false},
		}},
		{"empty ACL", nil, false, []c{{"x@y.z", false, false}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := rules
			r.LocalpartCaseSensitive = tc.lpcs
			acl := NewACL(tc.acl, r)
			for _, cc := range tc.tc {
				res, err := acl.Lookup(ctx, cc.addr)
				if err != nil {
					t.Fatal(err)
				}
				if res.Found != cc.found || (cc.found && res.Value != cc.value) {
					t.Errorf("%q: found %v value %v (key %q), want found %v value %v",
						cc.addr, res.Found, res.Value, res.Key, cc.found, cc.value)
				}
			}
		})
	}
}

func TestRETable(t *testing.T) {
	ctx := context.Background()
	re, err := NewRE(
		RERule{Pattern: `^\.(exe|com|pif)$`, Flags: "i"},
		RERule{Pattern: `^(.*)@example\.com$`, Flags: "i", Value: "user $1 at example", HasValue: true},
		RERule{Pattern: `^skip@`, Value: nil, HasValue: true},
		RERule{Pattern: `@`, Value: "no captures: $1", HasValue: true},
		RERule{Pattern: `^Sanesecurity\.Foxhole\.`, Value: 0.1, HasValue: true},
		RERule{Pattern: `^(a)?b(c)?$`, Value: "[$1|$2]", HasValue: true},
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		key string
		w   want
	}{
		{".EXE", want{true, int64(1), `(?i)^\.(exe|com|pif)$`}},
		{".exe\n", want{true, int64(1), `(?i)^\.(exe|com|pif)$`}}, // Perl's $ before a final newline
		{".exe\nx", want{}},
		{"Jane@Example.com", want{true, "user Jane at example", `(?i)^(.*)@example\.com$`}},
		{"skip@x.org", want{false, nil, `^skip@`}},
		{"a@x.org", want{true, "no captures: 1", `@`}},
		{"Sanesecurity.Foxhole.Zip_exe", want{true, 0.1, `^Sanesecurity\.Foxhole\.`}},
		{"b", want{true, "[|]", `^(a)?b(c)?$`}},
		{"abc", want{true, "[a|c]", `^(a)?b(c)?$`}},
		{"nothing", want{}},
	}
	for _, tc := range tests {
		r, err := re.Lookup(ctx, tc.key)
		check(t, "RE.Lookup("+tc.key+")", r, err, tc.w)
	}
	all, _ := re.LookupAll(ctx, "x@example.com")
	if len(all) != 2 {
		t.Errorf("LookupAll: %d results, want 2 (%v)", len(all), all)
	}
	r, _ := re.LookupAny(ctx, []string{"plain", "file.pif"})
	if r.Found {
		t.Errorf("LookupAny matched %q on unanchored name", r.Key)
	}
	r, _ = re.LookupAny(ctx, []string{"plain", ".pif"})
	if !r.Found {
		t.Errorf("LookupAny: no match for .pif")
	}

	if _, err := NewRE(RERule{Pattern: `^(?!cid:).*\.exe$`}); err == nil {
		t.Error("look-ahead accepted")
	}
	// empty pattern matches everything, as amavis's qr{(?:)}
	empty, err := NewRE(RERule{Pattern: ""})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := empty.Lookup(ctx, "anything"); !r.Found {
		t.Error("empty pattern did not match")
	}
}

func TestMaps(t *testing.T) {
	ctx := context.Background()
	rules := Rules{Delimiter: "+"}
	hash := NewHash(map[string]any{"user@example.com": nil, "vip@example.com": "5"}, rules)
	acl := NewACL([]string{"!spammer@example.com", ".example.com"}, rules)
	m := NewMaps("spam_lovers", hash, acl, Const{Value: int64(0)})

	tests := []struct {
		key   string
		found bool
		value any
		index int
	}{
		{"vip@example.com", true, "5", 0},
		{"user@example.com", true, true, 1}, // undef in the hash: continue
		{"spammer@example.com", true, false, 1},
		{"x@other.org", true, int64(0), 2}, // constant catches all
	}
	for _, tc := range tests {
		r, err := m.Lookup(ctx, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		if r.Found != tc.found || r.Value != tc.value || r.Index != tc.index {
			t.Errorf("%s: found %v value %#v index %d, want %v %#v %d", tc.key, r.Found, r.Value, r.Index, tc.found, tc.value, tc.index)
		}
	}
	if b, _, _ := m.Bool(ctx, "x@other.org"); b {
		t.Error("constant 0 is true")
	}

	// undef constant matches nothing
	r, _ := NewMaps("x", Const{}).Lookup(ctx, "a@b")
	if r.Found {
		t.Error("undef constant matched")
	}

	// an error stops the search and is reported, never "not found"
	boom := errors.New("db down")
	failing := Func{Name: "db", F: func(context.Context, string) (Result, error) { return Result{}, boom }}
	_, err := NewMaps("local_domains", failing, Const{Value: true}).Lookup(ctx, "a@b")
	if !errors.Is(err, boom) {
		t.Errorf("error = %v, want db down", err)
	}

	// get_all: every table, every match
	all, err := NewMaps("score_sender", hash, acl, Const{Value: "c"}).LookupAll(ctx, "vip@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 3 || all[0].Value != "5" || all[1].Value != true || all[2].Value != "c" {
		t.Errorf("LookupAll = %+v", all)
	}

	// a canceled context stops the search
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Lookup(cctx, "vip@example.com"); err == nil {
		t.Error("canceled context: no error")
	}

	// nested maps as a table
	outer := NewMaps("outer", NewMaps("inner", hash))
	if r, _ := outer.Lookup(ctx, "vip@example.com"); r.Value != "5" {
		t.Errorf("nested: %+v", r)
	}
}

func TestTruthyNumber(t *testing.T) {
	truthy := map[any]bool{
		nil: false, "": false, "0": false, "0.0": true, "00": true, " ": true, "N": true,
		int64(0): false, int64(2): true, 0.0: false, 0.5: true, true: true, false: false,
	}
	for v, w := range truthy {
		if Truthy(v) != w {
			t.Errorf("Truthy(%#v) = %v", v, !w)
		}
	}
	nums := map[string]float64{
		"6.31": 6.31, " -2e1xyz": -20, "abc": 0, "": 0, "5.": 5, ".5": 0.5, "1e": 1, "+3": 3, "-": 0,
	}
	for s, w := range nums {
		if f, _ := Number(s); f != w {
			t.Errorf("Number(%q) = %v, want %v", s, f, w)
		}
	}
	if _, ok := Number(nil); ok {
		t.Error("Number(nil) ok")
	}
}

func TestTables(t *testing.T) {
	h := NewHash(nil, Rules{})
	if ts := Tables(h); len(ts) != 1 || ts[0] != Table(h) {
		t.Errorf("Tables(hash) = %v", ts)
	}
	if ts := Tables(NewMaps("m", h, h)); len(ts) != 2 {
		t.Errorf("Tables(maps) = %v", ts)
	}
	if ts := Tables("3"); len(ts) != 1 {
		t.Errorf("Tables(scalar) = %v", ts)
	} else if r, _ := ts[0].Lookup(context.Background(), "x"); r.Value != "3" {
		t.Errorf("scalar as table: %+v", r)
	}
	if Tables(nil) != nil {
		t.Error("Tables(nil)")
	}
}

func TestLogLine(t *testing.T) {
	m := NewMaps("spam_lovers", NewHash(map[string]any{"u@example.com": int64(1)}, Rules{}))
	r, _ := m.Lookup(context.Background(), "u@example.com")
	want := `lookup [spam_lovers] => true,  "u@example.com" matches, result="1", matching_key="u@example.com"`
	if got := m.LogLine("u@example.com", r); got != want {
		t.Errorf("LogLine\n got %s\nwant %s", got, want)
	}
	want = `lookup [spam_lovers] => undef, "x@y" does not match`
	if got := m.LogLine("x@y", Result{}); got != want {
		t.Errorf("LogLine\n got %s\nwant %s", got, want)
	}
}
