package store

import (
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"testing"
	"time"
)

// logMsg runs preliminary + final for m.
func logMsg(t *testing.T, s *Store, m *Message) {
	t.Helper()
	ctx := tctx(t)
	if err := s.SavePreliminary(ctx, m); err != nil {
		t.Fatalf("preliminary %s: %v", m.MailID, err)
	}
	if err := s.SaveFinal(ctx, m); err != nil {
		t.Fatalf("final %s: %v", m.MailID, err)
	}
}

// TestPenPals: bob (local) writes to alice; alice's reply to bob gets the
// bonus, also when the reply is processed by another mavisd (Store) on the
// same database.
func TestPenPals(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			s1 := db.open(t, nil)
			s2 := db.open(t, nil)
			ctx := tctx(t)
			t0 := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

			out := testMessage("out1", 0, "bob@local.example", []string{"alice@remote.example"})
			out.RxTime, out.Originating, out.MessageID = t0, true, "<first@local.example>"
			out.Recipients[0].IsLocal = false
			out.Subject = "lunch?"
			logMsg(t, s1, out)
			// a virus and a rejected mail from carol to alice must not count
			v := testMessage("out2", 0, "carol@local.example", []string{"alice@remote.example"})
			v.RxTime, v.Content = t0, ContentVirus
			v.Recipients[0].Content = ContentVirus
			logMsg(t, s1, v)
			r := testMessage("out3", 0, "dave@local.example", []string{"alice@remote.example"})
			r.RxTime = t0
			r.Recipients[0].Destiny, r.Recipients[0].SMTPResponse = DestinyReject, "554 5.7.0 Reject"
			logMsg(t, s1, r)

			for i, s := range []*Store{s1, s2} {
				reply := testMessage(fmt.Sprintf("in%d", i), 0, "alice@remote.example",
					[]string{"bob@local.example", "carol@local.example", "dave@local.example"})
				reply.RxTime = t0.Add(7 * 24 * time.Hour)
				if err := s.SavePreliminary(ctx, reply); err != nil {
					t.Fatal(err)
				}
				q := PenPalsQuery{SenderMaddrID: reply.SenderMaddrID, RecipientMaddrID: reply.Recipients[0].MaddrID, RxTime: reply.RxTime}
				got, err := s.PenPalsFind(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Found || got.Age != 7*24*time.Hour || got.MailID != out.MailID || got.Subject != "lunch?" || got.Match != "Rid" {
					t.Errorf("store %d: bob: %+v", i+1, got)
				}
				adj := PenPalsAdjustment(got.Age, 10, 7*24*time.Hour)
				if math.Abs(adj-(-5)) > 1e-9 {
					t.Errorf("adjustment after one half-life = %v, want -5", adj)
				}
				q.References = []string{"<first@local.example>", "<other@x>"}
				got, err = s.PenPalsFind(ctx, q)
				if err != nil || !got.Found || got.Match != "MidRid" || got.MailID != out.MailID {
					t.Errorf("store %d: by reference: %+v %v", i+1, got, err)
				}
				for k, who := range []string{"carol (virus)", "dave (rejected)"} {
					q := PenPalsQuery{SenderMaddrID: reply.SenderMaddrID, RecipientMaddrID: reply.Recipients[k+1].MaddrID, RxTime: reply.RxTime}
					got, err := s.PenPalsFind(ctx, q)
					if err != nil || got.Found {
						t.Errorf("store %d: %s: %+v %v", i+1, who, got, err)
					}
				}
			}
			c := s2.Counters.Snapshot()
			if c["PenPalsHits"] != 2 || c["PenPalsHitsMidRid"] != 1 || c["PenPalsMisses"] != 2 || c["PenPalsAttempts"] != 4 {
				t.Errorf("counters %v", c)
			}
		})
	}
}

// proxy is a TCP forwarder we can cut and restore, to take a database away
// without stopping the server.
type proxy struct {
	addr, to string
	mu       sync.Mutex
	ln       net.Listener
	conns    []net.Conn
}

