// workloads.go: the Go peer of gofer's benchmark workloads (run by bench/compare).
//
// Usage: workloads WORKLOAD[/VARIANT] [SCALE]     workloads --list
//
// Same workloads, names and constants as bench/peers/gofer/workloads.cpp and
// bench/peers/fiber/workloads.cpp; SCALE (default 1) multiplies every count. Each run prints one
// line "workload=W [variant=V] unit=U value=X" and exits 0, or prints what went wrong to stderr
// and exits 1 when the data did not arrive (counts and sums are checked for every workload).
//
// GOMAXPROCS is set per workload: 1 for the single-thread workloads (spawn_live and sleepers
// included; their procs2 variants, the peers of gofer's rt2 ones, use 2), 2 for the cross-thread ones;
// spawn runs as two variants (procs1, procs2) and pingpong_cross as plain and locked (each
// goroutine wired to its own OS thread by runtime.LockOSThread). spawn starts its 1,000,000
// goroutines in waves of 1,000, each wave waited before the next, as the C++ peers do (all at
// once, gofer needs 8 GB and 30 us per task: see bench/RESULTS.md).
//
// Build (no modules, no downloads): GO111MODULE=off go build -o go_workloads workloads.go
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The workload constants, shared with the C++ peers.
const (
	spawnTasks         = 1_000_000
	spawnWave          = 1_000 // tasks spawned, then all waited, per wave
	pingpongLocalTrips = 1_000_000
	spscMessages       = 10_000_000
	spscCapacity       = 1024
	pingpongCrossTrips = 200_000
	mpmcMessages       = 10_000_000
	mpmcCapacity       = 256
	mpmcProducers      = 4
	mpmcConsumers      = 4
	parkedTasks        = 100_000
	yieldSwitches      = 10_000_000
	selectCount        = 1_000_000
	selectChannels     = 4
	spawnLiveTasks     = 100_000
	sleeperTasks       = 10_000
	sleeperMaxMs       = 200
)

type workload struct {
	id  string
	run func(id string, scale float64)
}

var workloads = []workload{
	{"spawn/procs1", func(id string, s float64) { spawn(id, s, 1) }},
	{"spawn/procs2", func(id string, s float64) { spawn(id, s, 2) }},
	{"pingpong_local", pingpongLocal},
	{"spsc_local", spscLocal},
	{"pingpong_cross", func(id string, s float64) { pingpongCross(id, s, false) }},
	{"pingpong_cross/locked", func(id string, s float64) { pingpongCross(id, s, true) }},
	{"mpmc_cross", mpmcCross},
	{"parked_memory", parkedMemory},
	{"spawn_live", func(id string, s float64) { spawnLive(id, s, 1) }},
	{"spawn_live/procs2", func(id string, s float64) { spawnLive(id, s, 2) }},
	{"sleepers", func(id string, s float64) { sleepers(id, s, false, 1) }},
	{"sleepers/max", func(id string, s float64) { sleepers(id, s, true, 1) }},
	{"sleepers/procs2", func(id string, s float64) { sleepers(id, s, false, 2) }},
	{"sleepers/procs2_max", func(id string, s float64) { sleepers(id, s, true, 2) }},
	{"yield", yieldSwitch},
	{"select_local", selectLocal},
}

func main() {
	if len(os.Args) < 2 || len(os.Args) > 3 {
		fmt.Fprintln(os.Stderr, "usage: workloads WORKLOAD[/VARIANT] [SCALE] | --list")
		os.Exit(2)
	}
	if os.Args[1] == "--list" {
		for _, w := range workloads {
			fmt.Println(w.id)
		}
		return
	}
	scale := 1.0
	if len(os.Args) == 3 {
		v, err := strconv.ParseFloat(os.Args[2], 64)
		if err != nil || v <= 0 {
			fmt.Fprintf(os.Stderr, "go: bad scale %q: want a positive number\n", os.Args[2])
			os.Exit(2)
		}
		scale = v
	}
	for _, w := range workloads {
		if w.id == os.Args[1] {
			w.run(w.id, scale)
			return
		}
	}
	fmt.Fprintf(os.Stderr, "go: unknown workload %q (see --list)\n", os.Args[1])
	os.Exit(2)
}

// scaled: n times scale, at least min.
func scaled(n int, scale float64, min int) int {
	v := int(float64(n) * scale)
	if v < min {
		v = min
	}
	return v
}

func report(id, unit string, value float64) {
	name, variant, _ := strings.Cut(id, "/")
	if variant != "" {
		fmt.Printf("workload=%s variant=%s unit=%s value=%.6g\n", name, variant, unit, value)
	} else {
		fmt.Printf("workload=%s unit=%s value=%.6g\n", name, unit, value)
	}
}

// check: exits loudly unless got == want.
func check(id, what string, got, want int64) {
	if got != want {
		fmt.Fprintf(os.Stderr, "go %s: FAILED: %s is %d, want %d\n", id, what, got, want)
		os.Exit(1)
	}
}

