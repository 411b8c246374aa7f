package compare

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
)

// Settings of the fixture configs bench/amavis/conf/amavisd-compare.conf and mavis-compare.toml.
const (
	amavisPort  = 31124
	amavisSink  = 31125
	mavisPort   = 32124
	mavisSink   = 32125
	amavisDB    = "mavis_cmp_amavis"
	mavisDB     = "mavis_cmp_mavis"
	mysqlRoot   = "root@tcp(127.0.0.1:3306)/"
	runDir      = "/var/tmp/mavis-cmp"
	amavisHome  = runDir + "/amavis-compare"
	amavisSQLgz = "/usr/share/doc/amavisd-new/README.sql-mysql.gz"
)

// send is one message of the batch: a corpus file (bench/amavis/run.sh's corpus, made by the reference
// rig's mkcorpus.py) sent to some recipients. Its Message-ID is replaced by a unique one, which pairs
// the rows and copies of the two filters.
type send struct {
	name  string
	file  string
	rcpts []string
}

var batch = []send{
	{"clean", "01-plain-2k.eml", []string{"user@rig.test"}},
	{"nonspam", "11-nonspam.eml", []string{"user@rig.test"}},
	{"newsletter", "02-html-newsletter-30k.eml", []string{"user@rig.test"}},
	{"clean-local+remote", "01-plain-2k.eml", []string{"user@rig.test", "someone@example.org"}},
	{"gtube", "06-gtube.eml", []string{"user@rig.test"}},
	{"gtube-local+remote", "06-gtube.eml", []string{"user@rig.test", "someone@example.org"}},
	{"eicar", "07-eicar.eml", []string{"user@rig.test"}},
	{"nested-zip-clamexe", "05-nested-zip-clamexe.eml", []string{"user@rig.test"}},
	{"banned-exe", "08-banned-exe.eml", []string{"user@rig.test"}},
	{"malformed-mime", "09-malformed-mime.eml", []string{"user@rig.test"}},
	{"8bit-header", "10-8bit-header.eml", []string{"user@rig.test"}},
}

func msgID(i int) string { return fmt.Sprintf("<mavis-cmp-%02d@example.net>", i) }

// TestCompareWithAmavis is the comparison. It needs root, amavisd-new (bench/amavis/install.sh), the
// shared clamd and spamd (scripts/clamd.sh, scripts/spamd.sh) and MariaDB on 127.0.0.1:3306.
func TestCompareWithAmavis(t *testing.T) {
	if os.Getenv("MAVIS_COMPARE") == "" {
		t.Skip("set MAVIS_COMPARE=1 to compare mavisd with amavisd-new (heavy; needs amavisd-new, clamd, spamd, MariaDB)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	repo := repoRoot(t)
	corpus := corpusDir(t, repo)

	bin := t.TempDir()
	for _, c := range []string{"mavisd", "mavis"} {
		build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, c), "./cmd/"+c)
		build.Dir = repo
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c, err, out)
		}
	}
	schema, err := exec.CommandContext(ctx, filepath.Join(bin, "mavis"), "sql", "schema", "--dialect", "mysql").Output()
	if err != nil {
		t.Fatalf("mavis sql schema: %v", err)
	}
	amavisSchema := readAmavisSchema(t)
	dbA := freshDB(t, amavisDB, amavisSchema)
	dbB := freshDB(t, mavisDB, splitSQL(string(schema)))

	capA := startCapture(t, amavisSink)
	capB := startCapture(t, mavisSink)
	startAmavis(ctx, t, repo)
	startMavis(ctx, t, repo, bin)

	var replies [][2]string
	for i, s := range batch {
		raw, err := os.ReadFile(filepath.Join(corpus, s.file))
		if err != nil {
			t.Fatal(err)
		}
		msg := setMessageID(raw, msgID(i))
		ra, err := sendSMTP(ctx, fmt.Sprintf("127.0.0.1:%d", amavisPort), s.rcpts, msg)
		if err != nil {
			t.Fatalf("send %s to amavisd: %v", s.name, err)
		}
		rb, err := sendSMTP(ctx, fmt.Sprintf("127.0.0.1:%d", mavisPort), s.rcpts, msg)
		if err != nil {
			t.Fatalf("send %s to mavisd: %v", s.name, err)
		}
		replies = append(replies, [2]string{ra, rb})
	}
	waitRows(t, dbA, len(batch))
	waitRows(t, dbB, len(batch))
	time.Sleep(time.Second) // let notifications arrive

	r := &report{}
	r.section("SMTP replies to the sender (ids normalised)")
	for i, s := range batch {
		r.cmp(s.name, "final DATA reply", normID(replies[i][0]), normID(replies[i][1]))
	}
	compareSchema(t, r, dbA, dbB)
	compareSQL(t, r, dbA, dbB)
	compareCopies(r, capA.all(), capB.all())

	path := writeReport(t, repo, r)
	t.Logf("comparison written to %s (%d differences)", path, r.ndiff)
	if r.ndiff > 0 {
		t.Errorf("%d differences between amavisd-new and mavisd, listed in %s", r.ndiff, path)
	}
}

