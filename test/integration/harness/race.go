//go:build race

package harness

// raceEnabled: this binary was built with -race, so BuildMavisd builds mavisd with -race too.
const raceEnabled = true
