package chaos

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// controller runs kro-controller as a child process and, like a kubelet, starts it again when
// it exits by itself. Every run appends its output to one log file, between markers the test
// writes ("=== chaos ...").
type controller struct {
	bin, kubeconfig, logPath string
	start0                   time.Time

	// mu guards everything below: the current run and the counters, read by the chaos loop,
	// the process waiters and the final report.
	mu  sync.Mutex
	log *os.File
	cur *procRun
	// stopped is set by stop: no run is started after it.
	stopped bool
	// starts counts processes started; kills the SIGKILLs that hit a live process; exits the
	// runs that ended without being killed, with their error.
	starts, kills int
	exits         []string
}

// procRun is one process of the controller.
type procRun struct {
	cmd  *exec.Cmd
	done chan struct{}
	// killed marks a run ended by the test; guarded by controller.mu.
	killed    bool
	startedAt time.Time
}

func newController(bin, kubeconfig, logPath string, start time.Time) (*controller, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	return &controller{bin: bin, kubeconfig: kubeconfig, logPath: logPath, log: f, start0: start}, nil
}

// mark writes a marker line into the controller log, to line up the test's actions with
// what the controller logged.
func (c *controller) mark(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.markLocked(format, args...)
}

func (c *controller) markLocked(format string, args ...any) {
	now := time.Now()
	fmt.Fprintf(c.log, "=== chaos t=%.2fs (%s): %s ===\n", now.Sub(c.start0).Seconds(), now.UTC().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// Start starts a controller process.
func (c *controller) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.startLocked()
}

func (c *controller) startLocked() error {
	if c.stopped {
		return errors.New("controller stopped")
	}
	cmd := exec.Command(c.bin,
		"--kubeconfig", c.kubeconfig,
		"--metrics-bind-address", "0",
		"--health-probe-bind-address", "0",
		// Debug shows every apply.
		"--log-level", "debug")
	cmd.Stdout, cmd.Stderr = c.log, c.log
	// The controller must not outlive the test binary.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	c.starts++
	c.markLocked("starting kro-controller (start #%d)", c.starts)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting kro-controller: %w", err)
	}
	r := &procRun{cmd: cmd, done: make(chan struct{}), startedAt: time.Now()}
	c.cur = r
	go c.wait(r)
	return nil
}

// wait reaps a run and restarts the controller when it exited by itself.
func (c *controller) wait(r *procRun) {
	err := r.cmd.Wait()
	close(r.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.killed || c.stopped {
		return
	}
	c.exits = append(c.exits, fmt.Sprintf("t=%.1fs: %v", time.Since(c.start0).Seconds(), err))
	c.markLocked("kro-controller exited by itself (%v); restarting it in 1s", err)
	time.AfterFunc(time.Second, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.cur == r && !r.killed && !c.stopped {
			_ = c.startLocked()
		}
	})
}

// Uptime is how long the current process has been running, 0 when none runs.
func (c *controller) Uptime() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur == nil {
		return 0
	}
	select {
	case <-c.cur.done:
		return 0
	default:
		return time.Since(c.cur.startedAt)
	}
}

// Kill SIGKILLs the current process and waits for it to be gone. It reports whether the
// signal hit a live process.
func (c *controller) Kill(why string) bool {
	c.mu.Lock()
	r := c.cur
	if r == nil {
		c.mu.Unlock()
		return false
	}
	r.killed = true
	c.markLocked("SIGKILL kro-controller (%s)", why)
	hit := r.cmd.Process.Signal(syscall.SIGKILL) == nil
	if hit {
		c.kills++
	}
	c.mu.Unlock()
	<-r.done
	return hit
}

// Stop kills the controller for good.
func (c *controller) Stop() {
	c.mu.Lock()
	c.stopped = true
	r := c.cur
	c.mu.Unlock()
	if r != nil {
		_ = r.cmd.Process.Signal(syscall.SIGKILL)
		<-r.done
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	_ = c.log.Close()
}

// Counts returns the processes started, the kills that hit a live process and the runs that
// exited by themselves.
func (c *controller) Counts() (starts, kills int, exits []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.starts, c.kills, append([]string(nil), c.exits...)
}

// Tail returns the last n lines of the controller log above debug level, without stack
// traces and each cut to 400 bytes.
func (c *controller) Tail(n int) string {
	data, err := os.ReadFile(c.logPath)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		if !strings.Contains(l, `"level":"debug"`) {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	for i, l := range lines {
		if j := strings.Index(l, `,"stacktrace":`); j >= 0 {
			l = l[:j] + "}"
		}
		if len(l) > 400 {
			l = l[:400] + "..."
		}
		lines[i] = l
	}
	return strings.Join(lines, "\n")
}

// Crashes returns the lines of the controller log that show a crash or a data race: a
// SIGKILL or an apiserver outage never explains those.
func (c *controller) Crashes() []string {
	f, err := os.Open(c.logPath)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		for _, bad := range [][]byte{[]byte("panic:"), []byte("fatal error:"), []byte("WARNING: DATA RACE"), []byte("Observed a panic")} {
			if bytes.HasPrefix(bytes.TrimSpace(line), bad) || bytes.Contains(line, []byte(`"`+string(bad))) {
				out = append(out, string(line))
				break
			}
		}
	}
	return out
}
