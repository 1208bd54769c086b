// Package proc reads a process's memory and CPU time from /proc (Linux only).
package proc

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// ClockTicks is USER_HZ, the unit of utime/stime in /proc/<pid>/stat. It is 100 on every
// Linux architecture Go supports.
const ClockTicks = 100

// Memory is a process's resident set size now and its peak, in bytes.
type Memory struct {
	RSS  int64 `json:"rssBytes"`
	Peak int64 `json:"peakRssBytes"`
}

// ReadMemory reads VmRSS and VmHWM of pid.
func ReadMemory(pid int) (Memory, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return Memory{}, err
	}
	defer f.Close()
	return parseStatus(bufio.NewScanner(f))
}

func parseStatus(s *bufio.Scanner) (Memory, error) {
	var m Memory
	found := 0
	for s.Scan() {
		line := s.Text()
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &m.RSS
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &m.Peak
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			return m, fmt.Errorf("bad /proc status line %q", line)
		}
		kb, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			return m, fmt.Errorf("bad /proc status line %q: %w", line, err)
		}
		*dst = kb * 1024
		found++
	}
	if err := s.Err(); err != nil {
		return m, err
	}
	if found != 2 {
		return m, fmt.Errorf("VmRSS/VmHWM not found in /proc status")
	}
	return m, nil
}

// CPUTime returns the user+system CPU time pid has used.
func CPUTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStat(string(b))
}

func parseStat(s string) (time.Duration, error) {
	// The command name (field 2) may contain spaces and parentheses: fields count from the
	// last ')'. utime and stime are fields 14 and 15, i.e. 11 and 12 after the state (field 3).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("bad /proc stat %q", s)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("bad /proc stat %q", s)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc stat %q", s)
	}
	return time.Duration(ut+st) * time.Second / ClockTicks, nil
}

// HostCPU returns the machine's busy CPU time (all CPUs, everything but idle and iowait) and
// total CPU time since boot, from the first line of /proc/stat.
func HostCPU() (busy, total time.Duration, err error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, err
	}
	return parseHostStat(string(b))
}

func parseHostStat(s string) (busy, total time.Duration, err error) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, fmt.Errorf("bad /proc/stat line %q", line)
	}
	var sum, idle int64
	for i, v := range f[1:] {
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, 0, fmt.Errorf("bad /proc/stat line %q", line)
		}
		sum += n
		if i == 3 || i == 4 { // idle, iowait
			idle += n
		}
	}
	tick := time.Second / ClockTicks
	return time.Duration(sum-idle) * tick, time.Duration(sum) * tick, nil
}

// LoadAvg returns the 1-minute load average.
func LoadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}
