package store

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestSchemaCreatesCleanly(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			s := db.open(t, nil)
			ctx := tctx(t)
			// a second run of the DDL is a no-op (IF NOT EXISTS everywhere)
			sqldb, dialect, err := s.DB(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if dialect != d {
				t.Fatalf("dialect %q, want %q", dialect, d)
			}
			if err := createSchema(ctx, sqldb, d); err != nil {
				t.Fatalf("schema twice: %v", err)
			}
			for _, tbl := range []string{"users", "policy", "mailaddr", "wblist", "maddr", "msgs", "msgrcpt", "quarantine"} {
				var n int
				if err := sqldb.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl).Scan(&n); err != nil {
					t.Errorf("table %s: %v", tbl, err)
				}
			}
			// amavis's README example rows go into the lookup tables as written
			for _, q := range []string{
				"INSERT INTO policy (id, policy_name, spam_lover, spam_tag2_level, spam_kill_level) VALUES (5, 'Normal', 'N', 6.9, 6.9)",
				"INSERT INTO users (id, priority, policy_id, email, fullname) VALUES (2, 7, 5, 'user1@y.example.com', 'Name1 Surname1')",
				"INSERT INTO mailaddr (id, priority, email) VALUES (1, 5, '@example.com')",
				"INSERT INTO wblist VALUES (2, 1, 'W')",
			} {
				if _, err := sqldb.ExecContext(ctx, q); err != nil {
					t.Errorf("%s: %v", q, err)
				}
			}
			var wb string
			if err := sqldb.QueryRowContext(ctx, rebind(d, "SELECT wb FROM wblist JOIN mailaddr ON wblist.sid=mailaddr.id"+
				" WHERE wblist.rid=? AND mailaddr.email IN (?) ORDER BY mailaddr.priority DESC"), 2, bin(d, "@example.com")).Scan(&wb); err != nil || wb != "W" {
				t.Errorf("sel_wblist: %q %v", wb, err)
			}
		})
	}
}

func TestEmbeddedDefault(t *testing.T) {
	home := t.TempDir()
	ctx := tctx(t)
	s, err := Open(ctx, Options{MyHome: home})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Embedded() {
		t.Error("not embedded")
	}
	db, d, err := s.DB(ctx)
	if err != nil || d != DialectSQLite {
		t.Fatalf("DB: %v %q", err, d)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode %q %v", mode, err)
	}
	var bt int
	if err := db.QueryRowContext(ctx, "PRAGMA busy_timeout").Scan(&bt); err != nil || bt < 1000 {
		t.Errorf("busy_timeout %d %v", bt, err)
	}
	m := testMessage("emb", 0, "a@x.example", []string{"b@y.example"})
	if err := s.SavePreliminary(ctx, m); err != nil {
		t.Fatal(err)
	}
	if disp, _ := s.Current(); !strings.Contains(disp, EmbeddedPath(home)) {
		t.Errorf("current %q", disp)
	}
}

var rx = time.Date(2024, 6, 5, 10, 11, 12, 0, time.UTC)

func testMessage(id string, ptag int64, sender string, rcpts []string) *Message {
	m := &Message{
		PartitionTag: ptag, MailID: padID(id), SecretID: padID("s" + id), LogID: "4242-" + id,
		RxTime: rx, Sender: sender, Policy: "", ClientAddr: "192.0.2.7", Size: 1234,
		Host: "mx.mavis.test", Content: ContentClean, DSNSent: "N",
	}
	for _, r := range rcpts {
		m.Recipients = append(m.Recipients, Recipient{Addr: r, IsLocal: true, Content: ContentClean,
			Destiny: DestinyPass, SMTPResponse: "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4Xyz", Done: true})
	}
	return m
}

// padID makes a 12-character mail_id from a short test name.
func padID(s string) string {
	s = strings.ReplaceAll(s, " ", "_")
	for len(s) < 12 {
		s += "0"
	}
	return s[:12]
}

type rowMsg struct {
	ptag                                             int64
	mailID, secretID, amID                           string
	timeNum                                          int64
	timeISO                                          string
	sender, policy, clientAddr                       string
	size                                             int64
	originating, content, quarType, quarLoc, dsnSent string
	spamLevel                                        float64
	messageID, from, subject, host                   string
}

