// Package version holds mavis's version string.
package version

import "runtime/debug"

// Version is set at build time with -ldflags "-X …/version.Version=…";
// otherwise the module version from the build info is used.
var Version = ""

// String returns "mavis-<version>".
func String() string {
	v := Version
	if v == "" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		} else {
			v = "0.1.0-dev"
		}
	}
	return "mavis-" + v
}