// ---------- set-up ----------

func repoRoot(t *testing.T) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; d != "/"; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
	}
	t.Fatalf("no go.mod above %s", dir)
	return ""
}

func corpusDir(t *testing.T, repo string) string {
	dir := os.Getenv("MAVIS_COMPARE_CORPUS")
	if dir == "" {
		dir = runDir + "/corpus"
	}
	if _, err := os.Stat(filepath.Join(dir, "06-gtube.eml")); err == nil {
		return dir
	}
	gen := "/work/shared/reference/mkcorpus.py"
	dir = t.TempDir()
	if out, err := exec.Command("/usr/bin/python3", gen, dir).CombinedOutput(); err != nil {
		t.Fatalf("no corpus (set MAVIS_COMPARE_CORPUS or run bench/amavis/run.sh): %s: %v\n%s", gen, err, out)
	}
	return dir
}

// readAmavisSchema extracts the CREATE statements of amavis's README.sql-mysql (as shipped by Debian).
func readAmavisSchema(t *testing.T) []string {
	f, err := os.Open(amavisSQLgz)
	if err != nil {
		t.Fatalf("amavis schema: %v (install amavisd-new: bench/amavis/install.sh)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		l := sc.Text()
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l + "\n")
	}
	re := regexp.MustCompile(`(?ms)^CREATE (?:TABLE|INDEX)[^;]*;`)
	stmts := re.FindAllString(b.String(), -1)
	if len(stmts) < 8 {
		t.Fatalf("amavis schema: only %d statements found in %s", len(stmts), amavisSQLgz)
	}
	return stmts
}

func splitSQL(s string) []string {
	var b strings.Builder
	for _, l := range strings.Split(s, "\n") {
		if i := strings.Index(l, "--"); i >= 0 {
			l = l[:i]
		}
		b.WriteString(l + "\n")
	}
	var out []string
	for _, st := range strings.Split(b.String(), ";") {
		if strings.TrimSpace(st) != "" {
			out = append(out, st)
		}
	}
	return out
}

func freshDB(t *testing.T, name string, stmts []string) *sql.DB {
	root, err := sql.Open("mysql", mysqlRoot)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{"DROP DATABASE IF EXISTS " + name, "CREATE DATABASE " + name + " CHARACTER SET utf8mb4"} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("MariaDB 127.0.0.1:3306: %s: %v", q, err)
		}
	}
	db, err := sql.Open("mysql", mysqlRoot+name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	for _, st := range stmts {
		if _, err := db.Exec(st); err != nil {
			// README.sql-mysql creates some indexes twice; the second one fails with 1061
			if strings.Contains(err.Error(), "1061") {
				continue
			}
			t.Fatalf("schema of %s: %v\n%s", name, err, st)
		}
	}
	return db
}

