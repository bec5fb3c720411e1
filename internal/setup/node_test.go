package setup

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without npm, install gets Debian's nodejs and npm through apt-get; with npm there, it leaves Node alone.
func TestEnsureNpm(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: otherwise ensureNpm goes through sudo")
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "apt.log")
	fakeApt := "#!/bin/sh\necho \"$*\" >> '" + log + "'\n" +
		"[ \"$1\" = install ] && printf '#!/bin/sh\\n' > '" + filepath.Join(bin, "npm") + "' && chmod +x '" + filepath.Join(bin, "npm") + "'\nexit 0\n"
	if err := os.WriteFile(filepath.Join(bin, "apt-get"), []byte(fakeApt), 0o755); err != nil {
		t.Fatal(err)
	}
	// PATH: the fake apt-get and sh, nothing else; no npm.
	for _, tool := range []string{"sh", "chmod", "printf"} {
		if err := os.Symlink("/bin/"+tool, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", bin)
	var out strings.Builder
	ensureNpm(&out)
	calls, _ := os.ReadFile(log)
	if got := strings.TrimSpace(string(calls)); got != "update\ninstall -y --no-install-recommends nodejs npm" {
		t.Fatalf("apt-get calls: %q; output %q", got, out.String())
	}
	os.Remove(log)
	ensureNpm(&out) // npm is there now
	if calls, err := os.ReadFile(log); err == nil {
		t.Errorf("with npm on PATH, apt-get ran again: %q", calls)
	}
}
