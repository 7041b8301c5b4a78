// probe: the one program of the test cluster's smoke image, a static binary with no libc.
//
//	probe serve [ADDR]         HTTP server (default :8080): GET / answers "HOSTNAME\n",
//	                           GET /file?path=P answers the file's contents
//	probe get URL              print the body of URL (exit 1 unless 200)
//	probe lookup NAME          resolve NAME with /etc/resolv.conf (search list, ndots) and print the addresses
//	probe write PATH TEXT      write TEXT to PATH (creating its folder)
//	probe cat PATH             print PATH
//	probe sleep SECONDS        sleep
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func die(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "probe: "+format+"\n", a...)
	os.Exit(1)
}

func main() {
	if len(os.Args) < 2 {
		die("usage: probe serve|get|lookup|write|cat|sleep ...")
	}
	args := os.Args[2:]
	switch os.Args[1] {
	case "serve":
		addr := ":8080"
		if len(args) > 0 {
			addr = args[0]
		}
		host, _ := os.Hostname()
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, host) })
		http.HandleFunc("/file", func(w http.ResponseWriter, r *http.Request) {
			b, err := os.ReadFile(r.URL.Query().Get("path"))
			if err != nil {
				http.Error(w, err.Error(), http.StatusNotFound)
				return
			}
			w.Write(b)
		})
		fmt.Println("serving on", addr)
		die("%v", http.ListenAndServe(addr, nil))
	case "get":
		c := http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(args[0])
		if err != nil {
			die("%v", err)
		}
		defer resp.Body.Close()
		io.Copy(os.Stdout, resp.Body)
		if resp.StatusCode != http.StatusOK {
			die("%s: %s", args[0], resp.Status)
		}
	case "lookup":
		r := &net.Resolver{PreferGo: true}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs, err := r.LookupHost(ctx, args[0])
		if err != nil {
			die("%v", err)
		}
		fmt.Println(strings.Join(addrs, " "))
	case "write":
		if err := os.MkdirAll(filepath.Dir(args[0]), 0o755); err != nil {
			die("%v", err)
		}
		if err := os.WriteFile(args[0], []byte(args[1]+"\n"), 0o644); err != nil {
			die("%v", err)
		}
	case "cat":
		b, err := os.ReadFile(args[0])
		if err != nil {
			die("%v", err)
		}
		os.Stdout.Write(b)
	case "sleep":
		s, _ := strconv.Atoi(args[0])
		time.Sleep(time.Duration(s) * time.Second)
	default:
		die("unknown command %q", os.Args[1])
	}
}