func startAmavis(ctx context.Context, t *testing.T, repo string) {
	u, err := user.Lookup("amavis")
	if err != nil {
		t.Fatalf("user amavis: %v (install amavisd-new: bench/amavis/install.sh)", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(runDir+"/log", 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.Chmod(runDir+"/log", 0o1777)
	for _, d := range []string{"", "/tmp", "/db", "/var", "/virusmails"} {
		if err := os.MkdirAll(amavisHome+d, 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(amavisHome+d, uid, gid); err != nil {
			t.Fatalf("chown (the comparison must run as root): %v", err)
		}
	}
	pidFile := amavisHome + "/var/amavisd.pid"
	stopPidFile(pidFile) // a previous, interrupted run
	conf := filepath.Join(repo, "bench/amavis/conf")
	cmd := exec.CommandContext(ctx, "amavisd", "-c", conf+"/amavisd-common.conf", "-c", conf+"/amavisd-compare.conf", "start")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("amavisd start: %v\n%s", err, out)
	}
	t.Cleanup(func() { stopPidFile(pidFile) })
	if err := waitBanner(ctx, amavisPort, 60*time.Second); err != nil {
		t.Fatalf("amavisd: %v (log: %s/log/amavisd-compare.log)", err, runDir)
	}
}

func stopPidFile(pf string) {
	b, err := os.ReadFile(pf)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return
	}
	if syscall.Kill(pid, syscall.SIGTERM) != nil {
		return
	}
	for i := 0; i < 300 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
}

func startMavis(ctx context.Context, t *testing.T, repo, bin string) {
	if err := os.MkdirAll(runDir+"/mavis-compare", 0o755); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(runDir + "/log/mavisd-compare.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(filepath.Join(bin, "mavisd"), "-c", filepath.Join(repo, "bench/amavis/conf/mavis-compare.toml"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("mavisd: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	})
	if err := waitBanner(ctx, mavisPort, 30*time.Second); err != nil {
		t.Fatalf("mavisd: %v (log: %s/log/mavisd-compare.log)", err, runDir)
	}
}

func waitBanner(ctx context.Context, port int, d time.Duration) error {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(c).ReadString('\n')
			fmt.Fprintf(c, "QUIT\r\n")
			c.Close()
			if err == nil && strings.HasPrefix(line, "220") {
				return nil
			}
			last = fmt.Errorf("banner %q: %v", line, err)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("no 220 banner on port %d: %v", port, last)
}

func setMessageID(raw []byte, id string) []byte {
	lines := strings.SplitAfter(string(raw), "\n")
	for i, l := range lines {
		if l == "\n" || l == "\r\n" {
			break
		}
		if strings.HasPrefix(strings.ToLower(l), "message-id:") {
			lines[i] = "Message-ID: " + id + "\n"
			return []byte(strings.Join(lines, ""))
		}
	}
	return append([]byte("Message-ID: "+id+"\n"), raw...)
}

// sendSMTP sends msg in one session, as Postfix's content_filter client would (no XFORWARD), and
// returns the final reply to the data.
func sendSMTP(ctx context.Context, addr string, rcpts []string, msg []byte) (string, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", err
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(2 * time.Minute))
	c := textproto.NewConn(nc)
	step := func(code int, format string, args ...any) (string, error) {
		if format != "" {
			if err := c.PrintfLine(format, args...); err != nil {
				return "", err
			}
		}
		got, text, err := c.ReadResponse(code)
		if err != nil {
			return fmt.Sprintf("%d %s", got, text), err
		}
		return fmt.Sprintf("%d %s", got, text), nil
	}
	if _, err := step(220, ""); err != nil {
		return "", fmt.Errorf("banner: %w", err)
	}
	if _, err := step(250, "EHLO client.rig.test"); err != nil {
		return "", fmt.Errorf("EHLO: %w", err)
	}
	if _, err := step(250, "MAIL FROM:<sender@example.net>"); err != nil {
		return "", fmt.Errorf("MAIL: %w", err)
	}
	for _, r := range rcpts {
		if _, err := step(250, "RCPT TO:<%s>", r); err != nil {
			return "", fmt.Errorf("RCPT: %w", err)
		}
	}
	if _, err := step(354, "DATA"); err != nil {
		return "", fmt.Errorf("DATA: %w", err)
	}
	w := c.DotWriter()
	if _, err := w.Write(msg); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	got, text, err := c.ReadResponse(0)
	reply := fmt.Sprintf("%d %s", got, text)
	if err != nil && got == 0 {
		return "", fmt.Errorf("end of data: %w", err)
	}
	_, _ = step(221, "QUIT")
	return reply, nil
}

