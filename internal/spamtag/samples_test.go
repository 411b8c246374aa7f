package spamtag

import (
	"bytes"
	"github.com/mavis-filter/mavis/internal/testcorpus"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/spam"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/policy"
)

// samplesDir holds what amavisd-new 2.13 wrote in the reference rig
// (../shared/reference/samples): "full" is SpamAssassin in-process (tests
// with scores), "spamd" is amavis's SpamdClient (test names only).
var samplesDir = testcorpus.AmavisSamplesDir()

// The rig's levels (reference/conf/amavisd-common.conf, Debian's values).
var rigLevels = Levels{Tag: At(2.0), Tag2: At(6.31), Kill: At(6.31), DSNCutoff: At(10)}

var statusRE = regexp.MustCompile(`^(Yes|No), score=(\S+) tagged_above=\S+ required=\S+ tests=\[(.*)\] autolearn=(\S+)$`)

// sampleInput rebuilds the scanner's result from the X-Spam-Status amavis
// wrote: the tests (with their scores in "full" mode, whose sum is the
// score; names only with spamd, the score then being spamd's) and the
// autolearn tag.
func sampleInput(t *testing.T, status string) Input {
	t.Helper()
	m := statusRE.FindStringSubmatch(status)
	if m == nil {
		t.Fatalf("unexpected X-Spam-Status %q", status)
	}
	var res spam.Result
	res.Autolearn = m[4]
	withScores := strings.Contains(m[3], "=")
	for _, s := range strings.Split(m[3], ", ") {
		name, val, ok := strings.Cut(s, "=")
		if !ok {
			res.Tests = append(res.Tests, spam.Test{Name: name, NoScore: true})
			continue
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil {
			t.Fatal(err)
		}
		res.Tests = append(res.Tests, spam.Test{Name: name, Score: v})
		res.Score += v
	}
	if !withScores {
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		res.Score = v
	}
	return Assemble(Assembly{Scanner: &res})
}

func readHeader(t *testing.T, path string) *mail.Header {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := mail.ParseHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestSamplesByteForByte(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(samplesDir, "*", "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no samples under %s", samplesDir)
	}
	gtube := gtubeSubject(t)
	checked, tagged := 0, 0
	for _, f := range files {
		h := readHeader(t, f)
		var got []mail.Field
		start := -1
		for i, fl := range h.Fields {
			if strings.HasPrefix(strings.ToLower(fl.Name), "x-spam-") {
				if start < 0 {
					start = i
				}
				got = append(got, fl)
			}
		}
		if start < 0 {
			continue
		}
		name := filepath.Base(filepath.Dir(f)) + "/" + filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			in := sampleInput(t, got[len(got)-1].Value())
			r := Evaluate(in, rigLevels)
			want := HeaderFields(in, rigLevels, r, DefaultLevelChar)
			if len(want) != len(got) {
				t.Fatalf("%d fields, amavis wrote %d", len(want), len(got))
			}
			for i := range want {
				if !bytes.Equal(want[i].Raw, got[i].Raw) || want[i].Name != got[i].Name {
					t.Errorf("field %d:\n ours   %q\n amavis %q", i, want[i].Raw, got[i].Raw)
				}
				// amavis put them next to each other, in this order
				if h.Fields[start+i].Name != want[i].Name {
					t.Errorf("amavis's field %d is %s, ours %s", i, h.Fields[start+i].Name, want[i].Name)
				}
			}
			// the subject: tagged at tag2 and above (the rig's
			// $sa_spam_subject_tag), untouched below
			tag := ChooseTag(append(policy.Categories(nil), r.Categories...), func(c policy.Category) string {
				if c == (policy.Category{Major: policy.CCSpammy}) {
					return "***SPAM*** "
				}
				return ""
			})
			subj := h.Fields[fieldIndex(h, "Subject")]
			if tag == "" {
				if r.DoTag2 {
					t.Error("spammy without a subject tag")
				}
				return
			}
			if !strings.Contains(name, "gtube") {
				t.Fatalf("unexpected spammy sample")
			}
			tagged++
			edited := EditSubject(gtube.Raw, tag, false)
			if !bytes.Equal(edited.Raw, subj.Raw) {
				t.Errorf("Subject:\n ours   %q\n amavis %q", edited.Raw, subj.Raw)
			}
		})
		checked++
	}
	if checked < 10 || tagged == 0 {
		t.Errorf("only %d samples with spam fields (%d tagged) checked", checked, tagged)
	}
}

func fieldIndex(h *mail.Header, name string) int {
	for i, f := range h.Fields {
		if strings.EqualFold(f.Name, name) {
			return i
		}
	}
	return -1
}

// gtubeSubject is the Subject field of the GTUBE message the rig sent
// (Debian's spamassassin sample-spam.txt), with CRLF line ends.
func gtubeSubject(t *testing.T) mail.Field {
	t.Helper()
	b, err := os.ReadFile("/usr/share/doc/spamassassin/examples/sample-spam.txt")
	if err != nil {
		t.Fatalf("GTUBE sample (Debian package spamassassin): %v", err)
	}
	b = bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	h, err := mail.ParseHeader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	i := fieldIndex(h, "Subject")
	if i < 0 {
		t.Fatal("sample-spam.txt has no Subject")
	}
	return h.Fields[i]
}
