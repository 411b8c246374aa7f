package main

import "testing"

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"2k", 2048, true}, {"1m", 1 << 20, true}, {"1M", 1 << 20, true}, {"500", 500, true},
		{"x", 0, false}, {"k", 0, false},
	} {
		got, err := parseSize(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v", tc.in, got, err)
		}
	}
	if _, err := parseList("1,0", parseSize); err == nil {
		t.Error("parseList accepted 0")
	}
	if l, err := parseList("1, 4,16", parseSize); err != nil || len(l) != 3 || l[2] != 16 {
		t.Errorf("parseList = %v, %v", l, err)
	}
}

func TestFormat(t *testing.T) {
	for in, want := range map[int]string{2048: "2 KB", 1 << 20: "1 MB", 1000: "1000 B"} {
		if got := human(in); got != want {
			t.Errorf("human(%d) = %q, want %q", in, got, want)
		}
	}
	if ratio(1, 0) != "-" || ratio(1, 4) != "0.25" {
		t.Errorf("ratio: %q %q", ratio(1, 0), ratio(1, 4))
	}
	var tf targetsFlag
	if tf.Set("amavis=127.0.0.1:10024") != nil || len(tf) != 1 || tf[0].label != "amavis" || tf.Set("bad") == nil {
		t.Errorf("targetsFlag: %v", tf)
	}
}