func waitRows(t *testing.T, db *sql.DB, n int) {
	var got int
	for i := 0; i < 300; i++ {
		if err := db.QueryRow("SELECT COUNT(*) FROM msgs WHERE content IS NOT NULL").Scan(&got); err == nil && got >= n {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("only %d of %d msgs rows complete after 30 s", got, n)
}

// ---------- capture server (the next hop of both filters) ----------

type captured struct {
	Helo, MailFrom string
	Rcpts          []string
	Data           string
}

type capture struct {
	mu   sync.Mutex
	msgs []captured
}

func (c *capture) all() []captured {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]captured(nil), c.msgs...)
}

func startCapture(t *testing.T, port int) *capture {
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("capture server: %v", err)
	}
	c := &capture{}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); c.serve(nc) }()
		}
	}()
	return c
}

func (c *capture) serve(nc net.Conn) {
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Minute))
	tc := textproto.NewConn(nc)
	_ = tc.PrintfLine("220 capture.rig.test ESMTP")
	var cur captured
	for {
		line, err := tc.ReadLine()
		if err != nil {
			return
		}
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		switch verb {
		case "EHLO", "HELO":
			cur = captured{Helo: strings.TrimSpace(line[4:])}
			_ = tc.PrintfLine("250-capture.rig.test\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 ENHANCEDSTATUSCODES")
		case "MAIL":
			cur.MailFrom, cur.Rcpts = strings.TrimSpace(line[len("MAIL FROM:"):]), nil
			_ = tc.PrintfLine("250 2.1.0 Ok")
		case "RCPT":
			cur.Rcpts = append(cur.Rcpts, strings.TrimSpace(line[len("RCPT TO:"):]))
			_ = tc.PrintfLine("250 2.1.5 Ok")
		case "DATA":
			_ = tc.PrintfLine("354 End data with <CR><LF>.<CR><LF>")
			b, err := tc.ReadDotBytes()
			if err != nil {
				return
			}
			m := cur
			m.Data = string(b)
			c.mu.Lock()
			c.msgs = append(c.msgs, m)
			c.mu.Unlock()
			_ = tc.PrintfLine("250 2.0.0 Ok: queued as CAPTURED")
		case "RSET":
			cur = captured{Helo: cur.Helo}
			_ = tc.PrintfLine("250 2.0.0 Ok")
		case "QUIT":
			_ = tc.PrintfLine("221 2.0.0 Bye")
			return
		default:
			_ = tc.PrintfLine("250 2.0.0 Ok")
		}
	}
}

// ---------- comparison ----------

type report struct {
	b     strings.Builder
	ndiff int
	same  int
}

func (r *report) section(title string) { fmt.Fprintf(&r.b, "\n## %s\n\n", title) }

func (r *report) cmp(item, field, a, b string) {
	if a == b {
		r.same++
		return
	}
	r.ndiff++
	fmt.Fprintf(&r.b, "- **%s** `%s`:\n  - amavis: `%s`\n  - mavis:  `%s`\n", item, field, oneLine(a), oneLine(b))
}

func (r *report) note(format string, args ...any) { fmt.Fprintf(&r.b, format+"\n", args...) }

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "⏎")
	s = strings.ReplaceAll(s, "\n", "⏎")
	s = strings.ReplaceAll(s, "`", "'")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}

var (
	reAmID    = regexp.MustCompile(`\b\d{2,7}-\d{2,}(-\d+)?\b`)
	reDate    = regexp.MustCompile(`(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} \w{3} \d{4} \d\d:\d\d:\d\d [+-]\d{4}(?: \(\w+\))?`)
	reMailIDs = regexp.MustCompile(`[A-Za-z0-9_+-]{12}`)
)

// normID replaces amavis-style process ids (12345-01) and the two rigs' own port numbers (the only
// configured difference between them) in a reply or header.
func normID(s string) string {
	s = reAmID.ReplaceAllString(s, "<am_id>")
	for _, p := range []int{amavisPort, mavisPort} {
		s = strings.ReplaceAll(s, strconv.Itoa(p), "<filter-port>")
	}
	for _, p := range []int{amavisSink, mavisSink} {
		s = strings.ReplaceAll(s, strconv.Itoa(p), "<next-hop-port>")
	}
	return s
}

type rowset struct {
	cols []string
	rows []map[string]string
}

