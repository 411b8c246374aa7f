// Command cmpbench is the driver of the side-by-side benchmark of mavisd and the real amavisd-new
// (bench/amavis/run.sh starts the daemons; this program only generates load and measures).
//
// Load comes from Postfix's smtp-source (one SMTP session per message, as the reference rig in
// ../shared/reference measured amavisd-new), so that the load generator is the same program for every
// path and for the earlier reference figures. smtp-source reports only a total, so the latency given
// is the mean per message derived from it (Little's law: concurrency × wall time / messages); at
// concurrency 1 that is the exact mean. The spamd ceiling is measured with spamc, one process per
// message, the message cut to sa_mail_body_size_limit as amavis's SpamdClient cuts it.
//
// While a run is under way the resident memory (RSS) of each named process tree (a daemon and all its
// descendants, e.g. amavisd's parent and children) is sampled from /proc every 200 ms; the peak is kept.
//
//	cmpbench run -phase av -out results.jsonl -size 2k=FILE:300 -size 1m=FILE:60 -conc 1,4,16 \
//	    -target direct=smtp:127.0.0.1:33025 -target amavis-av=smtp:127.0.0.1:31024 \
//	    -mem amavisd=/path/amavisd.pid -mem mavisd=/path/mavisd.pid
//	cmpbench report results.jsonl > results.md
//
// Targets: smtp:HOST:PORT (smtp-source to an SMTP server) or spamc:HOST:PORT[:LIMIT] (spamc -c to spamd,
// the message cut to LIMIT bytes, default 204800).
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is one measured point, one JSON line in the results file.
type Result struct {
	Phase     string           `json:"phase"`
	Target    string           `json:"target"`
	Addr      string           `json:"addr"`
	Size      string           `json:"size"`
	File      string           `json:"file"`
	Bytes     int64            `json:"bytes"`
	N         int              `json:"n"`
	C         int              `json:"c"`
	OK        bool             `json:"ok"`
	Err       string           `json:"err,omitempty"`
	Elapsed   float64          `json:"elapsed_s"`
	Rate      float64          `json:"msgs_per_s"`
	MeanLatMS float64          `json:"mean_latency_ms"`
	PeakRSSKB map[string]int64 `json:"peak_rss_kb"`
	Load1     string           `json:"load1"`
	Time      string           `json:"time"`
}

type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, " ") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: cmpbench run|report ...")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "run":
		err = run(context.Background(), os.Args[2:])
	case "report":
		err = report(os.Args[2:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "cmpbench:", err)
		os.Exit(1)
	}
}

type size struct {
	label, file string
	n           int
}

