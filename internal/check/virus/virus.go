package virus

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"
)

// Request is one message to scan. Scanners read it, never change it.
type Request struct {
	// LogID is amavis's log id, for log lines.
	LogID string
	// Message is the raw message (as received, header and body) of Size
	// bytes, e.g. mail.Spool.Reader(). Streaming scanners send it to clamd,
	// whose own MIME and archive decoders then see everything in it.
	Message io.ReaderAt
	Size    int64
	// Parts are the decoded part files on disk (internal/decode's leaves,
	// and archives it could not or did not unpack). Streaming scanners send
	// each; command-line scanners get them for "*" and "{}/*".
	Parts []string
	// Dir is the private directory holding Parts: "{}" for command-line
	// scanners and the path clamd scans in CONTSCAN/MULTISCAN mode.
	Dir string
}

// ScannerResult is one scanner's answer.
type ScannerResult struct {
	// Name is the scanner's name (the @av_scanners entry's first field).
	Name string
	// Backup is true for scanners from av_scanners_backup.
	Backup bool
	// Infected: the scanner found a virus. Viruses then holds the names it
	// reported (unique, in order; at least one, "" when it gave none).
	Infected bool
	Viruses  []string
	// Err is set when the scanner failed: no answer, an error answer, an
	// unexpected exit status. A failed scanner never counts as clean.
	Err error
	// Inconclusive: the scanner ran and found nothing but does not vouch for
	// the message (an entry with no "clean" test, amavis's undef).
	Inconclusive bool
	// Skipped: not run, or stopped, because another scanner found a virus
	// first and FirstInfectedStopsScan is set.
	Skipped bool
	// Truncated names objects that were scanned only in part (longer than
	// the clamd client's stream_max_length).
	Truncated []string
	// SpamTests: the scanner's hit was turned into spam score because every
	// reported name has a score in virus_name_to_spam_score_maps
	// ("AV:<name>=<score>"); Infected is then false.
	SpamTests []string
	SpamScore float64
	// Elapsed is the scanner's wall time.
	Elapsed time.Duration
	// Output is the scanner's text (amavis's %v), with the private directory
	// removed from paths; at most MaxOutput bytes.
	Output string
}

// Definite reports whether the scanner gave a verdict the message can rest
// on: it ran to the end and either found a virus or vouched for the message.
func (r ScannerResult) Definite() bool {
	return r.Err == nil && !r.Inconclusive && !r.Skipped
}

// Verdict is a one-word summary for logs and `mavis check`.
func (r ScannerResult) Verdict() string {
	switch {
	case r.Skipped:
		return "skipped"
	case r.Err != nil:
		return "FAILED"
	case r.Infected:
		return "INFECTED"
	case len(r.SpamTests) > 0:
		return "spam"
	case r.Inconclusive:
		return "inconclusive"
	default:
		return "clean"
	}
}

// Result is the outcome of Run over all scanners.
type Result struct {
	// Infected: at least one scanner found a virus. Viruses are the names
	// from the first detecting scanner in configuration order (amavis's %V),
	// DetectedBy all detecting scanners' names.
	Infected   bool
	Viruses    []string
	DetectedBy []string
	// Output is the first detecting scanner's output, or the first definite
	// one's (amavis's %v).
	Output string
	// Scanners holds every configured scanner's result: primaries, then the
	// backups if they ran, each list in configuration order.
	Scanners []ScannerResult
	// UsedBackup: no primary scanner gave a definite result, so the backups
	// ran ("WARN: all primary virus scanners failed, considering backups").
	UsedBackup bool
	// AllFailed: no scanner gave a definite result — amavis's "ALL VIRUS
	// SCANNERS FAILED". NoScanners: none is configured ("NO VIRUS SCANNERS
	// AVAILABLE"). Either way Err is non-nil and the message is NOT known to
	// be clean: the caller tempfails (virus_scanners_failure_is_fatal) or
	// marks it CC_UNCHECKED, never CLEAN.
	AllFailed  bool
	NoScanners bool
	// Truncated: some scanner saw an object only in part (stream limit).
	Truncated bool
	// SpamTests and SpamScore: hits turned into spam score
	// (virus_name_to_spam_score_maps); SpamScore is the largest.
	SpamTests []string
	SpamScore float64
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
}