type rowRcpt struct {
	rseq                                   int
	rcpt, isLocal, content, ds, rs, bl, wl string
	level                                  float64
	resp                                   string
}

func readMsg(t *testing.T, s *Store, ptag int64, mailID string) rowMsg {
	t.Helper()
	ctx := tctx(t)
	db, d, err := s.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var r rowMsg
	var mid, sec, sender, ql []byte
	var content, qt, dsn *string
	var lvl *float64
	err = db.QueryRowContext(ctx, rebind(d, `SELECT msgs.partition_tag, mail_id, secret_id, am_id, time_num, time_iso,
		maddr.email, policy, client_addr, size, originating, content, quar_type, quar_loc, dsn_sent, spam_level,
		message_id, from_addr, subject, host
		FROM msgs JOIN maddr ON msgs.sid=maddr.id WHERE msgs.partition_tag=? AND mail_id=?`), ptag, bin(d, mailID)).Scan(
		&r.ptag, &mid, &sec, &r.amID, &r.timeNum, &r.timeISO, &sender, &r.policy, &r.clientAddr, &r.size,
		&r.originating, &content, &qt, &ql, &dsn, &lvl, &r.messageID, &r.from, &r.subject, &r.host)
	if err != nil {
		t.Fatalf("msgs row %s: %v", mailID, err)
	}
	r.mailID, r.secretID, r.sender, r.quarLoc = string(mid), string(sec), string(sender), string(ql)
	if content != nil {
		r.content = *content
	} else {
		r.content = "NULL"
	}
	if qt != nil {
		r.quarType = *qt
	}
	if dsn != nil {
		r.dsnSent = *dsn
	}
	if lvl != nil {
		r.spamLevel = *lvl
	}
	r.originating = strings.TrimRight(r.originating, " ")
	r.quarType = strings.TrimRight(r.quarType, " ")
	// PostgreSQL's time_iso is a timestamptz: bring it to amavis's text form
	if tm, err := time.Parse(time.RFC3339Nano, r.timeISO); err == nil {
		r.timeISO = tm.UTC().Format("20060102T150405Z")
	}
	return r
}