type target struct{ label, kind, addr string }

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	phase := fs.String("phase", "", "phase label")
	out := fs.String("out", "", "results file (JSON lines, appended)")
	concs := fs.String("conc", "1,4,16", "concurrencies")
	timeout := fs.Duration("timeout", 300*time.Second, "hard limit per run")
	warm := fs.Int("warmup", 10, "messages sent to each target before measuring (not measured)")
	var sizes, targets, mems listFlag
	fs.Var(&sizes, "size", "LABEL=FILE:N (repeatable)")
	fs.Var(&targets, "target", "LABEL=smtp:HOST:PORT or LABEL=spamc:HOST:PORT[:LIMIT] (repeatable)")
	fs.Var(&mems, "mem", "NAME=PIDFILE, process tree whose peak RSS is sampled (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || len(sizes) == 0 || len(targets) == 0 {
		return errors.New("run: need -out, -size and -target")
	}
	var ss []size
	for _, s := range sizes {
		label, rest, ok1 := strings.Cut(s, "=")
		file, n, ok2 := strings.Cut(rest, ":")
		cnt, err := strconv.Atoi(n)
		if !ok1 || !ok2 || err != nil || cnt <= 0 {
			return fmt.Errorf("bad -size %q", s)
		}
		ss = append(ss, size{label, file, cnt})
	}
	var ts []target
	for _, t := range targets {
		label, spec, ok := strings.Cut(t, "=")
		kind, addr, ok2 := strings.Cut(spec, ":")
		if !ok || !ok2 || (kind != "smtp" && kind != "spamc") {
			return fmt.Errorf("bad -target %q", t)
		}
		ts = append(ts, target{label, kind, addr})
	}
	var cs []int
	for _, c := range strings.Split(*concs, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(c))
		if err != nil || n <= 0 {
			return fmt.Errorf("bad -conc %q", *concs)
		}
		cs = append(cs, n)
	}
	memPids := map[string]string{}
	for _, m := range mems {
		name, pf, ok := strings.Cut(m, "=")
		if !ok {
			return fmt.Errorf("bad -mem %q", m)
		}
		memPids[name] = pf
	}
	f, err := os.OpenFile(*out, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	enc := json.NewEncoder(f)

	for _, t := range ts { // warm up every path (children, caches, connections)
		if *warm > 0 {
			if _, err := once(ctx, t, ss[0], *warm, 2, *timeout); err != nil {
				return fmt.Errorf("warm-up %s: %w", t.label, err)
			}
		}
	}
	for _, s := range ss {
		st, err := os.Stat(s.file)
		if err != nil {
			return fmt.Errorf("corpus: %w", err)
		}
		for _, c := range cs {
			for _, t := range ts { // interleaved: every path sees the same machine state
				smp := startSampler(memPids, 200*time.Millisecond)
				el, runErr := once(ctx, t, s, s.n, c, *timeout)
				peaks := smp.stop()
				r := Result{Phase: *phase, Target: t.label, Addr: t.kind + ":" + t.addr, Size: s.label,
					File: filepath.Base(s.file), Bytes: st.Size(), N: s.n, C: c, OK: runErr == nil,
					Elapsed: el.Seconds(), PeakRSSKB: peaks, Load1: load1(), Time: time.Now().UTC().Format(time.RFC3339)}
				if runErr != nil {
					r.Err = runErr.Error()
				} else {
					r.Rate = float64(s.n) / el.Seconds()
					r.MeanLatMS = float64(c) * el.Seconds() * 1000 / float64(s.n)
				}
				if err := enc.Encode(r); err != nil {
					return fmt.Errorf("write result: %w", err)
				}
				fmt.Printf("%-8s %-14s %-3s c=%-3d n=%-4d %8.2f msgs/s  mean %8.1f ms  %s %s\n",
					*phase, t.label, s.label, c, s.n, r.Rate, r.MeanLatMS, fmtPeaks(peaks), r.Err)
				time.Sleep(500 * time.Millisecond)
			}
		}
	}
	return nil
}

// once sends n messages at concurrency c to t and returns the wall time.
func once(ctx context.Context, t target, s size, n, c int, timeout time.Duration) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.kind == "spamc" {
		return spamcRun(ctx, t.addr, s.file, n, c)
	}
	// -s sessions in parallel, -m messages, -F file; one session per message (no -d)
	cmd := exec.CommandContext(ctx, "/usr/sbin/smtp-source", "-s", strconv.Itoa(c), "-m", strconv.Itoa(n),
		"-F", s.file, "-f", "sender@example.net", "-t", "user@rig.test", "-M", "client.rig.test", t.addr)
	cmd.WaitDelay = 5 * time.Second
	t0 := time.Now()
	outb, err := cmd.CombinedOutput()
	el := time.Since(t0)
	if err != nil {
		return el, fmt.Errorf("smtp-source %s: %w: %s", t.addr, err, lastLine(outb))
	}
	if len(strings.TrimSpace(string(outb))) > 0 { // smtp-source is silent unless something went wrong
		return el, fmt.Errorf("smtp-source %s: %s", t.addr, lastLine(outb))
	}
	return el, nil
}