func query(t *testing.T, db *sql.DB, q string, args ...any) rowset {
	rows, err := db.Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var rs rowset
	rs.cols = cols
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		m := map[string]string{}
		for i, c := range cols {
			if vals[i].Valid {
				m[c] = vals[i].String
			} else {
				m[c] = "NULL"
			}
		}
		rs.rows = append(rs.rows, m)
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return rs
}

func compareSchema(t *testing.T, r *report, a, b *sql.DB) {
	r.section("Schema (information_schema.columns of the four tables: amavis's README.sql-mysql vs `mavis sql schema --dialect mysql`)")
	q := `SELECT table_name AS tname, column_name AS cname, column_type AS type, is_nullable AS nullable,
	      column_default AS dflt, character_set_name AS charset, collation_name AS collation
	      FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name IN ('msgs','msgrcpt','maddr','quarantine')
	      ORDER BY table_name, ordinal_position`
	ca, cb := query(t, a, q), query(t, b, q)
	idx := func(rs rowset) (map[string]map[string]string, []string) {
		m := map[string]map[string]string{}
		var order []string
		for _, row := range rs.rows {
			k := strings.ToLower(row["tname"] + "." + row["cname"])
			m[k] = row
			order = append(order, k)
		}
		return m, order
	}
	ma, oa := idx(ca)
	mb, ob := idx(cb)
	for _, k := range oa {
		rb, ok := mb[k]
		if !ok {
			r.cmp(k, "column", "present", "missing")
			continue
		}
		for _, f := range ca.cols[2:] {
			r.cmp(k, strings.ToLower(f), ma[k][f], rb[f])
		}
	}
	for _, k := range ob {
		if _, ok := ma[k]; !ok {
			r.cmp(k, "column", "missing", "present")
		}
	}
}