func readRcpts(t *testing.T, s *Store, ptag int64, mailID string) []rowRcpt {
	t.Helper()
	ctx := tctx(t)
	db, d, err := s.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.QueryContext(ctx, rebind(d, `SELECT rseqnum, maddr.email, is_local, content, ds, rs, bl, wl, bspam_level, smtp_resp
		FROM msgrcpt JOIN maddr ON msgrcpt.rid=maddr.id WHERE msgrcpt.partition_tag=? AND mail_id=? ORDER BY rseqnum`), ptag, bin(d, mailID))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rowRcpt
	for rows.Next() {
		var r rowRcpt
		var email []byte
		if err := rows.Scan(&r.rseq, &email, &r.isLocal, &r.content, &r.ds, &r.rs, &r.bl, &r.wl, &r.level, &r.resp); err != nil {
			t.Fatal(err)
		}
		r.rcpt = string(email)
		r.rs = strings.TrimRight(r.rs, " ") // MySQL CHAR drops trailing blanks
		r.content = strings.TrimRight(r.content, " ")
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestBatch logs a mixed batch (clean, spam, virus, banned) as the pipeline
// would and checks every column amavis writes.
func TestBatch(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			s := db.open(t, nil)
			ctx := tctx(t)
			const ptag = 23

			clean := testMessage("clean", ptag, "Alice.Smith@Example.COM", []string{"bob@dest.example", "Carol@Sub.Dest.Example."})
			clean.Policy, clean.Originating = "MYNETS", true
			clean.MessageID = " <abc.123@example.com> (comment)"
			clean.From = "=?UTF-8?B?w4lsaXNl?= <alice.smith@example.com>"
			clean.Subject = "Re: =?ISO-8859-1?Q?caf=E9?=\r\n\tmeeting"
			clean.Recipients[0].SpamLevel, clean.Recipients[1].SpamLevel = 1.25, 0.5
			clean.Recipients[1].IsLocal, clean.Recipients[1].Whitelisted = false, true

			spam := testMessage("spam", ptag, "spammer@bad.example", []string{"bob@dest.example"})
			spam.Content, spam.QuarType = ContentSpam, QuarSQL
			spam.QuarLoc = SQLQuarantineLocation(spam.MailID, ptag)
			spam.Subject = "Cheap \xe9 stuff" // raw 8-bit Latin-1
			spam.MessageID = "<spam@bad.example>"
			spam.Recipients[0] = Recipient{Addr: "bob@dest.example", IsLocal: true, Content: ContentSpam, Destiny: DestinyDiscard,
				SMTPResponse: "250 2.7.0 Ok, discarded, id=4242-spam - spam", Done: true, SpamLevel: 12.5, Blacklisted: true}

			virus := testMessage("virus", ptag, "", []string{"bob@dest.example"})
			virus.Content, virus.QuarType, virus.QuarLoc = ContentVirus, QuarFile, "v/virus-"+virus.MailID
			virus.DSNSent = "N"
			virus.Recipients[0].Content, virus.Recipients[0].Destiny = ContentVirus, DestinyReject
			virus.Recipients[0].SMTPResponse = "554 5.7.0 Reject, id=4242-virus - INFECTED: Eicar-Signature"

			banned := testMessage("banned", ptag, "alice.smith@example.com", []string{"dave@dest.example", "eve@else.example"})
			banned.Content, banned.DSNSent = ContentBanned, "Y"
			banned.Recipients[0].Content, banned.Recipients[0].Destiny = ContentBanned, DestinyBounce
			banned.Recipients[0].SMTPResponse = "554 5.7.0 Reject, id=4242-banned - BANNED: x.exe"
			banned.Recipients[1].Content, banned.Recipients[1].Destiny, banned.Recipients[1].IsLocal = ContentBanned, DestinyPass, false
			banned.Recipients[1].SMTPResponse = "451 4.5.0 Temporary MTA failure"
			banned.Recipients[0].SpamLevel, banned.Recipients[1].SpamLevel = -3, 2

			batch := []*Message{clean, spam, virus, banned}
			for _, m := range batch {
				if err := s.SavePreliminary(ctx, m); err != nil {
					t.Fatalf("preliminary %s: %v", m.MailID, err)
				}
				if got := readMsg(t, s, ptag, m.MailID); got.content != "NULL" {
					t.Errorf("%s: content %q before final, want NULL", m.MailID, got.content)
				}
			}
			body := bytes.Repeat([]byte("spam spam spam\r\n"), 2000)
			if _, err := s.StoreQuarantine(ctx, ptag, spam.MailID, bytes.NewReader(body)); err != nil {
				t.Fatal(err)
			}
			for _, m := range batch {
				if err := s.SaveFinal(ctx, m); err != nil {
					t.Fatalf("final %s: %v", m.MailID, err)
				}
			}

			common := rowMsg{ptag: ptag, timeNum: rx.Unix(), timeISO: "20240605T101112Z", clientAddr: "192.0.2.7",
				size: 1234, host: "mx.mavis.test", dsnSent: "N", originating: "N"}
			want := map[string]rowMsg{}
			w := common
			w.mailID, w.secretID, w.amID = clean.MailID, clean.SecretID, clean.LogID
			w.sender, w.policy, w.originating, w.content = "alice.smith@example.com", "MYNETS", "Y", "C"
			w.spamLevel, w.messageID = 0.5, "<abc.123@example.com>"
			w.from, w.subject = "Élise <alice.smith@example.com>", "Re: café\tmeeting"
			want[clean.MailID] = w
			w = common
			w.mailID, w.secretID, w.amID = spam.MailID, spam.SecretID, spam.LogID
			w.sender, w.content, w.quarType, w.quarLoc = "spammer@bad.example", "S", "Q", spam.MailID+"[23]"
			w.spamLevel, w.messageID, w.subject = 12.5, "<spam@bad.example>", "Cheap é stuff"
			want[spam.MailID] = w
			w = common
			w.mailID, w.secretID, w.amID = virus.MailID, virus.SecretID, virus.LogID
			w.sender, w.content, w.quarType, w.quarLoc = "", "V", "F", "v/virus-"+virus.MailID
			want[virus.MailID] = w
			w = common
			w.mailID, w.secretID, w.amID = banned.MailID, banned.SecretID, banned.LogID
			w.sender, w.content, w.dsnSent, w.spamLevel = "alice.smith@example.com", "B", "Y", -3
			want[banned.MailID] = w
			for _, m := range batch {
				got := readMsg(t, s, ptag, m.MailID)
				if got != want[m.MailID] {
					t.Errorf("msgs %s:\n got %+v\nwant %+v", m.MailID, got, want[m.MailID])
				}
			}

			okResp := "250 2.0.0 from MTA(smtp:[127.0.0.1]:10025): 250 2.0.0 Ok: queued as 4Xyz"
			wantR := map[string][]rowRcpt{
				clean.MailID: {
					{1, "bob@dest.example", "Y", "C", "P", "", "N", "N", 1.25, okResp},
					{2, "carol@sub.dest.example", "N", "C", "P", "", "N", "Y", 0.5, okResp},
				},
				spam.MailID:  {{1, "bob@dest.example", "Y", "S", "D", "", "Y", "N", 12.5, "250 2.7.0 Ok, discarded, id=4242-spam - spam"}},
				virus.MailID: {{1, "bob@dest.example", "Y", "V", "R", "", "N", "N", 0, "554 5.7.0 Reject, id=4242-virus - INFECTED: Eicar-Signature"}},
				banned.MailID: {
					{1, "dave@dest.example", "Y", "B", "B", "", "N", "N", -3, "554 5.7.0 Reject, id=4242-banned - BANNED: x.exe"},
					{2, "eve@else.example", "N", "B", "T", "", "N", "N", 2, "451 4.5.0 Temporary MTA failure"},
				},
			}
			for _, m := range batch {
				got := readRcpts(t, s, ptag, m.MailID)
				if fmt.Sprint(got) != fmt.Sprint(wantR[m.MailID]) {
					t.Errorf("msgrcpt %s:\n got %+v\nwant %+v", m.MailID, got, wantR[m.MailID])
				}
			}

			// maddr: one row per distinct address, domain reversed
			sqldb, _, _ := s.DB(ctx)
			rows, err := sqldb.QueryContext(ctx, "SELECT partition_tag, email, domain FROM maddr")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for rows.Next() {
				var pt int64
				var email []byte
				var dom string
				if err := rows.Scan(&pt, &email, &dom); err != nil {
					t.Fatal(err)
				}
				got = append(got, fmt.Sprintf("%d|%s|%s", pt, email, dom))
			}
			rows.Close()
			sort.Strings(got)
			wantA := []string{"23||", "23|alice.smith@example.com|com.example", "23|bob@dest.example|example.dest",
				"23|carol@sub.dest.example|example.dest.sub", "23|dave@dest.example|example.dest",
				"23|eve@else.example|example.else", "23|spammer@bad.example|example.bad"}
			sort.Strings(wantA)
			if strings.Join(got, "\n") != strings.Join(wantA, "\n") {
				t.Errorf("maddr:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(wantA, "\n"))
			}
			if clean.SenderMaddrID != banned.SenderMaddrID || clean.Recipients[0].MaddrID != spam.Recipients[0].MaddrID {
				t.Errorf("maddr ids not reused: %d/%d %d/%d", clean.SenderMaddrID, banned.SenderMaddrID,
					clean.Recipients[0].MaddrID, spam.Recipients[0].MaddrID)
			}

			// quarantine: only the spam, in chunks, readable
			q, err := s.ReadQuarantine(ctx, ptag, spam.MailID)
			if err != nil || !bytes.Equal(q, body) {
				t.Errorf("quarantine read back: %d bytes, %v", len(q), err)
			}
			tags, err := s.PartitionTags(ctx, spam.MailID)
			if err != nil || len(tags) != 1 || tags[0] != ptag {
				t.Errorf("PartitionTags = %v, %v", tags, err)
			}
			if _, err := s.ReadQuarantine(ctx, ptag, virus.MailID); err == nil {
				t.Error("virus was not SQL-quarantined but reads back")
			}

			// a duplicate mail_id is reported so the caller picks another
			dup := testMessage("clean", ptag, "x@y.example", nil)
			if err := s.SavePreliminary(ctx, dup); err != ErrDuplicateMailID {
				t.Errorf("duplicate mail_id: %v, want ErrDuplicateMailID", err)
			}
			dup.PartitionTag = ptag + 1 // unique only within a partition, as amavis's PK
			if err := s.SavePreliminary(ctx, dup); err != nil {
				t.Errorf("same mail_id other partition: %v", err)
			}
		})
	}
}

