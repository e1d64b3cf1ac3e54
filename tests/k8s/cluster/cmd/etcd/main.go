// Command etcd is the etcd server, built from the go.etcd.io/etcd/server/v3 module that the
// pinned Kubernetes release requires (etcd's own main package lives in a module of its own).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