// compareSQL compares the rows both filters logged, message by message.
func compareSQL(t *testing.T, r *report, a, b *sql.DB) {
	msgsQ := `SELECT m.*, s.email AS sender_email FROM msgs m LEFT JOIN maddr s ON s.id = m.sid ORDER BY m.time_num`
	ra, rb := query(t, a, msgsQ), query(t, b, msgsQ)
	byID := func(rs rowset) map[string]map[string]string {
		m := map[string]map[string]string{}
		for _, row := range rs.rows {
			m[row["message_id"]] = row
		}
		return m
	}
	ma, mb := byID(ra), byID(rb)
	skip := map[string]bool{"mail_id": true, "secret_id": true, "am_id": true, "time_num": true, "time_iso": true, "sid": true}
	r.section("Table msgs (one row per message, paired by Message-ID; mail_id, secret_id, am_id, times, sid not compared; sid compared as the sender address)")
	r.note("amavis wrote %d rows, mavis %d.\n", len(ra.rows), len(rb.rows))
	cols := unionCols(ra.cols, rb.cols)
	for i, s := range batch {
		id := msgID(i)
		x, okx := ma[id]
		y, oky := mb[id]
		if !okx || !oky {
			r.cmp(s.name, "msgs row", fmt.Sprint(okx), fmt.Sprint(oky))
			continue
		}
		for _, c := range cols {
			if skip[c] {
				continue
			}
			xv, yv := norm(x[c], x), norm(y[c], y)
			if c == "spam_level" {
				xv, yv = normFloat(xv), normFloat(yv)
			}
			r.cmp(s.name, "msgs."+c, xv, yv)
		}
		r.cmp(s.name, "msgs.secret_id empty?", fmt.Sprint(x["secret_id"] == ""), fmt.Sprint(y["secret_id"] == ""))
	}

	rcptQ := `SELECT r.*, a.email AS rcpt_email FROM msgrcpt r LEFT JOIN maddr a ON a.id = r.rid WHERE r.mail_id = ? ORDER BY r.rseqnum`
	r.section("Table msgrcpt (per message and recipient; mail_id and rid not compared, rid compared as the address)")
	for i, s := range batch {
		x, okx := ma[msgID(i)]
		y, oky := mb[msgID(i)]
		if !okx || !oky {
			continue
		}
		qa, qb := query(t, a, rcptQ, x["mail_id"]), query(t, b, rcptQ, y["mail_id"])
		if len(qa.rows) != len(qb.rows) {
			r.cmp(s.name, "msgrcpt row count", strconv.Itoa(len(qa.rows)), strconv.Itoa(len(qb.rows)))
		}
		cols := unionCols(qa.cols, qb.cols)
		for j := 0; j < min(len(qa.rows), len(qb.rows)); j++ {
			for _, c := range cols {
				if c == "mail_id" || c == "rid" {
					continue
				}
				xv, yv := norm(qa.rows[j][c], x), norm(qb.rows[j][c], y)
				if c == "bspam_level" {
					xv, yv = normFloat(xv), normFloat(yv)
				}
				r.cmp(fmt.Sprintf("%s rcpt %d", s.name, j+1), "msgrcpt."+c, xv, yv)
			}
		}
	}

	r.section("Table maddr (the set of (partition_tag, email, domain); ids not compared)")
	mq := `SELECT partition_tag, email, domain FROM maddr ORDER BY email`
	aa, ab := query(t, a, mq), query(t, b, mq)
	set := func(rs rowset) map[string]bool {
		m := map[string]bool{}
		for _, row := range rs.rows {
			m[row["partition_tag"]+" | "+row["email"]+" | "+row["domain"]] = true
		}
		return m
	}
	sa, sb := set(aa), set(ab)
	for _, k := range sortedKeys(sa, sb) {
		r.cmp(k, "maddr row", presence(sa[k]), presence(sb[k]))
	}

	r.section("Table quarantine (per message: chunk numbering and the stored text; ids, dates and the Received/X-Quarantine-ID lines normalised)")
	qq := `SELECT partition_tag, chunk_ind, mail_text FROM quarantine WHERE mail_id = ? ORDER BY chunk_ind`
	for i, s := range batch {
		x, okx := ma[msgID(i)]
		y, oky := mb[msgID(i)]
		if !okx || !oky {
			continue
		}
		qa, qb := query(t, a, qq, x["mail_id"]), query(t, b, qq, y["mail_id"])
		if len(qa.rows) == 0 && len(qb.rows) == 0 {
			continue
		}
		r.cmp(s.name, "quarantine chunk count", strconv.Itoa(len(qa.rows)), strconv.Itoa(len(qb.rows)))
		ta, tb := joinChunks(qa), joinChunks(qb)
		ha, ba, _ := strings.Cut(ta, "\n\n")
		hb, bb, _ := strings.Cut(tb, "\n\n")
		r.cmp(s.name, "quarantine header field names (in order)", headerNames(ha), headerNames(hb))
		for _, h := range []string{"Return-Path", "Delivered-To", "X-Envelope-From", "X-Envelope-To", "X-Envelope-To-Blocked", "X-Quarantine-ID", "X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status", "X-Virus-Scanned", "X-Amavis-Alert", "Subject"} {
			r.cmp(s.name, "quarantine "+h, norm(headerValue(ha, h), x), norm(headerValue(hb, h), y))
		}
		r.cmp(s.name, "quarantine body identical", "true", fmt.Sprint(ba == bb))
		// The only deliberate difference in the stored text is the product
		// name in the Received field (docs/differences.md).
		product := strings.NewReplacer("(amavis, port", "(mavis, port")
		r.cmp(s.name, "quarantine text length (product name normalised)", strconv.Itoa(len(product.Replace(ta))), strconv.Itoa(len(tb)))
	}
}

func chunkList(rs rowset) string {
	var l []string
	for _, row := range rs.rows {
		l = append(l, row["partition_tag"]+":"+row["chunk_ind"]+"("+strconv.Itoa(len(row["mail_text"]))+"B)")
	}
	return strings.Join(l, ",")
}

func joinChunks(rs rowset) string {
	var b strings.Builder
	for _, row := range rs.rows {
		b.WriteString(row["mail_text"])
	}
	return strings.ReplaceAll(b.String(), "\r\n", "\n")
}

func presence(b bool) string {
	if b {
		return "present"
	}
	return "missing"
}

func sortedKeys(ms ...map[string]bool) []string {
	seen := map[string]bool{}
	var ks []string
	for _, m := range ms {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				ks = append(ks, k)
			}
		}
	}
	sort.Strings(ks)
	return ks
}

