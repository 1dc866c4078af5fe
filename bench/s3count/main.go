// Command s3count is a reverse proxy in front of an S3 server that counts
// the requests passing through it, for bench/s3.sh: per kind (PUT, object
// GET, list, HEAD, DELETE, POST) and bytes each way. GET /__counts (a path
// no bucket can have) answers the counts so far as "kind n" lines.
//
//	s3count -listen 127.0.0.1:19691 -upstream 127.0.0.1:19690
//	s3count -mb -endpoint 127.0.0.1:19690 BUCKET...   (credentials from AWS_*)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

type counts struct {
	mu      sync.Mutex
	byKind  map[string]int64 // guarded by mu
	in, out atomic.Int64     // body bytes to and from the server
}

func kind(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && (q.Has("list-type") || q.Has("prefix") || q.Has("delimiter")):
		return "LIST"
	case r.Method == http.MethodGet && q.Has("location"):
		return "LOCATION"
	}
	return r.Method
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

func main() {
	listen := flag.String("listen", "127.0.0.1:19691", "address to serve")
	upstream := flag.String("upstream", "127.0.0.1:19690", "S3 server host:port")
	mb := flag.Bool("mb", false, "make the buckets named as arguments and exit")
	endpoint := flag.String("endpoint", "127.0.0.1:19690", "with -mb: the server")
	flag.Parse()
	if *mb {
		makeBuckets(*endpoint, flag.Args())
		return
	}
	c := &counts{byKind: map[string]int64{}}
	target, err := url.Parse("http://" + *upstream)
	if err != nil {
		log.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target) // keeps the Host header: it is signed
	rp.ModifyResponse = func(resp *http.Response) error {
		resp.Body = countingBody{resp.Body, &c.out}
		return nil
	}
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	http.HandleFunc("/__counts", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		defer c.mu.Unlock()
		var kinds []string
		for k := range c.byKind {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		for _, k := range kinds {
			fmt.Fprintf(w, "%s %d\n", k, c.byKind[k])
		}
		fmt.Fprintf(w, "BYTES_IN %d\nBYTES_OUT %d\n", c.in.Load(), c.out.Load())
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.byKind[kind(r)]++
		c.mu.Unlock()
		if r.Body != nil {
			r.Body = countingBody{r.Body, &c.in}
		}
		rp.ServeHTTP(w, r)
	})
	fmt.Println("ready")
	log.Fatal(http.ListenAndServe(*listen, nil))
}

func makeBuckets(endpoint string, names []string) {
	cl, err := minio.New(endpoint, &minio.Options{Creds: credentials.NewEnvAWS(), Region: "us-east-1"})
	if err != nil {
		log.Fatal(err)
	}
	for _, b := range names {
		if err := cl.MakeBucket(context.Background(), b, minio.MakeBucketOptions{}); err != nil {
			fmt.Fprintf(os.Stderr, "make bucket %s: %v\n", b, err)
			os.Exit(1)
		}
	}
}