// TestQuarantineChunks stores messages of the edge sizes and reads them back
// byte for byte, checking amavis's chunking.
func TestQuarantineChunks(t *testing.T) {
	sizes := []int{0, 1, 16383, 16384, 16385, 3*16384 + 7, 1 << 20}
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			s := db.open(t, nil)
			ctx := tctx(t)
			sqldb, _, _ := s.DB(ctx)
			for i, n := range sizes {
				body := make([]byte, n)
				r := rand.New(rand.NewPCG(uint64(n), 7))
				for j := range body {
					body[j] = byte(r.UintN(256))
				}
				if n > 0 {
					body[0] = 0 // NUL and high octets must survive
				}
				id := padID(fmt.Sprintf("q%d", i))
				stored, err := s.StoreQuarantine(ctx, 5, id, bytes.NewReader(body))
				if err != nil || stored != int64(n) {
					t.Fatalf("store %d: %d %v", n, stored, err)
				}
				got, err := s.ReadQuarantine(ctx, 5, id)
				if err != nil || !bytes.Equal(got, body) {
					t.Fatalf("size %d: read back %d bytes, %v", n, len(got), err)
				}
				rows, err := sqldb.QueryContext(ctx, rebind(d, "SELECT chunk_ind, mail_text FROM quarantine WHERE partition_tag=? AND mail_id=? ORDER BY chunk_ind"), 5, bin(d, id))
				if err != nil {
					t.Fatal(err)
				}
				var inds, lens []int
				for rows.Next() {
					var ind int
					var txt []byte
					if err := rows.Scan(&ind, &txt); err != nil {
						t.Fatal(err)
					}
					inds, lens = append(inds, ind), append(lens, len(txt))
				}
				rows.Close()
				var wantLens []int
				for rest := n; rest > 0; rest -= 16384 {
					wantLens = append(wantLens, min(rest, 16384))
				}
				if n == 0 {
					wantLens = []int{0}
				}
				for k := range inds {
					if inds[k] != k+1 {
						t.Errorf("size %d: chunk_ind %v", n, inds)
						break
					}
				}
				if fmt.Sprint(lens) != fmt.Sprint(wantLens) {
					t.Errorf("size %d: chunk sizes %v, want %v", n, lens, wantLens)
				}
			}
			if _, err := s.ReadQuarantine(ctx, 5, "nonexistent0"); err == nil || !strings.Contains(err.Error(), ErrNotFound.Error()) {
				t.Errorf("missing: %v", err)
			}
		})
	}
}