func unionCols(a, b []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, c := range append(append([]string(nil), a...), b...) {
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out
}

// norm replaces the row's run-specific ids (mail_id, secret_id, am_id) and dates in v.
func norm(v string, row map[string]string) string {
	for _, k := range []string{"mail_id", "secret_id", "am_id"} {
		if id := row[k]; len(id) >= 4 {
			v = strings.ReplaceAll(v, id, "<"+k+">")
		}
	}
	v = reDate.ReplaceAllString(v, "<date>")
	return normID(v)
}

func normFloat(s string) string {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return s
	}
	return strconv.FormatFloat(f, 'f', 3, 64)
}

func headerNames(h string) string {
	var names []string
	for _, l := range strings.Split(h, "\n") {
		if l == "" || l[0] == ' ' || l[0] == '\t' {
			continue
		}
		if n, _, ok := strings.Cut(l, ":"); ok {
			names = append(names, n)
		}
	}
	return strings.Join(names, ", ")
}

// headerValue returns the unfolded-in-place values of every field named name (joined with " || ").
func headerValue(h, name string) string {
	var out []string
	lines := strings.Split(h, "\n")
	for i := 0; i < len(lines); i++ {
		n, v, ok := strings.Cut(lines[i], ":")
		if !ok || !strings.EqualFold(n, name) {
			continue
		}
		for i+1 < len(lines) && len(lines[i+1]) > 0 && (lines[i+1][0] == ' ' || lines[i+1][0] == '\t') {
			i++
			v += "\n" + lines[i]
		}
		out = append(out, strings.TrimPrefix(v, " "))
	}
	return strings.Join(out, " || ")
}

// compareCopies compares what both filters delivered to their next hop: the copies of each message of
// the batch (by Message-ID) and the notifications.
func compareCopies(r *report, a, b []captured) {
	r.section("Delivered copies (next hop): envelope and the header fields the filters add or change; X-Quarantine-ID / Received ids normalised")
	find := func(cs []captured, id string) []captured {
		var out []captured
		for _, c := range cs {
			h, _, _ := strings.Cut(strings.ReplaceAll(c.Data, "\r\n", "\n"), "\n\n")
			if headerValue(h, "Message-ID") == id {
				out = append(out, c)
			}
		}
		return out
	}
	for i, s := range batch {
		ca, cb := find(a, msgID(i)), find(b, msgID(i))
		r.cmp(s.name, "copies delivered", strconv.Itoa(len(ca)), strconv.Itoa(len(cb)))
		for j := 0; j < min(len(ca), len(cb)); j++ {
			item := fmt.Sprintf("%s copy %d", s.name, j+1)
			r.cmp(item, "HELO", ca[j].Helo, cb[j].Helo)
			r.cmp(item, "MAIL FROM", ca[j].MailFrom, cb[j].MailFrom)
			r.cmp(item, "RCPT TO", strings.Join(ca[j].Rcpts, " "), strings.Join(cb[j].Rcpts, " "))
			ha, ba, _ := strings.Cut(strings.ReplaceAll(ca[j].Data, "\r\n", "\n"), "\n\n")
			hb, bb, _ := strings.Cut(strings.ReplaceAll(cb[j].Data, "\r\n", "\n"), "\n\n")
			r.cmp(item, "header field names (in order)", headerNames(ha), headerNames(hb))
			for _, h := range []string{"X-Virus-Scanned", "X-Spam-Flag", "X-Spam-Score", "X-Spam-Level", "X-Spam-Status", "X-Amavis-Alert", "Subject"} {
				r.cmp(item, h, headerValue(ha, h), headerValue(hb, h))
			}
			r.cmp(item, "X-Quarantine-ID present", fmt.Sprint(headerValue(ha, "X-Quarantine-ID") != ""), fmt.Sprint(headerValue(hb, "X-Quarantine-ID") != ""))
			ra := normID(reMailIDs.ReplaceAllString(reDate.ReplaceAllString(firstField(ha, "Received"), "<date>"), "<id>"))
			rb := normID(reMailIDs.ReplaceAllString(reDate.ReplaceAllString(firstField(hb, "Received"), "<date>"), "<id>"))
			// The product name is the one deliberate difference (docs/differences.md).
			r.cmp(item, "first Received (ids/dates/product normalised)", strings.Replace(ra, "(amavis, port", "(mavis, port", 1), rb)
			r.cmp(item, "body identical", "true", fmt.Sprint(ba == bb))
		}
	}
	r.section("Sample: the filter header fields of the first delivered copy of each passed message (for reference, equal or not)")
	for i, s := range batch {
		ca, cb := find(a, msgID(i)), find(b, msgID(i))
		if len(ca) == 0 || len(cb) == 0 {
			continue
		}
		ha, _, _ := strings.Cut(strings.ReplaceAll(ca[0].Data, "\r\n", "\n"), "\n\n")
		hb, _, _ := strings.Cut(strings.ReplaceAll(cb[0].Data, "\r\n", "\n"), "\n\n")
		r.note("%s:\n\n```\n# amavis\n%s# mavis\n%s```\n", s.name, filterFields(ha), filterFields(hb))
	}
	r.section("Notifications and other mail not from the batch (by recipients and Subject; ids normalised)")
	other := func(cs []captured) map[string]bool {
		m := map[string]bool{}
		for _, c := range cs {
			h, _, _ := strings.Cut(strings.ReplaceAll(c.Data, "\r\n", "\n"), "\n\n")
			if strings.HasPrefix(headerValue(h, "Message-ID"), "<mavis-cmp-") {
				continue
			}
			k := fmt.Sprintf("FROM %s TO %s | From: %s | Subject: %s", c.MailFrom, strings.Join(c.Rcpts, ","),
				headerValue(h, "From"), strings.ReplaceAll(headerValue(h, "Subject"), "\n", ""))
			m[normID(k)] = true
		}
		return m
	}
	oa, ob := other(a), other(b)
	for _, k := range sortedKeys(oa, ob) {
		r.cmp(k, "notification", presence(oa[k]), presence(ob[k]))
	}
}

