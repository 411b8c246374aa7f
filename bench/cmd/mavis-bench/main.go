// Command mavis-bench is mavis's end-to-end load harness. It starts Postfix's smtp-sink and mavisd
// (forwarding to the sink), then for each message size and concurrency measures throughput and latency
// of the same load sent (a) straight to the sink and (b) through mavisd, and prints a table with the
// ratio mavis/direct. More filters that forward to the same sink (for example amavisd-new, started with
// forward_method smtp:[127.0.0.1]:<-sink-port>) are added as columns with -target label=host:port.
//
//	go run ./bench/cmd/mavis-bench -mavisd bin/mavisd [-sizes 2k,1m] [-conc 1,4,16] [-duration 5s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mavis-filter/mavis/bench/load"
	"github.com/mavis-filter/mavis/test/integration/harness"
)

type target struct{ label, addr string }

type targetsFlag []target

func (t *targetsFlag) String() string { return fmt.Sprint(*t) }
func (t *targetsFlag) Set(s string) error {
	label, addr, ok := strings.Cut(s, "=")
	if !ok || label == "" || addr == "" {
		return errors.New("want label=host:port")
	}
	*t = append(*t, target{label, addr})
	return nil
}

type options struct {
	mavisd     string
	mavisExtra string
	maxServers int
	sizes      []int
	concs      []int
	duration   time.Duration
	warmup     time.Duration
	sinkPort   int
	targets    targetsFlag
	csv        string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "mavis-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var sizes, concs string
	flag.StringVar(&o.mavisd, "mavisd", "bin/mavisd", "mavisd binary (empty: no mavis column)")
	flag.StringVar(&o.mavisExtra, "mavisd-config", "", "file with TOML settings for mavisd, replacing the bare defaults (no scanners)")
	flag.IntVar(&o.maxServers, "max-servers", 0, "mavisd max_servers (0: its default, amavis's 2)")
	flag.StringVar(&sizes, "sizes", "2k,1m", "message sizes (k, m suffixes)")
	flag.StringVar(&concs, "conc", "1,4,16", "concurrent SMTP sessions")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "measured time per cell")
	flag.DurationVar(&o.warmup, "warmup", time.Second, "unmeasured warm-up per cell")
	flag.IntVar(&o.sinkPort, "sink-port", 0, "smtp-sink port on 127.0.0.1 (0: a free one)")
	flag.Var(&o.targets, "target", "another filter forwarding to the sink, label=host:port (repeatable)")
	flag.StringVar(&o.csv, "csv", "", "append one CSV row per measurement to this file")
	flag.Parse()
	var err error
	if o.sizes, err = parseList(sizes, parseSize); err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	if o.concs, err = parseList(concs, strconv.Atoi); err != nil {
		return fmt.Errorf("-conc: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return bench(ctx, o)
}

func bench(ctx context.Context, o options) error {
	sink, err := load.StartSink(ctx, o.sinkPort)
	if err != nil {
		return err
	}
	defer sink.Stop()
	_, sinkPort, _ := strings.Cut(sink.Addr, ":")

	targets := []target{{"direct", sink.Addr}}
	if o.mavisd != "" {
		dir, err := os.MkdirTemp("", "mavis-bench-")
		if err != nil {
			return fmt.Errorf("mavisd dir: %w", err)
		}
		d, err := startMavisd(ctx, o, sinkPort, dir)
		if err != nil {
			return err
		}
		defer func() {
			sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := d.Stop(sctx); err != nil {
				slog.Warn("mavisd exit", "err", err, "log", d.LogPath)
				return
			}
			_ = os.RemoveAll(dir)
		}()
		targets = append(targets, target{"mavis", d.Listen})
		slog.Info("mavisd ready", "pid", d.Pid(), "listen", d.Listen, "banner", d.Banner, "log", d.LogPath)
	}
	targets = append(targets, o.targets...)
	slog.Info("smtp-sink ready", "addr", sink.Addr)

	var csvw io.Writer
	if o.csv != "" {
		f, err := os.OpenFile(o.csv, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("csv: %w", err)
		}
		defer f.Close()
		if st, _ := f.Stat(); st != nil && st.Size() == 0 {
			fmt.Fprintln(f, "time,target,addr,bytes,conc,duration_s,sent,failed,msgs_per_s,mean_ms,p50_ms,p99_ms,max_ms")
		}
		csvw = f
	}

	const from, to = "sender@bench.test", "user@bench.test"
	type row struct {
		size, conc int
		res        []load.Result
	}
	var rows []row
	for _, size := range o.sizes {
		msg := load.MakeMessage(size, from, to)
		for _, c := range o.concs {
			r := row{size: size, conc: c}
			for _, t := range targets {
				res, err := load.Run(ctx, load.Config{Addr: t.addr, Concurrency: c, Duration: o.duration,
					Warmup: o.warmup, Message: msg, From: from, To: to})
				if err != nil {
					return err
				}
				if res.Failed > 0 {
					slog.Warn("failed sessions", "target", t.label, "size", size, "conc", c, "failed", res.Failed, "first", res.FirstErr)
				}
				fmt.Fprintf(os.Stderr, "  %-8s %7s c=%-3d %8.1f msg/s  p50 %8s  p99 %8s  (%d sent, %d failed)\n",
					t.label, human(size), c, res.Rate(), ms(res.Percentile(50)), ms(res.Percentile(99)), res.Sent, res.Failed)
				if csvw != nil {
					fmt.Fprintf(csvw, "%s,%s,%s,%d,%d,%.3f,%d,%d,%.2f,%s,%s,%s,%s\n", time.Now().Format(time.RFC3339),
						t.label, t.addr, size, c, res.Elapsed.Seconds(), res.Sent, res.Failed, res.Rate(),
						ms(res.Mean()), ms(res.Percentile(50)), ms(res.Percentile(99)), ms(res.Percentile(100)))
				}
				r.res = append(r.res, res)
			}
			rows = append(rows, r)
		}
	}

	// the table
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	head := "size\tconc\t"
	for _, t := range targets {
		head += t.label + " msg/s\tmean ms\tp50 ms\tp99 ms\t"
	}
	for _, t := range targets[1:] {
		head += t.label + "/direct msg/s\t" + t.label + "/direct p50\t"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%d\t", human(r.size), r.conc)
		for _, res := range r.res {
			line += fmt.Sprintf("%.1f\t%s\t%s\t%s\t", res.Rate(), ms(res.Mean()), ms(res.Percentile(50)), ms(res.Percentile(99)))
		}
		for _, res := range r.res[1:] {
			line += fmt.Sprintf("%s\t%s\t", ratio(res.Rate(), r.res[0].Rate()),
				ratio(res.Percentile(50).Seconds(), r.res[0].Percentile(50).Seconds()))
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

func startMavisd(ctx context.Context, o options, sinkPort, dir string) (*harness.Daemon, error) {
	port, err := load.FreePort()
	if err != nil {
		return nil, err
	}
	cfg := harness.MavisdConfig{
		Listen:  "127.0.0.1:" + strconv.Itoa(port),
		Forward: "smtp:[127.0.0.1]:" + sinkPort,
		Extra:   harness.BareSettings,
	}
	if o.mavisExtra != "" {
		b, err := os.ReadFile(o.mavisExtra)
		if err != nil {
			return nil, fmt.Errorf("-mavisd-config: %w", err)
		}
		cfg.Extra = string(b)
	}
	if o.maxServers > 0 {
		cfg.Extra += fmt.Sprintf("max_servers = %d\n", o.maxServers)
	}
	cfg.Home = dir
	return harness.StartDaemon(ctx, harness.DaemonOptions{Binary: o.mavisd, Config: cfg.Text(), Listen: cfg.Listen, Dir: dir})
}

func parseList(s string, parse func(string) (int, error)) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		v, err := parse(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		if v <= 0 {
			return nil, fmt.Errorf("%q: must be positive", f)
		}
		out = append(out, v)
	}
	return out, nil
}

func parseSize(s string) (int, error) {
	mult := 1
	switch {
	case strings.HasSuffix(strings.ToLower(s), "k"):
		mult, s = 1024, s[:len(s)-1]
	case strings.HasSuffix(strings.ToLower(s), "m"):
		mult, s = 1024*1024, s[:len(s)-1]
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("size %q: %w", s, err)
	}
	return v * mult, nil
}

func human(n int) string {
	switch {
	case n%(1024*1024) == 0:
		return strconv.Itoa(n/(1024*1024)) + " MB"
	case n%1024 == 0:
		return strconv.Itoa(n/1024) + " KB"
	}
	return strconv.Itoa(n) + " B"
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d.Microseconds())/1000) }

func ratio(a, b float64) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", a/b)
}
