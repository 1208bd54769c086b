package proc

import (
	"bufio"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	m, err := parseStatus(bufio.NewScanner(strings.NewReader("Name:\tx\nVmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")))
	if err != nil || m.RSS != 1024*1024 || m.Peak != 2048*1024 {
		t.Fatalf("memory = %+v, %v", m, err)
	}
	d, err := parseStat("42 (kube (api) server) S 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0")
	if err != nil || d != 2*time.Second {
		t.Fatalf("cpu = %v, %v", d, err)
	}
}

func TestSelf(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc")
	}
	if _, err := ReadMemory(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if _, err := CPUTime(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

func TestHostStat(t *testing.T) {
	busy, total, err := parseHostStat("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3\n")
	if err != nil || busy != 1500*time.Millisecond || total != 10*time.Second {
		t.Fatalf("busy %v total %v err %v", busy, total, err)
	}
}
