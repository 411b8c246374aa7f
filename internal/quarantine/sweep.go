package quarantine

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"time"
)

// SweepStats counts what a sweep did.
type SweepStats struct {
	Scanned int   // regular files looked at
	Removed int   // files removed
	Bytes   int64 // their total size
	Errors  int   // files that could not be removed
}

// Sweep removes the regular files under dir (QUARANTINEDIR and its
// subdirectories) last modified more than maxAge before now. It replaces
// the Debian guides' cron job "find ~amavis/virusmails -ctime +5 -exec rm".
// Directories are kept. maxAge <= 0 removes nothing. The first removal
// error is returned after the walk finished; a cancelled context stops the
// walk.
func Sweep(ctx context.Context, dir string, maxAge time.Duration, now time.Time) (SweepStats, error) {
	var st SweepStats
	if maxAge <= 0 {
		return st, nil
	}
	cutoff := now.Add(-maxAge)
	var first error
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if err != nil {
			if path == dir {
				return err
			}
			if first == nil {
				first = err
			}
			st.Errors++
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		st.Scanned++
		info, err := d.Info()
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				st.Errors++
				if first == nil {
					first = err
				}
			}
			return nil
		}
		if !info.ModTime().Before(cutoff) {
			return nil
		}
		if err := os.Remove(path); err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				st.Errors++
				if first == nil {
					first = err
				}
			}
			return nil
		}
		st.Removed++
		st.Bytes += info.Size()
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("quarantine sweep %s: %w", dir, err)
	}
	if first != nil {
		return st, fmt.Errorf("quarantine sweep %s: %w", dir, first)
	}
	return st, nil
}

// Sweeper removes old quarantine files periodically.
type Sweeper struct {
	Dir    string        // QUARANTINEDIR
	MaxAge time.Duration // files older than this go; <= 0 disables
	Log    *slog.Logger  // nil = discard
	// Now is the clock (time.Now when nil); tests set it.
	Now func() time.Time
}

// RunSweeper sweeps once at start and then every interval until ctx is
// done. It returns ctx's error. A sweep error is logged, not fatal.
func (s *Sweeper) RunSweeper(ctx context.Context, interval time.Duration) error {
	log := s.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	now := s.Now
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = time.Hour
	}
	sweep := func() {
		if s.MaxAge <= 0 || s.Dir == "" {
			return
		}
		st, err := Sweep(ctx, s.Dir, s.MaxAge, now())
		if err != nil && ctx.Err() == nil {
			log.Warn("quarantine sweep failed", "dir", s.Dir, "removed", st.Removed, "errors", st.Errors, "err", err)
			return
		}
		if st.Removed > 0 {
			log.Info("quarantine sweep", "dir", s.Dir, "removed", st.Removed, "bytes", st.Bytes, "max_age", s.MaxAge)
		}
	}
	sweep()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			sweep()
		}
	}
}
