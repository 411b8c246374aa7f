package testcorpus

import (
	"path/filepath"
	"runtime"
)

// AmavisSamplesDir is a copy of what amavisd-new 2.13 delivered in the
// reference rig for messages with spam fields (samples/full: SpamAssassin
// in-process; samples/spamd: SpamdClient), kept here so that tests comparing
// with amavis's exact output do not depend on files outside the repository.
func AmavisSamplesDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "amavis-samples"
	}
	return filepath.Join(filepath.Dir(file), "amavis-samples")
}
