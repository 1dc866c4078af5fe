package service

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/vmarchive/vmarchive/catalog"
	"github.com/vmarchive/vmarchive/ingest/vsphere"
)

// captureVSphere snapshots and captures the job's VMs. A VM's failure is
// its own; failing to log in or to find the VMs fails the run.
func (s *Service) captureVSphere(ctx context.Context, j *JobConfig, sem chan struct{}, add func(VMRun, *catalog.Manifest)) error {
	src := j.VSphere
	cfg := vsphere.Config{URL: src.URL, Username: src.Username, PasswordFile: src.PasswordFile,
		Insecure: src.Insecure, Thumbprint: src.Thumbprint, CACerts: src.CACerts}
	c, err := vsphere.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	vms, err := c.Find(ctx, src.Folder, src.VMs)
	if err != nil {
		return err
	}
	log := s.log.With("job", j.Name)
	opts := vsphere.Options{
		Quiesce: j.Quiesce, CBT: j.CBT, Streams: s.config().Limits.Streams, ViaVCenter: src.ViaVCenter, Limiter: s.limiter(),
		Log:  func(format string, a ...any) { log.Info(fmt.Sprintf(format, a...)) },
		Walk: FileWalker,
	}
	var mu sync.Mutex // add is called serially
	var wg sync.WaitGroup
	for _, vm := range vms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			v := VMRun{VM: vm.Archive, Start: time.Now().UTC()}
			res := c.Backup(ctx, s.repo, vm, opts)
			<-sem
			v.End = time.Now().UTC()
			if res.Manifest != nil {
				figures(&v, res.Manifest)
			}
			if res.Err != nil {
				v.Error = res.Err.Error()
			}
			mu.Lock()
			defer mu.Unlock()
			add(v, res.Manifest)
		}()
	}
	wg.Wait()
	return nil
}
