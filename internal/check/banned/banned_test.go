package banned

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/testcorpus"
)

func decodeMsg(t *testing.T, msg []byte) *decode.Result {
	t.Helper()
	res, err := decode.Decode(context.Background(), bytes.NewReader(msg), int64(len(msg)), t.TempDir(), decode.DefaultLimits(), decode.FindTools(nil))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func rules(t *testing.T, pairs ...any) config.Regexps {
	t.Helper()
	var out config.Regexps
	for i := 0; i < len(pairs); i += 2 {
		re, err := config.CompileRegexp(pairs[i].(string))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, config.RegexpRule{Re: re, Value: pairs[i+1].(config.Value)})
	}
	return out
}

func TestCheckDebianDefaults(t *testing.T) {
	debian := config.Default().Settings().BannedFilenameRe
	if len(debian) == 0 {
		t.Fatal("config has no default banned_filename_re")
	}
	exe := testcorpus.TinyPE(false)
	tests := []struct {
		name   string
		atts   []testcorpus.Attachment
		banned bool
		reason string // substring of the first hit's reason
	}{
		{"plain text file", []testcorpus.Attachment{testcorpus.File("notes.txt", []byte("hello\n"))}, false, ""},
		{"exe by name", []testcorpus.Attachment{testcorpus.File("setup.exe", exe)}, true, "setup.exe"},
		{"misnamed PE", []testcorpus.Attachment{testcorpus.File("invoice.pdf", exe)}, true, ".exe-ms"},
		{"double extension", []testcorpus.Attachment{testcorpus.File("photo.jpg.scr", []byte("not really"))}, true, "photo.jpg.scr"},
		{"exe inside zip", []testcorpus.Attachment{testcorpus.File("docs.zip",
			testcorpus.Zip([]string{"a/readme.txt", "a/run.exe"}, map[string][]byte{"a/readme.txt": []byte("x"), "a/run.exe": exe}))}, true, "run.exe"},
		{"msdownload mime type", []testcorpus.Attachment{{ContentType: "application/x-msdownload", Data: []byte("x")}}, true, "application/x-msdownload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := decodeMsg(t, testcorpus.Message(tt.name, tt.atts))
			hits := Check(res, []config.Regexps{debian}, nil)
			if (len(hits) > 0) != tt.banned {
				t.Fatalf("banned=%v want %v; hits %+v; tree:\n%s", len(hits) > 0, tt.banned, hits, res.Tree())
			}
			if tt.banned && !strings.Contains(hits[0].Reason, tt.reason) {
				t.Errorf("reason %q lacks %q", hits[0].Reason, tt.reason)
			}
		})
	}
}

func TestAllowBeforeDeny(t *testing.T) {
	exe := testcorpus.TinyPE(false)
	msg := testcorpus.Message("zipped exe", []testcorpus.Attachment{testcorpus.File("tools.zip",
		testcorpus.Zip([]string{"run.exe"}, map[string][]byte{"run.exe": exe}))})
	res := decodeMsg(t, msg)
	allowZip := rules(t, `^\.(zip|rar)$`, config.IntValue(0), `(?#exe file)\.exe$`, config.IntValue(1))
	if hits := Check(res, []config.Regexps{allowZip}, nil); len(hits) != 0 {
		t.Errorf("an allow rule for zips came first, still banned: %+v", hits)
	}
	denyFirst := rules(t, `(?#exe file)\.exe$`, config.StringValue("DISCARD, exe"), `^\.(zip|rar)$`, config.IntValue(0))
	hits := Check(res, []config.Regexps{denyFirst}, nil)
	if len(hits) != 1 {
		t.Fatalf("hits %+v", hits)
	}
	if !strings.HasPrefix(hits[0].Reason, "exe file:") || !hits[0].DiscardDSN {
		t.Errorf("hit %+v: want rule comment in reason and DISCARD suppression", hits[0])
	}
	if !strings.Contains(hits[0].Path, " | ") {
		t.Errorf("path %q is not the whole chain", hits[0].Path)
	}
}

func TestNamepath(t *testing.T) {
	exe := testcorpus.TinyPE(false)
	msg := testcorpus.Message("namepath", []testcorpus.Attachment{testcorpus.File("x.zip",
		testcorpus.Zip([]string{"x.exe"}, map[string][]byte{"x.exe": exe}))})
	res := decodeMsg(t, msg)
	np := rules(t, `\tT=zip\b[^\n]*\n[^\n]*\tT=exe\b`, config.IntValue(1))
	hits := Check(res, nil, np)
	if len(hits) != 1 {
		t.Fatalf("namepath rule (exe inside zip) did not ban: %+v\n%s", hits, res.Tree())
	}
}
