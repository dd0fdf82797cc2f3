// net_server.go: the Go echo server of bench/compare_net.
//
// Usage: net_go SIZE
//
// Listens on 127.0.0.1 (a free port, printed as "port=N" on stdout) and echoes SIZE-byte
// messages on every connection, as the other net_server peers do, with the code a Go user
// would write: GOMAXPROCS=1, one goroutine per connection doing io.ReadFull of one message
// from the net.Conn and Write of it back (Go sets TCP_NODELAY on every connection).
//
// Build (no modules, no downloads): GO111MODULE=off go build -o net_go net_server.go
package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
)

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

func main() {
	size := 0
	if len(os.Args) == 2 {
		size, _ = strconv.Atoi(os.Args[1])
	}
	if size <= 0 {
		fmt.Fprintln(os.Stderr, "usage: net_go SIZE")
		os.Exit(2)
	}
	runtime.GOMAXPROCS(1)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "net_go:", err)
		os.Exit(1)
	}
	fmt.Printf("port=%d\n", ln.Addr().(*net.TCPAddr).Port)
	for {
		c, err := ln.Accept()
		if err != nil {
			fmt.Fprintln(os.Stderr, "net_go:", err)
			os.Exit(1)
		}
		go serve(c, size)
	}
}