// failingReader fails after some bytes: nothing of the message may remain.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, fmt.Errorf("disk on fire")
	}
	k := min(len(p), f.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}

func TestQuarantineAtomic(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := newTestDB(t, d).open(t, nil)
			ctx := tctx(t)
			if _, err := s.StoreQuarantine(ctx, 0, "atomic000000", &failingReader{n: 40000}); err == nil {
				t.Fatal("no error from failing reader")
			}
			sqldb, _, _ := s.DB(ctx)
			var n int
			if err := sqldb.QueryRowContext(ctx, "SELECT COUNT(*) FROM quarantine").Scan(&n); err != nil || n != 0 {
				t.Errorf("rows after failed store: %d %v", n, err)
			}
		})
	}
}

// TestMaddrConcurrent: two Stores (two mavisd) insert the same addresses at
// once; every address gets one row and both see the same id.
func TestMaddrConcurrent(t *testing.T) {
	for _, d := range []string{DialectPg, DialectMySQL, DialectSQLite} {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			s1 := db.open(t, nil)
			s2 := db.open(t, nil)
			ctx := tctx(t)
			const addrs, workers = 40, 8
			ids := make([]map[string]int64, workers)
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					s := s1
					if w%2 == 1 {
						s = s2
					}
					ids[w] = map[string]int64{}
					for i := 0; i < addrs; i++ {
						a := fmt.Sprintf("user%d@race.example", (i+w*7)%addrs)
						id, _, err := s.FindOrSaveAddr(ctx, 1, a)
						if err != nil {
							errs <- err
							return
						}
						ids[w][a] = id
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			for w := 1; w < workers; w++ {
				for a, id := range ids[0] {
					if ids[w][a] != id {
						t.Errorf("%s: worker %d id %d, worker 0 id %d", a, w, ids[w][a], id)
					}
				}
			}
			sqldb, _, _ := s1.DB(ctx)
			var rowsN, distinct int
			if err := sqldb.QueryRowContext(ctx, "SELECT COUNT(*), COUNT(DISTINCT email) FROM maddr").Scan(&rowsN, &distinct); err != nil {
				t.Fatal(err)
			}
			if rowsN != addrs || distinct != addrs {
				t.Errorf("maddr rows %d distinct %d, want %d", rowsN, distinct, addrs)
			}
		})
	}
}

