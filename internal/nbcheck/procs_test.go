package nbcheck

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"
)

// TestKillRunWaits checks that killRun returns only once the processes it killed have exited (or are
// zombies): Execute promises that nothing of the run survives its return, and on a loaded machine a
// killed process can linger (TestCancelEndsEverything failed so in CI).
func TestKillRunWaits(t *testing.T) {
	tag := fmt.Sprintf("LOSSLAB_NBCHECK_KILLTEST=%d-%d", os.Getpid(), time.Now().UnixNano())
	var cmds []*exec.Cmd
	for range 4 {
		cmd := exec.Command("sleep", "60")
		cmd.Env = append(os.Environ(), tag)
		if err := cmd.Start(); err != nil {
			t.Skip("cannot start sleep:", err)
		}
		cmds = append(cmds, cmd)
	}
	defer func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}()
	killRun(0, tag)
	for _, c := range cmds {
		if running(c.Process.Pid) {
			t.Errorf("process %d still running after killRun returned", c.Process.Pid)
		}
	}
	if left := processesWithEnv(tag); len(left) > 0 {
		for _, pid := range left {
			if running(pid) {
				t.Errorf("tagged process %d left running", pid)
			}
		}
	}
}
