package store

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func countRows(t *testing.T, s *Store, where string) map[string]int {
	t.Helper()
	ctx := tctx(t)
	db, _, err := s.DB(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, tbl := range []string{"msgs", "msgrcpt", "quarantine", "maddr"} {
		var n int
		if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM "+tbl+" WHERE "+where).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[tbl] = n
	}
	return out
}

func TestRetention(t *testing.T) {
	for _, d := range dialects {
		t.Run(d, func(t *testing.T) {
			s := newTestDB(t, d).open(t, nil)
			ctx := tctx(t)
			now := time.Date(2024, 6, 30, 0, 0, 0, 0, time.UTC)
			// weekly partitions 10, 11, 12: two messages each, one quarantined;
			// three addresses per partition
			for _, pt := range []int64{10, 11, 12} {
				for i := 0; i < 2; i++ {
					m := testMessage(fmt.Sprintf("p%d_%d", pt, i), pt, "s@a.example", []string{"r1@b.example", fmt.Sprintf("r%d@c.example", pt)})
					m.RxTime = now.Add(-time.Hour)
					logMsg(t, s, m)
					if i == 0 {
						if _, err := s.StoreQuarantine(ctx, pt, m.MailID, strings.NewReader(strings.Repeat("x", 20000))); err != nil {
							t.Fatal(err)
						}
					}
				}
			}
			res, err := s.Purge(ctx, Purge{Partitions: []int64{10}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Msgs != 2 || res.Msgrcpt != 4 || res.Quarantine != 2 || res.Maddr != 3 {
				t.Errorf("purge partition 10: %+v", res)
			}
			if c := countRows(t, s, "partition_tag=10"); c["msgs"]+c["msgrcpt"]+c["quarantine"]+c["maddr"] != 0 {
				t.Errorf("partition 10 left: %v", c)
			}
			for _, pt := range []string{"11", "12"} {
				c := countRows(t, s, "partition_tag="+pt)
				if c["msgs"] != 2 || c["msgrcpt"] != 4 || c["quarantine"] != 2 || c["maddr"] != 3 {
					t.Errorf("partition %s after purge: %v", pt, c)
				}
			}
			res, err = s.Purge(ctx, Purge{PartitionsBelow: 12})
			if err != nil || res.Msgs != 2 {
				t.Errorf("below 12: %+v %v", res, err)
			}
			if c := countRows(t, s, "partition_tag=12"); c["msgs"] != 2 {
				t.Errorf("partition 12 after purge below 12: %v", c)
			}

			// by age, partition 0: old, new, and an old unfinished message
			old := testMessage("old", 0, "old@x.example", []string{"keep@y.example", "gone@z.example"})
			old.RxTime = now.Add(-30 * 24 * time.Hour)
			logMsg(t, s, old)
			if _, err := s.StoreQuarantine(ctx, 0, old.MailID, strings.NewReader("old mail")); err != nil {
				t.Fatal(err)
			}
			fresh := testMessage("fresh", 0, "new@x.example", []string{"keep@y.example"})
			fresh.RxTime = now.Add(-time.Hour)
			logMsg(t, s, fresh)
			stuck := testMessage("stuck", 0, "stuck@x.example", []string{"keep@y.example"})
			stuck.RxTime = now.Add(-2 * time.Hour)
			if err := s.SavePreliminary(ctx, stuck); err != nil {
				t.Fatal(err)
			}
			inflight := testMessage("inflight", 0, "fly@x.example", []string{"late@y.example"})
			inflight.RxTime = now
			res, err = s.Purge(ctx, Purge{Before: now.Add(-21 * 24 * time.Hour), IncompleteBefore: now.Add(-time.Hour)})
			if err != nil {
				t.Fatal(err)
			}
			if res.Msgs != 2 || res.Msgrcpt != 2 || res.Quarantine != 1 || res.Maddr != 0 {
				t.Errorf("purge by age (its maddr rows are newer than the watermark): %+v", res)
			}
			// a message in flight: its maddr rows exist, msgrcpt not yet
			if err := s.SavePreliminary(ctx, inflight); err != nil {
				t.Fatal(err)
			}
			res, err = s.Purge(ctx, Purge{})
			if err != nil {
				t.Fatal(err)
			}
			// old@, gone@, stuck@ are unreferenced and older than the watermark;
			// fly@ and late@ are newer and kept
			if res.Maddr != 3 {
				t.Errorf("maddr orphans: %+v", res)
			}
			c := countRows(t, s, "partition_tag=0")
			if c["msgs"] != 2 || c["msgrcpt"] != 1 || c["quarantine"] != 0 || c["maddr"] != 4 {
				t.Errorf("partition 0 after purge: %v", c)
			}
			if err := s.SaveFinal(ctx, inflight); err != nil {
				t.Fatal(err)
			}
			if got := readRcpts(t, s, 0, inflight.MailID); len(got) != 1 || got[0].rcpt != "late@y.example" {
				t.Errorf("in-flight message lost its recipient: %+v", got)
			}
		})
	}
}

func TestOldWeekPartitions(t *testing.T) {
	now := time.Date(2024, 1, 10, 12, 0, 0, 0, time.UTC) // ISO week 2 of 2024
	got := OldWeekPartitions(now, 3)                     // keep weeks 2, 1, 52 (of 2023)
	if len(got) != 50 {
		t.Fatalf("got %d weeks: %v", len(got), got)
	}
	for _, w := range got {
		if w == 2 || w == 1 || w == 52 {
			t.Errorf("kept week %d is purged", w)
		}
	}
	if OldWeekPartitions(now, 60) != nil {
		t.Error("keeping 60 weeks purges something")
	}
}
