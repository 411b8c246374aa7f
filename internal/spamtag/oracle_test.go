package spamtag

import (
	"bufio"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mavis-filter/mavis/internal/check/spam"
)

// The oracle tests compare our folding, encoding and subject editing with
// amavisd-new's own Perl code (Amavis::Out::EditHeader::hdr, wrap_string,
// safe_decode_mime, q_encode) run on the same inputs. They need perl and
// the amavisd-new 2.13 sources: set MAVIS_AMAVIS_PERL5LIB to the directory
// holding Amavis.pm (e.g. /tmp/amavis-src/usr/share/perl5). Nothing of
// amavis is copied here; the Perl script only calls amavis's functions.

const oracleScript = `
use strict; use warnings; no warnings 'once';
use Amavis::rfc2821_2822_Tools ();
use Amavis::Conf qw(:platform c cr ca);
use Amavis::Out::EditHeader qw(hdr);
use Amavis::Util qw(safe_decode_mime safe_encode_utf8 safe_decode_utf8);
use JSON::PP;
$Amavis::Conf::hdr_encoding = 'UTF-8'; $Amavis::Conf::hdr_encoding_qb = 'Q';
my $jin = JSON::PP->new->utf8; my $jout = JSON::PP->new->ascii->canonical;
binmode STDIN; binmode STDOUT; $| = 1;
while (my $line = <STDIN>) {
  my $c = $jin->decode($line);
  my $out;
  if ($c->{op} eq 'hdr') {
    $out = hdr($c->{name}, $c->{body}, $c->{mode}, undef, $c->{smtputf8});
  } else {
    my $tag = $c->{tag};
    my $fb = $c->{body}; utf8::downgrade($fb); chomp $fb;
    $fb =~ /^([ \t]?)(.*)\z/s; my $subj = $2;
    $subj = safe_decode_mime($subj);
    $subj =~ s/\Q$tag\E//sg if length($tag) >= 3;
    my $nb = safe_decode_utf8(' ' . safe_encode_utf8($tag) . safe_encode_utf8($subj));
    $out = hdr($c->{name}, $nb, 0, undef, $c->{smtputf8});
  }
  utf8::downgrade($out);
  print $jout->encode({out => $out}), "\n";
}
`

// A stand-in for Unix::Syslog, which amavis's modules load but these
// functions never use.
const syslogStub = `package Unix::Syslog;
use Exporter; our @ISA = ('Exporter'); our (@EXPORT_OK, %EXPORT_TAGS);
my @c = qw(LOG_EMERG LOG_ALERT LOG_CRIT LOG_ERR LOG_WARNING LOG_NOTICE LOG_INFO
  LOG_DEBUG LOG_KERN LOG_USER LOG_MAIL LOG_DAEMON LOG_AUTH LOG_SYSLOG LOG_LPR
  LOG_NEWS LOG_UUCP LOG_CRON LOG_AUTHPRIV LOG_FTP LOG_LOCAL0 LOG_LOCAL1
  LOG_LOCAL2 LOG_LOCAL3 LOG_LOCAL4 LOG_LOCAL5 LOG_LOCAL6 LOG_LOCAL7 LOG_PID
  LOG_CONS LOG_ODELAY LOG_NDELAY LOG_NOWAIT LOG_PERROR);
my $i = 0; for my $n (@c) { no strict 'refs'; my $v = $i++; *{$n} = sub () { $v } }
@EXPORT_OK = (@c, qw(openlog closelog syslog setlogmask));
%EXPORT_TAGS = (macros => [@c], subs => [qw(openlog closelog syslog setlogmask)]);
sub openlog {} sub closelog {} sub syslog {} sub setlogmask {}
1;
`

type oracle struct {
	in  *bufio.Writer
	out *bufio.Scanner
}