func spamcRun(ctx context.Context, addr, file string, n, c int) (time.Duration, error) {
	parts := strings.Split(addr, ":")
	if len(parts) < 2 {
		return 0, fmt.Errorf("spamc target %q: want HOST:PORT[:LIMIT]", addr)
	}
	limit := 204800
	if len(parts) > 2 {
		v, err := strconv.Atoi(parts[2])
		if err != nil {
			return 0, fmt.Errorf("spamc limit %q: %w", parts[2], err)
		}
		limit = v
	}
	msg, err := os.ReadFile(file)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", file, err)
	}
	if len(msg) > limit {
		msg = msg[:limit]
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, c)
	t0 := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				cmd := exec.CommandContext(ctx, "spamc", "-d", parts[0], "-p", parts[1], "-c", "-x")
				cmd.Stdin = strings.NewReader(string(msg))
				out, err := cmd.Output()
				var ee *exec.ExitError
				// -c: exit 0 ham, 1 spam; anything else (or no "score/required" answer) is a failure
				if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 1) || !strings.Contains(string(out), "/") {
					errs <- fmt.Errorf("spamc: %v: %q", err, out)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	close(errs)
	if err := <-errs; err != nil {
		return el, err
	}
	return el, ctx.Err()
}

func lastLine(b []byte) string {
	s := strings.TrimSpace(string(b))
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return s
}

func load1() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return ""
	}
	return f[0]
}

func fmtPeaks(p map[string]int64) string {
	var keys []string
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%dM ", k, p[k]/1024)
	}
	return strings.TrimSpace(b.String())
}

// sampler keeps the peak RSS of process trees.
type sampler struct {
	stopc chan struct{}
	done  chan map[string]int64
}