func startProxy(t *testing.T, to string) *proxy {
	p := &proxy{to: to}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.down)
	return p
}

func (p *proxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u, err := net.Dial("tcp", p.to)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, u)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(u, c); u.Close() }()
			go func() { _, _ = io.Copy(c, u); c.Close() }()
		}
	}()
}

func (p *proxy) down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) up(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy relisten: %v", err)
	}
	p.serve(ln)
}

// blackHole accepts connections and never says anything.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	return ln.Addr().String()
}

// TestDatabaseDown: a database that does not answer gives an error within
// the caller's deadline (the caller tempfails); the Store reconnects when
// the database is back; a second DSN is used when the first is down.
func TestDatabaseDown(t *testing.T) {
	servers := map[string]string{DialectMySQL: "127.0.0.1:3306", DialectPg: "127.0.0.1:5432"}
	for _, d := range []string{DialectMySQL, DialectPg} {
		t.Run(d, func(t *testing.T) {
			db := newTestDB(t, d)
			withPort := func(hostport string) DSN {
				h, port, _ := net.SplitHostPort(hostport)
				x := db.dsn
				if d == DialectMySQL {
					x.DSN = "DBI:mysql:database=" + dbName(db.dsn.DSN) + ";host=" + h + ";port=" + port
				} else {
					x.DSN = "DBI:Pg:dbname=" + dbName(db.dsn.DSN) + ";host=" + h + ";port=" + port
				}
				return x
			}
			// a closed port (refused at once) and a server that accepts but never
			// answers (hangs until the deadline)
			hole := blackHole(t)
			for _, dead := range []string{"127.0.0.1:1", hole} {
				s, err := Open(tctx(t), Options{DSNs: []DSN{withPort(dead)}, ConnectTimeout: 10 * time.Second})
				if err != nil {
					t.Fatal(err)
				}
				deadline := 1500 * time.Millisecond
				ctx, cancel := contextWithTimeout(deadline)
				start := time.Now()
				err = s.SavePreliminary(ctx, testMessage("down", 0, "a@b.example", []string{"c@d.example"}))
				el := time.Since(start)
				cancel()
				if err == nil {
					t.Errorf("%s: no error", dead)
				}
				if el > deadline+time.Second {
					t.Errorf("%s: error after %v, deadline %v", dead, el, deadline)
				}
				t.Logf("%s: %v after %v", dead, err, el.Round(time.Millisecond))
				s.Close()
			}

			// failover: the first DSN is dead, the second answers
			s := db.open(t, func(o *Options) { o.DSNs = []DSN{withPort("127.0.0.1:1"), db.dsn} })
			logMsg(t, s, testMessage("failover", 0, "a@b.example", []string{"c@d.example"}))
			if disp, _ := s.Current(); disp == "" || !contains(disp, servers[d]) && !contains(disp, "5432") {
				t.Errorf("current %q", disp)
			}

			// reconnect: cut the database away, then bring it back
			p := startProxy(t, servers[d])
			s = db.open(t, func(o *Options) { o.DSNs = []DSN{withPort(p.addr)} })
			logMsg(t, s, testMessage("before", 0, "a@b.example", []string{"c@d.example"}))
			p.down()
			ctx, cancel := contextWithTimeout(3 * time.Second)
			err := s.SavePreliminary(ctx, testMessage("during", 0, "a@b.example", []string{"c@d.example"}))
			cancel()
			if err == nil {
				t.Fatal("no error while the database is away")
			}
			ctx, cancel = contextWithTimeout(3 * time.Second)
			_, err = s.StoreQuarantine(ctx, 0, "during00000q", stringsReader("x"))
			cancel()
			if err == nil {
				t.Fatal("quarantine: no error while the database is away")
			}
			p.up(t)
			logMsg(t, s, testMessage("after", 0, "a@b.example", []string{"c@d.example"}))
			if got := readMsg(t, s, 0, padID("after")); got.content != "C" {
				t.Errorf("after reconnect: %+v", got)
			}
		})
	}
}
