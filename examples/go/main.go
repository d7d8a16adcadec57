// Command goserver is a TLS server (Go standard library only) whose session tickets use
// keywheel's seeds: every server of a cluster given the same label and main key resumes the
// others' tickets.
//
// keywheel writes the seeds (`keywheel stek --format go`: 32-byte seeds concatenated, current
// first, then next, then previous ones) to a file and rewrites it at every rotation; this
// server re-reads the file when its modification time, size or inode changes (checked every
// -poll) and on SIGHUP, and hands the seeds to Config.SetSessionTicketKeys: the first seed
// encrypts new tickets, all of them decrypt. A file that cannot be read or is not a whole
// number of seeds is reported and the keys in use are kept.
//
//	GOPROXY=off go build
//	./goserver -listen 127.0.0.1:8443 -cert cert.pem -key key.pem -seeds /run/keywheel/web.seeds
package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

const seedLen = 32

// maxSeeds bounds the file: keep ≤ 60478 previous keys (interval ≥ 10 s, 7 days) + 2.
const maxSeeds = 60480

// readSeeds reads a seed file: 1..=maxSeeds seeds of 32 bytes, nothing else.
func readSeeds(path string) ([][32]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	defer wipe(data)
	if len(data) == 0 || len(data)%seedLen != 0 || len(data)/seedLen > maxSeeds {
		return nil, fmt.Errorf("%s is %d bytes; it must be 1..=%d seeds of %d bytes",
			path, len(data), maxSeeds, seedLen)
	}
	seeds := make([][32]byte, len(data)/seedLen)
	for i := range seeds {
		copy(seeds[i][:], data[i*seedLen:])
	}
	return seeds, nil
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}

// fileID is what tells a rewritten file: keywheel replaces it by rename (new inode).
type fileID struct {
	ino   uint64
	size  int64
	mtime time.Time
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		id.ino = st.Ino
	}
	return id, nil
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8443", "address to listen on")
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	seedFile := flag.String("seeds", "", "keywheel's seed file (--format go, raw)")
	poll := flag.Duration("poll", time.Second, "how often to check the seed file for a change")
	flag.Parse()
	if *certFile == "" || *keyFile == "" || *seedFile == "" {
		fmt.Fprintln(os.Stderr, "usage: goserver -cert FILE -key FILE -seeds FILE [-listen ADDR] [-poll DURATION]")
		os.Exit(2)
	}
	if *poll <= 0 {
		fmt.Fprintf(os.Stderr, "error: -poll %v must be positive\n", *poll)
		os.Exit(2)
	}
	cert, err := tls.LoadX509KeyPair(*certFile, *keyFile)
	if err != nil {
		log.Fatalf("error: %v", err)
	}
	config := &tls.Config{Certificates: []tls.Certificate{cert}}

	// The first load must succeed: without it Go would use random keys of its own.
	var last fileID
	load := func() error {
		id, err := statID(*seedFile)
		if err != nil {
			return err
		}
		seeds, err := readSeeds(*seedFile)
		if err != nil {
			return err
		}
		config.SetSessionTicketKeys(seeds) // safe while serving; turns Go's rotation off
		for i := range seeds {
			wipe(seeds[i][:])
		}
		last = id
		log.Printf("info: %d session-ticket seeds loaded from %s", len(seeds), *seedFile)
		return nil
	}
	if err := load(); err != nil {
		log.Fatalf("error: %v", err)
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		tick := time.NewTicker(*poll)
		defer tick.Stop()
		for {
			forced := false
			select {
			case <-tick.C:
			case <-hup:
				forced = true
			}
			id, err := statID(*seedFile)
			if err == nil && id == last && !forced {
				continue
			}
			if err := load(); err != nil {
				log.Printf("error: %v (keeping the keys in use)", err)
			}
		}
	}()

	// Not srv.ListenAndServeTLS: net/http would serve a clone of config, and keys set on
	// config later would never reach it. tls.Listen serves config itself.
	ln, err := tls.Listen("tcp", *listen, config)
	if err != nil {
		log.Fatalf("error: %v", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "ok resumed=%v\n", r.TLS != nil && r.TLS.DidResume)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	log.Printf("info: listening on %s", *listen)
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatalf("error: %v", err)
	}
}