func perOp(d time.Duration, ops int, unit time.Duration) float64 {
	return float64(d) / float64(unit) / float64(ops)
}

func sumBelow(n int) int64 { return int64(n) * int64(n-1) / 2 }

func spawn(id string, scale float64, procs int) {
	runtime.GOMAXPROCS(procs)
	n := scaled(spawnTasks, scale, 1)
	var counter int64
	var wg sync.WaitGroup
	start := time.Now()
	for done := 0; done < n; done += spawnWave {
		wave := n - done
		if wave > spawnWave {
			wave = spawnWave
		}
		for i := 0; i < wave; i++ {
			wg.Add(1)
			go func() {
				atomic.AddInt64(&counter, 1)
				wg.Done()
			}()
		}
		wg.Wait()
	}
	elapsed := time.Since(start)
	check(id, "counter", atomic.LoadInt64(&counter), int64(n))
	report(id, "ns_per_op", perOp(elapsed, n, time.Nanosecond))
}

// pingpong: n round trips over the rendezvous channels a (ping -> pong) and b (pong -> ping);
// returns the sum of the replies ping got and the number of requests pong served.
func pingpong(n int, lock bool) (replies, served int64) {
	a, b := make(chan int), make(chan int)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if lock {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		for i := 0; i < n; i++ {
			a <- i
			replies += int64(<-b)
		}
	}()
	go func() {
		defer wg.Done()
		if lock {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
		}
		for i := 0; i < n; i++ {
			v := <-a
			served++
			b <- v + 1
		}
	}()
	wg.Wait()
	return
}

func pingpongLocal(id string, scale float64) {
	runtime.GOMAXPROCS(1)
	n := scaled(pingpongLocalTrips, scale, 1)
	start := time.Now()
	replies, served := pingpong(n, false)
	elapsed := time.Since(start)
	check(id, "requests served", served, int64(n))
	check(id, "sum of replies", replies, sumBelow(n+1))
	report(id, "ns_per_op", perOp(elapsed, n, time.Nanosecond))
}

func pingpongCross(id string, scale float64, lock bool) {
	runtime.GOMAXPROCS(2)
	n := scaled(pingpongCrossTrips, scale, 1)
	start := time.Now()
	replies, served := pingpong(n, lock)
	elapsed := time.Since(start)
	check(id, "requests served", served, int64(n))
	check(id, "sum of replies", replies, sumBelow(n+1))
	report(id, "us_per_op", perOp(elapsed, n, time.Microsecond))
}

func spscLocal(id string, scale float64) {
	runtime.GOMAXPROCS(1)
	n := scaled(spscMessages, scale, 1)
	ch := make(chan int, spscCapacity)
	var sum, count int64
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			ch <- i
		}
		close(ch)
	}()
	go func() {
		defer wg.Done()
		for v := range ch {
			sum += int64(v)
			count++
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	check(id, "messages received", count, int64(n))
	check(id, "sum received", sum, sumBelow(n))
	report(id, "ns_per_op", perOp(elapsed, n, time.Nanosecond))
}

func mpmcCross(id string, scale float64) {
	runtime.GOMAXPROCS(2)
	per := scaled(mpmcMessages/mpmcProducers, scale, 1)
	n := per * mpmcProducers
	ch := make(chan int, mpmcCapacity)
	var sum, count int64
	var producersLeft int64 = mpmcProducers
	var wg sync.WaitGroup
	wg.Add(mpmcProducers + mpmcConsumers)
	start := time.Now()
	for p := 0; p < mpmcProducers; p++ {
		go func(lo, hi int) {
			defer wg.Done()
			for i := lo; i < hi; i++ {
				ch <- i
			}
			if atomic.AddInt64(&producersLeft, -1) == 0 {
				close(ch) // the last producer closes
			}
		}(p*per, (p+1)*per)
	}
	for c := 0; c < mpmcConsumers; c++ {
		go func() {
			defer wg.Done()
			var s, k int64
			for v := range ch {
				s += int64(v)
				k++
			}
			atomic.AddInt64(&sum, s)
			atomic.AddInt64(&count, k)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(id, "messages received", count, int64(n))
	check(id, "sum received", sum, sumBelow(n))
	report(id, "mmsg_per_s", float64(n)/elapsed.Seconds()/1e6)
}

// vmRSS: the process's resident set size in bytes, from /proc/self/status.
func vmRSS(id string) int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fmt.Fprintf(os.Stderr, "go %s: FAILED: %v\n", id, err)
		os.Exit(1)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "VmRSS:") {
			continue
		}
		fields := strings.Fields(line) // "VmRSS:", the number, "kB"
		if len(fields) == 3 && fields[2] == "kB" {
			if kb, err := strconv.ParseInt(fields[1], 10, 64); err == nil {
				return kb * 1024
			}
		}
	}
	fmt.Fprintf(os.Stderr, "go %s: FAILED: no VmRSS in /proc/self/status\n", id)
	os.Exit(1)
	return 0
}