// Errors of Result.Err, with amavis's texts ("virus_scan FAILED: AV: ALL
// VIRUS SCANNERS FAILED" is what amavis's 451 reply carries).
var (
	ErrAllFailed  = errors.New("AV: ALL VIRUS SCANNERS FAILED")
	ErrNoScanners = errors.New("AV: NO VIRUS SCANNERS AVAILABLE")
)

// Err is nil when the scan can be relied on (clean or infected), else
// ErrAllFailed or ErrNoScanners.
func (r *Result) Err() error {
	switch {
	case r.NoScanners:
		return ErrNoScanners
	case r.AllFailed:
		return ErrAllFailed
	}
	return nil
}

// Scanner is one virus scanner (an @av_scanners entry). Scan must honour
// ctx, never return Infected=false with a nil Err unless it vouches for the
// message, and fill Name, Elapsed is set by Run.
type Scanner interface {
	Name() string
	Scan(ctx context.Context, req *Request) ScannerResult
}

// Options are the run-wide settings (amavis names in comments).
type Options struct {
	// FirstInfectedStopsScan ($first_infected_stops_scan): once a scanner
	// reports a virus the others are not started (sequential) or cancelled
	// (concurrent).
	FirstInfectedStopsScan bool
	// Sequential runs the scanners of a tier one after the other, as amavis
	// does. By default they run concurrently: the results are the same, the
	// wall time is the slowest scanner's instead of the sum.
	Sequential bool
	// ScannerTimeout bounds each scanner (0: only ctx's deadline).
	ScannerTimeout time.Duration
	// SpamScore looks a virus name up in virus_name_to_spam_score_maps:
	// ok=true with a score when the name is really spam (e.g.
	// "Sanesecurity.Junk.*"). nil: no mapping.
	SpamScore func(virusName string) (score float64, ok bool)
	// Logger receives amavis-style lines; nil: slog.Default().
	Logger *slog.Logger
}

// MaxOutput bounds a scanner's Output.
const MaxOutput = 10000

// Run scans req with the primary scanners and, only if none of them gave a
// definite result, with all backup scanners (amavis's @av_scanners and
// @av_scanners_backup semantics).
func Run(ctx context.Context, primary, backup []Scanner, req *Request, opts Options) *Result {
	start := time.Now()
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if req.LogID != "" {
		log = log.With("log_id", req.LogID)
	}
	res := &Result{}
	if len(primary)+len(backup) == 0 {
		res.NoScanners = true
		res.Elapsed = time.Since(start)
		log.Error("(!!)AV: NO VIRUS SCANNERS AVAILABLE")
		return res
	}
	prim := runTier(ctx, primary, false, req, opts, log)
	res.Scanners = append(res.Scanners, prim...)
	if !anyDefinite(prim) && len(backup) > 0 {
		log.Warn("(!)WARN: all primary virus scanners failed, considering backups")
		res.UsedBackup = true
		res.Scanners = append(res.Scanners, runTier(ctx, backup, true, req, opts, log)...)
	}
	res.AllFailed = !anyDefinite(res.Scanners)

	for _, sr := range res.Scanners {
		res.Truncated = res.Truncated || len(sr.Truncated) > 0
		res.SpamTests = append(res.SpamTests, sr.SpamTests...)
		res.SpamScore = max(res.SpamScore, sr.SpamScore)
		if sr.Infected {
			res.DetectedBy = append(res.DetectedBy, sr.Name)
			if !res.Infected {
				res.Infected, res.Viruses, res.Output = true, sr.Viruses, sr.Output
			}
		}
	}
	if !res.Infected {
		for _, sr := range res.Scanners {
			if sr.Definite() {
				res.Output = sr.Output
				break
			}
		}
	}
	res.Elapsed = time.Since(start)
	switch {
	case res.Infected:
		ds := make([]string, len(res.DetectedBy))
		for i, d := range res.DetectedBy {
			ds[i] = strings.ReplaceAll(d, ",", ";") // as amavis, for parsing
		}
		log.Info(fmt.Sprintf("virus_scan: (%s), detected by %d scanners: %s",
			strings.Join(res.Viruses, ", "), len(ds), strings.Join(ds, ", ")))
	case res.AllFailed:
		log.Error("(!!)AV: ALL VIRUS SCANNERS FAILED")
	}
	if res.Truncated {
		log.Warn("virus_scan: some content was scanned only in part (longer than the scanner's stream limit)")
	}
	return res
}

