// Command mavisd is the mavis daemon: it receives mail from Postfix over
// SMTP/LMTP (content_filter), checks it, and hands it back to Postfix,
// answering 250 only once the next hop has accepted the mail.
//
// Usage:
//
//	mavisd [-c FILE] [foreground]
//
// It always runs in the foreground (use systemd or similar to supervise it).
// Without -c it runs on the embedded defaults. SIGHUP reloads the
// configuration atomically; SIGTERM and SIGINT stop accepting connections,
// finish the messages in flight, and exit.
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
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mavis-filter/mavis/internal/app"
	"github.com/mavis-filter/mavis/internal/config"
	"github.com/mavis-filter/mavis/internal/decode"
	"github.com/mavis-filter/mavis/internal/deliver"
	"github.com/mavis-filter/mavis/internal/logging"
	"github.com/mavis-filter/mavis/internal/mail"
	"github.com/mavis-filter/mavis/internal/pipeline"
	"github.com/mavis-filter/mavis/internal/quarantine"
	"github.com/mavis-filter/mavis/internal/smtpd"
	"github.com/mavis-filter/mavis/internal/store"
	"github.com/mavis-filter/mavis/internal/version"
)

// Exit codes (sysexits.h).
const (
	exOK       = 0
	exUsage    = 64
	exSoftware = 70
	exOSErr    = 71
	exConfig   = 78
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func usage(w io.Writer, fs *flag.FlagSet) {
	fmt.Fprintf(w, `Usage: mavisd [-c FILE] [foreground]

mavisd is the mavis mail content filter daemon (a replacement for amavisd-new).
It listens for SMTP/LMTP from Postfix (default 127.0.0.1:10024) and forwards
checked mail to forward_method (default smtp:[127.0.0.1]:10025). It runs in
the foreground. Without -c it uses the embedded defaults.

Signals: SIGHUP reloads the configuration (a bad file keeps the running one),
SIGTERM/SIGINT stop gracefully.

Options:
`)
	fs.SetOutput(w)
	fs.PrintDefaults()
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("mavisd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfgPath := fs.String("c", "", "configuration `FILE` (TOML with amavis setting names)")
	showVersion := fs.Bool("V", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout, fs)
			return exOK
		}
		fmt.Fprintf(stderr, "mavisd: %v\n", err)
		usage(stderr, fs)
		return exUsage
	}
	if *showVersion {
		fmt.Fprintln(stdout, version.String())
		return exOK
	}
	for _, a := range fs.Args() {
		// amavisd's "foreground" and "debug" are accepted: mavisd never
		// detaches.
		if a != "foreground" && a != "debug" {
			fmt.Fprintf(stderr, "mavisd: unknown argument %q\n", a)
			usage(stderr, fs)
			return exUsage
		}
	}

	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "mavisd: refusing to start, configuration errors:\n%v\n", err)
		return exConfig
	}
	lopts := app.LoggingOptions(cfg.Settings())
	lopts.Stderr = stderr
	logger, closer, err := logging.New(lopts)
	if err != nil {
		fmt.Fprintf(stderr, "mavisd: %v\n", err)
		return exConfig
	}
	defer closer.Close()
	tools := decode.FindTools(logger)
	snap, err := app.Build(cfg, tools)
	if err != nil {
		fmt.Fprintf(stderr, "mavisd: refusing to start: %v\n", err)
		return exConfig
	}
	for _, w := range cfg.Warnings() {
		logger.Warn(w.String())
	}
	logChecks(snap, logger)
	return serve(*cfgPath, snap, tools, logger)
}

// logChecks says at start which virus scanners run and what happens when
// they all fail: that choice must never be a surprise.
func logChecks(snap *app.Snapshot, logger *slog.Logger) {
	ch := snap.Pipeline.Checks
	var names []string
	for _, sc := range ch.AVPrimary {
		names = append(names, sc.Name())
	}
	for _, sc := range ch.AVBackup {
		names = append(names, sc.Name()+" (backup)")
	}
	var spams []string
	for _, sc := range ch.SpamScanners {
		spams = append(spams, sc.Name())
	}
	if len(spams) > 0 {
		logger.Info("spam scanners: " + strings.Join(spams, ", "))
		if ch.SpamFailureIsFatal {
			logger.Info("spam_scanners_failure_is_fatal = true: when every spam scanner fails, mail is tempfailed (4xx)")
		} else {
			logger.Warn("spam_scanners_failure_is_fatal = false (amavis's behaviour): when every spam scanner fails, mail passes unscored")
		}
	}
	if len(names) == 0 {
		logger.Warn("no virus scanners configured (av_scanners and av_scanners_backup are empty or their programs are missing): mail is not scanned for viruses")
		return
	}
	logger.Info("virus scanners: " + strings.Join(names, ", "))
	if ch.AVFailureFatal {
		logger.Info("virus_scanners_failure_is_fatal = true: when every virus scanner fails, mail is tempfailed (4xx) and stays in the MTA's queue")
	} else {
		logger.Warn("virus_scanners_failure_is_fatal = false (amavis's default): when every virus scanner fails, mail is PASSED as UNCHECKED (subject tag for local recipients); set it to true to tempfail instead")
	}
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Default(), nil
	}
	return config.Load(path)
}