func startOracle(t *testing.T) *oracle {
	t.Helper()
	lib := os.Getenv("MAVIS_AMAVIS_PERL5LIB")
	if lib == "" {
		t.Skip("MAVIS_AMAVIS_PERL5LIB not set: not comparing with amavisd-new's Perl code")
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "Unix"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Unix", "Syslog.pm"), []byte(syslogStub), 0o644); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, "oracle.pl")
	if err := os.WriteFile(script, []byte(oracleScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("perl", "-I"+dir, "-I"+lib, script)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting perl: %v", err)
	}
	t.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	return &oracle{in: bufio.NewWriter(stdin), out: sc}
}

// octetsJSON passes bytes to Perl as a string of code points 0..255.
func octetsJSON(b string) string {
	r := make([]rune, len(b))
	for i := 0; i < len(b); i++ {
		r[i] = rune(b[i])
	}
	return string(r)
}

func (o *oracle) ask(t *testing.T, req map[string]any) string {
	t.Helper()
	line, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	o.in.Write(line)
	o.in.WriteByte('\n')
	if err := o.in.Flush(); err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if !o.out.Scan() {
		t.Fatalf("oracle died on %s: %v", line, o.out.Err())
	}
	var resp struct{ Out string }
	if err := json.Unmarshal(o.out.Bytes(), &resp); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 0, len(resp.Out))
	for _, r := range resp.Out {
		b = append(b, byte(r))
	}
	return string(b)
}

// amavisField is what amavis would write, with CRLF line ends and bare CRs
// dropped (as amavis's forwarding does).
func amavisField(s string) string {
	s = strings.ReplaceAll(s, "\r", "")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func randomTests(rng *rand.Rand) []spam.Test {
	n := rng.IntN(40)
	tests := make([]spam.Test, n)
	for i := range tests {
		l := 1 + rng.IntN(30)
		if rng.IntN(50) == 0 {
			l = 100 + rng.IntN(1200)
		}
		var b strings.Builder
		for range l {
			b.WriteByte("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789"[rng.IntN(37)])
		}
		tests[i] = spam.Test{Name: b.String(), Score: float64(rng.IntN(20000)-5000) / 1000,
			NoScore: rng.IntN(3) == 0}
	}
	return tests
}

func TestOracleStatusFolding(t *testing.T) {
	o := startOracle(t)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 1500 {
		in := Input{Score: float64(rng.IntN(30000)-10000) / 997, Tests: randomTests(rng),
			Whitelisted: rng.IntN(5) == 0, Blacklisted: rng.IntN(5) == 0,
			Unscored: rng.IntN(20) == 0}
		if rng.IntN(2) == 0 {
			in.Autolearn = []string{"ham", "spam", "disabled", "no"}[rng.IntN(4)]
		}
		lv := Levels{Tag: At(float64(rng.IntN(100)) / 10), Tag2: At(6.31), Kill: At(6.31)}
		if rng.IntN(4) == 0 {
			lv.Tag = Undef()
		}
		if rng.IntN(4) == 0 {
			lv.Tag2 = Undef()
		}
		if rng.IntN(5) == 0 {
			lv.Tag = At(-9999)
		}
		r := Evaluate(in, lv)
		body := statusBody(in, lv, r)
		got := string(buildField(FieldStatus, body, structured, false).Raw)
		want := amavisField(o.ask(t, map[string]any{"op": "hdr", "name": FieldStatus, "body": body, "mode": 1}))
		if got != want {
			t.Fatalf("case %d: X-Spam-Status\n got %q\nwant %q", i, got, want)
		}
	}
}

func TestOracleSubject(t *testing.T) {
	o := startOracle(t)
	subjects := []string{
		" Test spam mail (GTUBE)",
		" Quarterly report summary",
		"",
		" ",
		"Test",
		" ***SPAM*** already tagged ***SPAM*** twice",
		" a folded\n subject line",
		" a folded\n\tsubject line with a tab",
		" " + strings.Repeat("word ", 30),
		" " + strings.Repeat("x", 120) + " tail",
		" =?UTF-8?Q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=",
		" =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?= und mehr",
		" =?ISO-8859-1?Q?Gr=FC=DFe?= =?ISO-8859-1?Q?_aus_K=F6ln?=",
		" =?utf-8?q?caf=C3=A9?=\n =?utf-8?q?_cr=C3=A8me?=",
		" Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln \xe2\x80\x93 \xc3\xa9t\xc3\xa9 2024",
		" Gr\xfc\xdfe aus K\xf6ln",
		" \xf0\xd2\xc9\xd7\xc5\xd4 \xcd\xc9\xd2",
		" " + strings.Repeat("\xc3\xa9t\xc3\xa9 ", 40),
		" " + strings.Repeat("\xc3\xa9", 100),
		" ascii head then \xc3\xa9 non-ascii then ascii tail words",
		" =?UTF-8?Q?***SPAM***_encoded_tag?=",
		" line with = and ? and _ \xc3\xa9",
		" \xe9t\xe9 =?UTF-8?Q?caf=C3=A9?= fin",
		" caf\xc3\xa9 =?UTF-8?Q?cr=C3=A8me?=",
		" =?UNKNOWN-CS?Q?abc?= def",
		" =?UTF-8?Q?a?= =?UTF-8?Q?b?=  c",
		" =?utf-8?b?invalid!!?= x",
		" =?UTF-8?Q?=E2=82?= =?UTF-8?Q?=AC_euro?=",
		" =?windows-1251?B?z/Do4uXy?=",
		" =?UTF-8?Q?unterminated",
		" x =? y ?= z",
		" " + strings.Repeat("=?UTF-8?Q?=C3=A9t=C3=A9?= ", 12),
		" long \xc3\xa9 subject\n folded " + strings.Repeat("mot ", 25),
		" bare\rCR \xc3\xa9 " + strings.Repeat("mot ", 20),
	}
	tags := []string{"***SPAM*** ", "[SPAM] ", "*", "***Spam 5.1*** ", "\xc3\x9cberpr\xc3\xbcft: "}
	for _, subj := range subjects {
		for _, tag := range tags {
			for _, u8 := range []bool{false, true} {
				raw := "Subject:" + strings.ReplaceAll(subj, "\n", "\r\n") + "\r\n"
				got := string(EditSubject([]byte(raw), tag, u8).Raw)
				want := amavisField(o.ask(t, map[string]any{"op": "subject", "name": "Subject",
					"body": octetsJSON(subj), "tag": tag, "smtputf8": u8}))
				if got != want {
					t.Errorf("subject %q tag %q smtputf8=%v\n got %q\nwant %q", subj, tag, u8, got, want)
				}
			}
		}
	}
}

func TestOracleUnstructured(t *testing.T) {
	o := startOracle(t)
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := "abc  \t\txyz-=?_\xc3\xa9"
	for i := range 1500 {
		n := rng.IntN(300)
		var b strings.Builder
		for range n {
			b.WriteByte(alphabet[rng.IntN(len(alphabet))])
		}
		body := strings.ToValidUTF8(b.String(), "")
		name := []string{"Subject", "X-Test", "Comments"}[rng.IntN(3)]
		got := string(buildField(name, body, unstructured, false).Raw)
		want := amavisField(o.ask(t, map[string]any{"op": "hdr", "name": name, "body": body, "mode": 0}))
		if got != want {
			t.Fatalf("case %d: %s %q\n got %q\nwant %q", i, name, body, got, want)
		}
	}
}

func TestOracleSmallFields(t *testing.T) {
	o := startOracle(t)
	for _, c := range []struct {
		name, body string
		mode       foldMode
	}{
		{FieldLevel, "", unstructured},
		{FieldLevel, strings.Repeat("*", 64), unstructured},
		{FieldLevel, strings.Repeat("+-", 64), unstructured},
		{FieldFlag, "YES", unstructured},
		{FieldScore, "-0.001", unstructured},
		{FieldReport, "\n" + sanitizeKeepLF("Content analysis details:   (16.0 points, 5.0 required)\n\n pts rule name  description\n---- ---------\n 1000 GTUBE  BODY: Generic\t\\Test\x01"), prefolded},
		{FieldReport, "\n\n  \nx\n\n", prefolded},
	} {
		got := string(buildField(c.name, c.body, c.mode, false).Raw)
		want := amavisField(o.ask(t, map[string]any{"op": "hdr", "name": c.name, "body": c.body, "mode": int(c.mode)}))
		if got != want {
			t.Errorf("%s %q:\n got %q\nwant %q", c.name, c.body, got, want)
		}
	}
}