// filterFields returns the X-Spam-*, X-Virus-Scanned, X-Amavis-Alert and X-Quarantine-ID fields of h.
func filterFields(h string) string {
	var b strings.Builder
	keep := false
	for _, l := range strings.Split(h, "\n") {
		if l != "" && l[0] != ' ' && l[0] != '\t' {
			n, _, _ := strings.Cut(l, ":")
			n = strings.ToLower(n)
			keep = strings.HasPrefix(n, "x-spam-") || n == "x-virus-scanned" || n == "x-amavis-alert" || n == "x-quarantine-id"
		}
		if keep {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func firstField(h, name string) string {
	v := headerValue(h, name)
	if i := strings.Index(v, " || "); i >= 0 {
		v = v[:i]
	}
	return v
}

func writeReport(t *testing.T, repo string, r *report) string {
	dir := filepath.Join(repo, "bench/amavis/results")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "compare-"+time.Now().UTC().Format("2006-01-02")+".md")
	var b bytes.Buffer
	fmt.Fprintf(&b, "# mavisd vs amavisd-new 2.13: the same batch, compared (%s UTC)\n\n", time.Now().UTC().Format("2006-01-02 15:04"))
	fmt.Fprintf(&b, "Written by `MAVIS_COMPARE=1 go test ./test/compare/` (test/compare/compare_test.go). Configs: bench/amavis/conf/amavisd-common.conf + amavisd-compare.conf and mavis-compare.toml (seed 000's levels: tag 1.0, tag2 5.0, kill 6.31, dsn cutoff 10, final_spam_destiny D_DISCARD; ClamAV via clamd zINSTREAM, SpamAssassin via spamd; SQL logging + SQL quarantine to MariaDB, amavis into its README.sql-mysql schema, mavis into `mavis sql schema`).\n\n")
	fmt.Fprintf(&b, "Batch (sender <sender@example.net>, corpus of the reference rig, Message-ID replaced per send):\n\n")
	for i, s := range batch {
		fmt.Fprintf(&b, "%d. %s: %s → %s\n", i, s.name, s.file, strings.Join(s.rcpts, ", "))
	}
	fmt.Fprintf(&b, "\n**%d differences**, %d compared values equal. Only differences are listed.\n", r.ndiff, r.same)
	b.WriteString(r.b.String())
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}