// Test8bitAddress: $sql_allow_8bit_address off sanitizes, on keeps octets.
func Test8bitAddress(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			ctx := tctx(t)
			for _, allow := range []bool{false, true} {
				s := db.open(t, func(o *Options) { o.Allow8bitAddress = allow })
				addr := "J\xc3\xb6rg\xff@B\xc3\xbccher.example"
				id, _, err := s.FindOrSaveAddr(ctx, 0, addr)
				if err != nil {
					t.Fatalf("allow=%v: %v", allow, err)
				}
				sqldb, _, _ := s.DB(ctx)
				var email []byte
				var dom string
				if err := sqldb.QueryRowContext(ctx, rebind(d, "SELECT email, domain FROM maddr WHERE id=?"), id).Scan(&email, &dom); err != nil {
					t.Fatal(err)
				}
				wantEmail := "j??rg?@xn--bcher-kva.example" // ö is two octets
				if allow {
					wantEmail = "j\xc3\xb6rg\xff@xn--bcher-kva.example"
				}
				if string(email) != wantEmail || dom != "example.xn--bcher-kva" {
					t.Errorf("allow=%v: email %q domain %q, want %q", allow, email, dom, wantEmail)
				}
				again, existed, err := s.FindOrSaveAddr(ctx, 0, addr)
				if err != nil || again != id || !existed {
					t.Errorf("allow=%v: second lookup %d existed=%v %v, want %d", allow, again, existed, err, id)
				}
			}
		})
	}
}

// TestConcurrentLogging: several goroutines on two Stores (two mavisd on one
// database) log messages at once; none is lost.
func TestConcurrentLogging(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			stores := []*Store{db.open(t, nil), db.open(t, nil)}
			ctx := tctx(t)
			const workers, per = 6, 8
			var wg sync.WaitGroup
			errs := make(chan error, workers)
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					s := stores[w%2]
					for i := 0; i < per; i++ {
						m := testMessage(fmt.Sprintf("c%02d%03d", w, i), 0, fmt.Sprintf("s%d@x.example", i%3),
							[]string{"shared@y.example", fmt.Sprintf("r%d@y.example", w)})
						if err := s.SavePreliminary(ctx, m); err != nil {
							errs <- err
							return
						}
						if _, err := s.StoreQuarantine(ctx, 0, m.MailID, strings.NewReader(strings.Repeat("z", 20000))); err != nil {
							errs <- err
							return
						}
						if err := s.SaveFinal(ctx, m); err != nil {
							errs <- err
							return
						}
					}
				}(w)
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			c := countRows(t, stores[0], "1=1")
			if c["msgs"] != workers*per || c["msgrcpt"] != 2*workers*per || c["quarantine"] != 2*workers*per || c["maddr"] != 3+1+workers {
				t.Errorf("rows %v", c)
			}
		})
	}
}