func serve(cfgPath string, snap *app.Snapshot, tools *decode.Tools, logger *slog.Logger) int {
	spoolDir, err := app.PrepareDirs(snap.Settings, logger)
	if err != nil {
		logger.Error("startup failed", "err", err)
		return exOSErr
	}
	defer os.RemoveAll(spoolDir)

	var cur atomic.Pointer[app.Snapshot]
	cur.Store(snap)
	defer func() { cur.Load().Close() }()

	fwd := deliver.NewClient(app.DeliverTimeouts(), snap.Settings.SMTPConnectionCacheEnable.Or(true), logger)
	defer fwd.Close()
	octx, ocancel := context.WithTimeout(context.Background(), 30*time.Second)
	st, err := store.Open(octx, app.StoreOptions(snap.Settings, logger))
	ocancel()
	if err != nil {
		logger.Error("SQL storage unavailable", "err", err)
		return exOSErr
	}
	defer st.Close()
	disp, dialect := st.Current()
	logger.Info("SQL logging (" + dialect + ") to " + disp)
	maxServers := snap.Settings.MaxServers.Or(smtpd.DefaultMaxServers)
	// Private work directories for decoded parts, reused across messages
	// (emptied in between) as amavis reuses each child's directory.
	wd := decode.NewWorkDirs(spoolDir, maxServers)
	defer wd.Close()
	pipe := &pipeline.Pipeline{
		Settings:  func(m *mail.Message) *pipeline.Settings { return cur.Load().ForMessage(m) },
		Forwarder: fwd,
		Notifier:  fwd,
		Recorder:  st,
		Logger:    logger,
		WorkDir:   spoolDir,
		WorkDirs:  wd,
	}
	opts := func() *smtpd.Options {
		o := *cur.Load().SMTP
		o.TempDir = spoolDir
		return &o
	}
	srv := smtpd.New(pipe, opts, maxServers, logger, mail.NewLogIDs())
	listeners := app.Listeners(snap.Config, snap.Settings)
	if len(listeners) == 0 {
		logger.Error("nothing to listen on: inet_socket_port is empty")
		return exConfig
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	housekeeping(ctx, snap, st, logger)
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(ctx, listeners) }()

	var addrs []string
	for _, l := range listeners {
		addrs = append(addrs, l.Network+":"+l.Address)
	}
	logger.Info(fmt.Sprintf("starting. %s, listening on %s, forwarding to %s, max_servers %d, pid %d",
		version.String(), strings.Join(addrs, " "), snap.Pipeline.Forward.Spec, maxServers, os.Getpid()))

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	for {
		select {
		case err := <-served:
			if err != nil {
				logger.Error("server failed", "err", err)
				return exOSErr
			}
			return exOK
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				reload(cfgPath, &cur, tools, logger)
				continue
			}
			logger.Info(fmt.Sprintf("got %v, stopping: no new connections, finishing messages in flight", sig))
			grace := cur.Load().Settings.ChildTimeout.Or(480*time.Second) + 30*time.Second
			sctx, scancel := context.WithTimeout(context.Background(), grace)
			err := srv.Shutdown(sctx)
			scancel()
			if err != nil {
				logger.Warn("shutdown did not complete in time", "err", err)
			}
			<-served
			logger.Info("stopped")
			return exOK
		}
	}
}

// housekeeping starts the jobs that replace amavis's cron jobs: the
// quarantine sweeper (quarantine_max_age days) and the SQL log retention
// (sql_max_age days). They stop with ctx.
func housekeeping(ctx context.Context, snap *app.Snapshot, st *store.Store, logger *slog.Logger) {
	s := snap.Settings
	if days := s.Mavis.QuarantineMaxAge.Or(0); days > 0 && s.QuarantineDir.Or("") != "" {
		sw := &quarantine.Sweeper{Dir: s.QuarantineDir.Or(""), MaxAge: time.Duration(days) * 24 * time.Hour, Log: logger}
		go sw.RunSweeper(ctx, time.Hour)
		logger.Info(fmt.Sprintf("quarantine sweeper: removing files older than %d days from %s hourly", days, s.QuarantineDir.Or("")))
	}
	if days := s.Mavis.SQLMaxAge.Or(0); days > 0 {
		go func() {
			t := time.NewTicker(time.Hour)
			defer t.Stop()
			for {
				pctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
				now := time.Now()
				res, err := st.Purge(pctx, store.Purge{Before: now.Add(-time.Duration(days) * 24 * time.Hour), IncompleteBefore: now.Add(-time.Hour)})
				cancel()
				if err != nil {
					logger.Warn("SQL retention run failed", "err", err)
				} else {
					logger.Debug("SQL retention run", "result", fmt.Sprintf("%+v", res))
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
		logger.Info(fmt.Sprintf("SQL retention: removing log rows older than %d days hourly", days))
	}
}

// reload loads and checks the configuration file again and swaps the
// snapshot atomically; on any error the running configuration stays.
func reload(cfgPath string, cur *atomic.Pointer[app.Snapshot], tools *decode.Tools, logger *slog.Logger) {
	if cfgPath == "" {
		logger.Info("SIGHUP: running on embedded defaults, nothing to reload")
		return
	}
	cfg, err := config.Load(cfgPath)
	if err == nil {
		var snap *app.Snapshot
		if snap, err = app.Build(cfg, tools); err == nil {
			old := cur.Swap(snap)
			// Messages in flight finish on the old snapshot; release its
			// lookup connections once they surely have.
			time.AfterFunc(old.Settings.ChildTimeout.Or(480*time.Second)+time.Minute, func() { old.Close() })
			for _, w := range cfg.Warnings() {
				logger.Warn(w.String())
			}
			logger.Info("SIGHUP: configuration reloaded from " + cfgPath)
			return
		}
	}
	logger.Error("Rejecting reload, configuration file has errors; keeping the running configuration",
		"file", cfgPath, "errors", strings.ReplaceAll(err.Error(), "\n", "; "))
}
