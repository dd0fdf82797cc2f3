// echo.go: the Go peer of the TCP echo benchmark (run by bench/compare_echo).
//
// Usage: echo echo/SIZE [SCALE]     echo --list
//
// One process holds both sides on 127.0.0.1: a server with one goroutine per connection that
// reads SIZE-byte messages (io.ReadFull) and writes each back, and 50 client connections, each
// doing TRIPS request/response round trips one after another (TRIPS = 4000 for 64-byte and
// 1000 for 4096-byte messages, times SCALE). Every reply is compared with its request. GOMAXPROCS
// is Go's default (one per core), as gofer's peer uses a Runtime with one thread per core.
// Prints "workload=echo variant=SIZE unit=msg/s value=X p50_us=Y p99_us=Z cpu_us=C": round trips
// per second over the whole run (dials included), the latency percentiles of single round trips,
// and the process's CPU time (user + system) per round trip.
// Same constants and protocol as bench/peers/gofer/echo.cpp.
//
// Build (no modules, no downloads): GO111MODULE=off go build -o go_echo echo.go
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const conns = 50

var trips = map[int]int64{64: 4000, 4096: 1000}

func fail(id, what string) {
	fmt.Fprintf(os.Stderr, "%s: FAILED: %s\n", id, what)
	os.Exit(1)
}

// cpuSeconds: user + system CPU time of the whole process so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	sec := func(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)*1e-6 }
	return sec(ru.Utime) + sec(ru.Stime)
}

func serve(c net.Conn, size int) {
	defer c.Close()
	buf := make([]byte, size)
	for {
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if _, err := c.Write(buf); err != nil {
			return
		}
	}
}

// client: n round trips on one connection; the latencies in ns, or an error.
func client(addr string, size int, id int, n int64) ([]int64, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	msg := make([]byte, size)
	reply := make([]byte, size)
	for i := range msg {
		msg[i] = byte(i * 7)
	}
	lat := make([]int64, 0, n)
	for k := int64(0); k < n; k++ {
		binary.LittleEndian.PutUint64(msg, uint64(id)<<32|uint64(k))
		t0 := time.Now()
		if _, err := c.Write(msg); err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(c, reply); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(t0).Nanoseconds())
		if !bytes.Equal(msg, reply) {
			return nil, fmt.Errorf("connection %d trip %d: reply differs from request", id, k)
		}
	}
	return lat, nil
}

func main() {
	if len(os.Args) == 2 && os.Args[1] == "--list" {
		fmt.Println("echo/64")
		fmt.Println("echo/4096")
		return
	}
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: echo echo/SIZE [SCALE] | --list")
		os.Exit(2)
	}
	id := os.Args[1]
	size, err := strconv.Atoi(strings.TrimPrefix(id, "echo/"))
	if err != nil || trips[size] == 0 || !strings.HasPrefix(id, "echo/") {
		fmt.Fprintf(os.Stderr, "echo: unknown workload %q (see --list)\n", id)
		os.Exit(2)
	}
	scale := 1.0
	if len(os.Args) == 3 {
		scale, err = strconv.ParseFloat(os.Args[2], 64)
		if err != nil || !(scale > 0) {
			fmt.Fprintf(os.Stderr, "echo: bad scale %q\n", os.Args[2])
			os.Exit(2)
		}
	}
	n := int64(float64(trips[size]) * scale)
	if n < 1 {
		n = 1
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(id, err.Error())
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(c, size)
		}
	}()

	lats := make([][]int64, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	cpuStart := cpuSeconds()
	start := time.Now()
	for i := 0; i < conns; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			lats[i], errs[i] = client(ln.Addr().String(), size, i, n)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuSeconds() - cpuStart
	ln.Close()

	all := make([]int64, 0, conns*n)
	for i := 0; i < conns; i++ {
		if errs[i] != nil {
			fail(id, errs[i].Error())
		}
		all = append(all, lats[i]...)
	}
	if int64(len(all)) != conns*n {
		fail(id, fmt.Sprintf("%d round trips, want %d", len(all), conns*n))
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	p50 := float64(all[len(all)*50/100]) / 1e3
	p99 := float64(all[len(all)*99/100]) / 1e3
	rate := float64(len(all)) / elapsed.Seconds()
	cpuUs := cpu * 1e6 / float64(len(all))
	fmt.Printf("workload=echo variant=%d unit=msg/s value=%.6g p50_us=%.6g p99_us=%.6g cpu_us=%.6g\n",
		size, rate, p50, p99, cpuUs)
}