func anyDefinite(rs []ScannerResult) bool {
	return slices.ContainsFunc(rs, ScannerResult.Definite)
}

// runTier runs one list of scanners and returns their results in order.
func runTier(ctx context.Context, scanners []Scanner, backup bool, req *Request, opts Options, log *slog.Logger) []ScannerResult {
	out := make([]ScannerResult, len(scanners))
	one := func(ctx context.Context, i int) {
		s := scanners[i]
		sctx, cancel := ctx, context.CancelFunc(func() {})
		if opts.ScannerTimeout > 0 {
			sctx, cancel = context.WithTimeout(ctx, opts.ScannerTimeout)
		}
		t0 := time.Now()
		r := s.Scan(sctx, req)
		cancel()
		r.Elapsed = time.Since(t0)
		r.Name, r.Backup = s.Name(), backup
		out[i] = finish(r, opts)
	}
	if opts.Sequential || len(scanners) == 1 {
		stopped := false
		for i := range scanners {
			if stopped {
				out[i] = ScannerResult{Name: scanners[i].Name(), Backup: backup, Skipped: true}
				continue
			}
			one(ctx, i)
			stopped = opts.FirstInfectedStopsScan && out[i].Infected
		}
	} else {
		// concurrently; with FirstInfectedStopsScan the first hit cancels
		// the others, which are then reported as skipped
		cctx, cancelAll := context.WithCancel(ctx)
		var wg sync.WaitGroup
		var mu sync.Mutex
		hit := -1
		for i := range scanners {
			wg.Add(1)
			go func() {
				defer wg.Done()
				one(cctx, i)
				if opts.FirstInfectedStopsScan && out[i].Infected {
					mu.Lock()
					if hit < 0 {
						hit = i
						cancelAll()
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		cancelAll()
		if hit >= 0 {
			for i := range out {
				if i != hit && !out[i].Infected && ctx.Err() == nil && errors.Is(out[i].Err, context.Canceled) {
					out[i] = ScannerResult{Name: out[i].Name, Backup: backup, Skipped: true, Elapsed: out[i].Elapsed}
				}
			}
		}
	}
	for _, r := range out {
		switch {
		case r.Skipped:
		case r.Err != nil:
			log.Warn(fmt.Sprintf("(!)%s av-scanner FAILED: %v", r.Name, r.Err), "elapsed_ms", r.Elapsed.Milliseconds())
		case r.Infected:
			log.Info(fmt.Sprintf("run_av (%s): INFECTED: %s", r.Name, strings.Join(r.Viruses, ", ")), "elapsed_ms", r.Elapsed.Milliseconds())
		case len(r.SpamTests) > 0:
			log.Info(fmt.Sprintf("Turning AV infection into a spam report: score=%g, %s", r.SpamScore, strings.Join(r.SpamTests, ",")), "scanner", r.Name)
		default:
			log.Debug(fmt.Sprintf("run_av (%s): %s", r.Name, r.Verdict()), "elapsed_ms", r.Elapsed.Milliseconds())
		}
	}
	return out
}

// finish normalises a scanner's result: unique names, at least one name
// when infected, output bounded, spam-mapped names turned into score.
func finish(r ScannerResult, opts Options) ScannerResult {
	if len(r.Output) > MaxOutput {
		r.Output = r.Output[:MaxOutput]
	}
	if r.Err != nil || !r.Infected {
		r.Infected, r.Viruses = false, nil
		return r
	}
	names := uniq(r.Viruses)
	if len(names) == 0 {
		names = []string{""}
	}
	r.Viruses = names
	if opts.SpamScore != nil {
		var tests []string
		best := 0.0
		all := true
		for _, v := range names {
			sc, ok := opts.SpamScore(v)
			if !ok {
				all = false
				break
			}
			tests = append(tests, fmt.Sprintf("AV:%s=%g", v, sc))
			best = max(best, sc)
		}
		if all {
			r.Infected, r.Viruses, r.SpamTests, r.SpamScore = false, nil, tests, best
		}
	}
	return r
}

// uniq returns names without repeats, in order.
func uniq(names []string) []string {
	var out []string
	for _, v := range names {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