func startSampler(pidfiles map[string]string, every time.Duration) *sampler {
	s := &sampler{stopc: make(chan struct{}), done: make(chan map[string]int64, 1)}
	go func() {
		peaks := map[string]int64{}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			for name, pf := range pidfiles {
				if pid := readPid(pf); pid > 0 {
					if r := treeRSS(pid); r > peaks[name] {
						peaks[name] = r
					}
				}
			}
			select {
			case <-s.stopc:
				s.done <- peaks
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

func (s *sampler) stop() map[string]int64 { close(s.stopc); return <-s.done }

func readPid(pf string) int {
	if n, err := strconv.Atoi(pf); err == nil { // a pid given directly
		return n
	}
	b, err := os.ReadFile(pf)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// treeRSS sums VmRSS (KiB) over pid and its descendants.
func treeRSS(pid int) int64 {
	var sum int64
	stack := []int{pid}
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		sum += rssKB(p)
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		for _, t := range tasks {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/children", p, t.Name()))
			if err != nil {
				continue
			}
			for _, f := range strings.Fields(string(b)) {
				if c, err := strconv.Atoi(f); err == nil {
					stack = append(stack, c)
				}
			}
		}
	}
	return sum
}

func rssKB(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// report prints the markdown tables of a results file.
func report(args []string, w io.Writer) error {
	if len(args) != 1 {
		return errors.New("usage: cmpbench report RESULTS.jsonl")
	}
	f, err := os.Open(args[0])
	if err != nil {
		return fmt.Errorf("open results: %w", err)
	}
	defer f.Close()
	var rs []Result
	dec := json.NewDecoder(f)
	for {
		var r Result
		if err := dec.Decode(&r); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return fmt.Errorf("parse results: %w", err)
		}
		rs = append(rs, r)
	}
	return writeReport(w, rs)
}

type key struct {
	target, size string
	c            int
}

func writeReport(w io.Writer, rs []Result) error {
	rates := map[key][]float64{}
	lats := map[key][]float64{}
	fails := map[key]int{}
	var sizes, targets []string
	var concs []int
	seenS, seenT, seenC := map[string]bool{}, map[string]bool{}, map[int]bool{}
	peak := map[string]int64{}
	ns := map[string]int{}
	for _, r := range rs {
		k := key{r.Target, r.Size, r.C}
		if r.OK {
			rates[k] = append(rates[k], r.Rate)
			lats[k] = append(lats[k], r.MeanLatMS)
		} else {
			fails[k]++
		}
		if !seenS[r.Size] {
			seenS[r.Size] = true
			sizes = append(sizes, r.Size)
		}
		if !seenT[r.Target] {
			seenT[r.Target] = true
			targets = append(targets, r.Target)
		}
		if !seenC[r.C] {
			seenC[r.C] = true
			concs = append(concs, r.C)
		}
		ns[r.Target+"/"+r.Size] = r.N
		for name, v := range r.PeakRSSKB {
			pk := r.Phase + ": " + name
			if v > peak[pk] {
				peak[pk] = v
			}
		}
	}
	sort.Ints(concs)
	rate := map[key]float64{}
	lat := map[key]float64{}
	reps := 0
	for k, v := range rates {
		rate[k], lat[k] = median(v), median(lats[k])
		reps = max(reps, len(v))
	}
	for k := range fails {
		if _, ok := rate[k]; !ok {
			rate[k] = -1
		}
	}
	fmt.Fprintf(w, "Median of up to %d repetitions per point; a point with a failed repetition is marked *.\n", reps)
	cell := func(k key) string {
		v, ok := rate[k]
		switch {
		case !ok:
			return "–"
		case v < 0:
			return "FAIL"
		}
		star := ""
		if fails[k] > 0 {
			star = "*"
		}
		return fmt.Sprintf("%.1f%s", v, star)
	}
	for _, s := range sizes {
		fmt.Fprintf(w, "\n### %s: msgs/s (mean latency ms)\n\n| path | N |", s)
		for _, c := range concs {
			fmt.Fprintf(w, " C=%d |", c)
		}
		fmt.Fprintf(w, "\n|---|---:|%s\n", strings.Repeat("---:|", len(concs)))
		for _, t := range targets {
			fmt.Fprintf(w, "| %s | %d |", t, ns[t+"/"+s])
			for _, c := range concs {
				k := key{t, s, c}
				if rate[k] > 0 {
					fmt.Fprintf(w, " %s (%.0f) |", cell(k), lat[k])
				} else {
					fmt.Fprintf(w, " %s |", cell(k))
				}
			}
			fmt.Fprintln(w)
		}
	}
	// ratios: mavis-X / amavis-X and mavis-X / direct
	pairs := [][2]string{}
	for _, t := range targets {
		if m, ok := strings.CutPrefix(t, "mavis-"); ok {
			if seenT["amavis-"+m] {
				pairs = append(pairs, [2]string{t, "amavis-" + m})
			}
			if m == "spamd" && seenT["amavis-full"] {
				pairs = append(pairs, [2]string{t, "amavis-full"})
			}
			if seenT["direct"] {
				pairs = append(pairs, [2]string{t, "direct"})
			}
			if seenT["spamc"] && m != "av" {
				pairs = append(pairs, [2]string{t, "spamc"})
			}
		}
	}
	if len(pairs) > 0 {
		fmt.Fprintf(w, "\n### Ratios (msgs/s of the first path / msgs/s of the second)\n\n| ratio | size |")
		for _, c := range concs {
			fmt.Fprintf(w, " C=%d |", c)
		}
		fmt.Fprintf(w, "\n|---|---|%s\n", strings.Repeat("---:|", len(concs)))
		for _, p := range pairs {
			for _, s := range sizes {
				fmt.Fprintf(w, "| %s / %s | %s |", p[0], p[1], s)
				for _, c := range concs {
					a, b := rate[key{p[0], s, c}], rate[key{p[1], s, c}]
					if a > 0 && b > 0 {
						fmt.Fprintf(w, " %.2f |", a/b)
					} else {
						fmt.Fprint(w, " – |")
					}
				}
				fmt.Fprintln(w)
			}
		}
	}
	var pk []string
	for k := range peak {
		pk = append(pk, k)
	}
	sort.Strings(pk)
	fmt.Fprintf(w, "\n### Peak RSS (sum over the process tree, sampled every 200 ms)\n\n| phase: process | peak RSS MiB |\n|---|---:|\n")
	for _, k := range pk {
		fmt.Fprintf(w, "| %s | %.0f |\n", k, float64(peak[k])/1024)
	}
	return nil
}