func parkedMemory(id string, scale float64) {
	runtime.GOMAXPROCS(1)
	n := scaled(parkedTasks, scale, 1)
	ch := make(chan int)
	var parked, sum int64
	var wg sync.WaitGroup
	wg.Add(n)
	before := vmRSS(id)
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			atomic.AddInt64(&parked, 1)
			v := <-ch
			atomic.AddInt64(&sum, int64(v))
		}()
	}
	for atomic.LoadInt64(&parked) < int64(n) {
		runtime.Gosched()
	}
	runtime.Gosched() // the last one reaches its receive
	after := vmRSS(id)
	for i := 1; i <= n; i++ {
		ch <- i
	}
	wg.Wait()
	check(id, "sum received", atomic.LoadInt64(&sum), sumBelow(n+1))
	report(id, "bytes_per_task", float64(after-before)/float64(n))
}

// spawnLive: 100,000 goroutines that all stay alive, parked on one channel; the time per
// goroutine until the last has started.
func spawnLive(id string, scale float64, procs int) {
	runtime.GOMAXPROCS(procs)
	n := scaled(spawnLiveTasks, scale, 1)
	ch := make(chan int)
	var started, sum int64
	var wg sync.WaitGroup
	wg.Add(n)
	start := time.Now()
	for i := 0; i < n; i++ {
		go func() {
			defer wg.Done()
			atomic.AddInt64(&started, 1)
			v := <-ch
			atomic.AddInt64(&sum, int64(v))
		}()
	}
	for atomic.LoadInt64(&started) < int64(n) {
		runtime.Gosched()
	}
	elapsed := time.Since(start)
	for i := 1; i <= n; i++ {
		ch <- i
	}
	wg.Wait()
	check(id, "sum received", atomic.LoadInt64(&sum), sumBelow(n+1))
	report(id, "ns_per_op", perOp(elapsed, n, time.Nanosecond))
}

// sleepers: 10,000 goroutines, goroutine i sleeping 1 + (i*7919)%200 ms; the median (or the
// largest) lateness of their wake-ups, in microseconds.
func sleepers(id string, scale float64, max bool, procs int) {
	runtime.GOMAXPROCS(procs)
	n := scaled(sleeperTasks, scale, 1)
	late := make([]int64, n)
	var reported int64
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func(i int) {
			defer wg.Done()
			d := time.Duration(1+(i*7919)%sleeperMaxMs) * time.Millisecond
			start := time.Now()
			time.Sleep(d)
			late[i] = int64(time.Since(start) - d)
			atomic.AddInt64(&reported, 1)
		}(i)
	}
	wg.Wait()
	check(id, "sleepers that reported", atomic.LoadInt64(&reported), int64(n))
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	v := late[n/2]
	if max {
		v = late[n-1]
	}
	report(id, "us", float64(v)/1000)
}

func yieldSwitch(id string, scale float64) {
	runtime.GOMAXPROCS(1)
	half := scaled(yieldSwitches/2, scale, 1)
	var counts [2]int64
	var wg sync.WaitGroup
	wg.Add(2)
	start := time.Now()
	for t := 0; t < 2; t++ {
		go func(t int) {
			defer wg.Done()
			for i := 0; i < half; i++ {
				runtime.Gosched()
				counts[t]++
			}
		}(t)
	}
	wg.Wait()
	elapsed := time.Since(start)
	check(id, "yields", counts[0]+counts[1], int64(2*half))
	report(id, "ns_per_op", perOp(elapsed, 2*half, time.Nanosecond))
}

func selectLocal(id string, scale float64) {
	runtime.GOMAXPROCS(1)
	per := scaled(selectCount/selectChannels, scale, 1)
	n := per * selectChannels
	var chans [selectChannels]chan int
	for i := range chans {
		chans[i] = make(chan int)
	}
	var wg sync.WaitGroup
	wg.Add(selectChannels + 1)
	start := time.Now()
	for p := 0; p < selectChannels; p++ {
		go func(p int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				chans[p] <- p*per + i
			}
		}(p)
	}
	var sum, count int64
	go func() {
		defer wg.Done()
		for i := 0; i < n; i++ {
			select {
			case v := <-chans[0]:
				sum += int64(v)
			case v := <-chans[1]:
				sum += int64(v)
			case v := <-chans[2]:
				sum += int64(v)
			case v := <-chans[3]:
				sum += int64(v)
			}
			count++
		}
	}()
	wg.Wait()
	elapsed := time.Since(start)
	check(id, "selects", count, int64(n))
	check(id, "sum received", sum, sumBelow(n))
	report(id, "ns_per_op", perOp(elapsed, n, time.Nanosecond))
}
