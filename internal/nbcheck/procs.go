package nbcheck

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The processes of one notebook run: Jupyter starts the kernel in a session of its own, the kernel
// starts the cell programs and gopls, and any of them can outlive its parent. Two ways find them
// all: the process tree under the driver (while it is alive), and a tag that every process of the
// run inherits in its environment (for those already orphaned). Linux only (/proc).

// processesWithEnv returns the pids of the processes whose environment holds entry ("NAME=value").
// Processes of other users are not readable and so never returned.
func processesWithEnv(entry string) []int {
	var out []int
	want := []byte(entry)
	for _, pid := range allPids() {
		env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
		if err != nil {
			continue
		}
		for _, kv := range bytes.Split(env, []byte{0}) {
			if bytes.Equal(kv, want) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}

// descendants returns the pids of every process below root in the process tree.
func descendants(root int) []int {
	children := map[int][]int{}
	for _, pid := range allPids() {
		if ppid := parentPid(pid); ppid > 0 {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []int
	queue := []int{root}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func allPids() []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		if pid, err := strconv.Atoi(e.Name()); err == nil && pid != os.Getpid() {
			out = append(out, pid)
		}
	}
	return out
}

func parentPid(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses, so read after the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// killRun kills root, everything below it and every process tagged with tag. It first stops what
// it finds and looks again until nothing new turns up (a stopped process cannot fork, and its
// children stay in the tree while it lives), then kills them all.
func killRun(root int, tag string) {
	stopped := map[int]bool{}
	for round := 0; round < 20; round++ {
		var found []int
		if root > 0 {
			found = append(append(found, root), descendants(root)...)
		}
		if tag != "" {
			found = append(found, processesWithEnv(tag)...)
		}
		fresh := 0
		for _, pid := range found {
			if !stopped[pid] {
				_ = syscall.Kill(pid, syscall.SIGSTOP)
				stopped[pid] = true
				fresh++
			}
		}
		if fresh == 0 {
			break
		}
	}
	for pid := range stopped {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	// A killed process lives on until the scheduler lets it exit, which on a loaded machine can outlast
	// the return: wait (a few seconds at most) until each is gone or a zombie, so that "nothing of the
	// run survives Execute" holds when Execute returns.
	deadline := time.Now().Add(5 * time.Second)
	for pid := range stopped {
		for running(pid) && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// running reports whether pid exists and is not a zombie.
func running(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return false
	}
	return s[i+2] != 'Z' && s[i+2] != 'X'
}
