// Package compare holds an opt-in, heavy side-by-side comparison of mavisd with the real amavisd-new
// 2.13 (Debian package): the same mixed batch of messages goes through both, and the SQL rows they log
// (msgs, msgrcpt, maddr, quarantine), their SMTP replies, the headers of the delivered copies and the
// notifications they send are compared. It runs only with MAVIS_COMPARE=1 (see compare_test.go); the
// differences it finds are written to bench/amavis/results/compare-<date>.md.
package compare
