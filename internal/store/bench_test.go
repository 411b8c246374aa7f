package store

import (
	"bytes"
	"context"
	"fmt"
	"sync/atomic"
	"testing"
)

// BenchmarkLogMessage: save_info_preliminary + save_info_final for one
// message with two recipients (addresses already known after the first
// iteration, as for most real mail).
func BenchmarkLogMessage(b *testing.B) {
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) {
			s := newTestDB(b, d).open(b, nil)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				m := testMessage(fmt.Sprintf("b%011d", i), 0, "sender@bench.example", []string{"r1@bench.example", "r2@bench.example"})
				if err := s.SavePreliminary(ctx, m); err != nil {
					b.Fatal(err)
				}
				if err := s.SaveFinal(ctx, m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkQuarantine64K: a 64 KiB message into SQL quarantine (4 chunks).
func BenchmarkQuarantine64K(b *testing.B) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 4096)
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) {
			s := newTestDB(b, d).open(b, nil)
			ctx := context.Background()
			b.SetBytes(int64(len(body)))
			i := 0
			for b.Loop() {
				i++
				if _, err := s.StoreQuarantine(ctx, 0, fmt.Sprintf("q%011d", i), bytes.NewReader(body)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLogMessageParallel is BenchmarkLogMessage from 4×GOMAXPROCS goroutines
// at once (mavisd's sessions), to show lock contention: on SQLite every writer
// waits for the database's single write lock.
func BenchmarkLogMessageParallel(b *testing.B) {
	for _, d := range dialects {
		b.Run(d, func(b *testing.B) {
			s := newTestDB(b, d).open(b, nil)
			ctx := context.Background()
			b.ReportAllocs()
			b.SetParallelism(4) // 4×GOMAXPROCS goroutines
			var n atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					m := testMessage(fmt.Sprintf("p%011d", i), 0, "sender@bench.example", []string{"r1@bench.example", "r2@bench.example"})
					if err := s.SavePreliminary(ctx, m); err != nil {
						b.Error(err)
						return
					}
					if err := s.SaveFinal(ctx, m); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
