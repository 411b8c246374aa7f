package integration

import (
	"os"
	"testing"

	"github.com/mavis-filter/mavis/test/integration/harness"
)

func TestMain(m *testing.M) { os.Exit(harness.Main(m)) }
