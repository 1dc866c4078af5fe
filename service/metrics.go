package service

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vmarchive/vmarchive/catalog"
)

// collector computes the metrics at each scrape from the run history and
// the catalog, so they are right after a restart too.
type collector struct{ s *Service }

var (
	mLastRun  = desc("job_last_run_timestamp_seconds", "Start of the job's last finished run.", "job")
	mDuration = desc("job_last_run_duration_seconds", "Duration of the job's last finished run.", "job")
	mSuccess  = desc("job_last_run_success", "1 if the job's last finished run succeeded.", "job")
	mRunning  = desc("job_running", "1 while a run of the job is going on.", "job")
	mRead     = desc("job_last_run_read_bytes", "Bytes the job's last run read from its sources.", "job")
	mStored   = desc("job_last_run_stored_bytes", "New bytes the job's last run stored.", "job")
	mReused   = desc("job_last_run_reused_bytes", "Bytes the job's last run found in the repository.", "job")
	mAge      = desc("vm_newest_point_age_seconds", "Age of the VM's newest good point (absent without one).", "job", "vm")
	mLate     = desc("vm_rpo_late", "1 if the VM's newest good point is older than its job's rpo.", "job", "vm")
	mFailed   = desc("vm_last_run_failed", "1 if the VM's last capture or test restore failed.", "job", "vm")
	mPoints   = desc("repository_points", "Points in the repository.")
	mVMs      = desc("repository_vms", "VMs with points in the repository.")
	// From catalog.Repo.Stats, counted in the background once per set of
	// points (absent until the first count ends).
	mLogical = desc("repository_logical_bytes", "Disk sizes as the VMs see them, summed over points.")
	mData    = desc("repository_data_bytes", "Non-zero data of every point, before dedup.")
	mUnique  = desc("repository_unique_bytes", "Data of the distinct chunks, after dedup.")
	mStoredR = desc("repository_stored_bytes", "What the distinct chunks take in the store, compressed.")
	// The service's own mount (mount:).
	mMountRead   = desc("mount_read_bytes_total", "Bytes read through the service's mount.")
	mMountErrors = desc("mount_read_errors_total", "Reads through the service's mount that failed.")
)

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("vmarchive_"+name, help, labels, nil)
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{mLastRun, mDuration, mSuccess, mRunning, mRead, mStored, mReused, mAge, mLate, mFailed, mPoints, mVMs,
		mLogical, mData, mUnique, mStoredR, mMountRead, mMountErrors} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	jobs, err := c.s.Jobs()
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	for _, j := range jobs {
		gauge(mRunning, bool01(j.Running != nil), j.Name)
		if r := j.Last; r != nil {
			gauge(mLastRun, float64(r.Start.UnixNano())/1e9, j.Name)
			gauge(mDuration, r.End.Sub(r.Start).Seconds(), j.Name)
			gauge(mSuccess, bool01(r.Result == ResultOK), j.Name)
			var read, stored, reused int64
			for _, v := range r.VMs {
				read, stored, reused = read+v.Read, stored+v.Stored, reused+v.Reused
			}
			gauge(mRead, float64(read), j.Name)
			gauge(mStored, float64(stored), j.Name)
			gauge(mReused, float64(reused), j.Name)
		}
		for _, v := range j.VMs {
			if !v.Newest.IsZero() {
				gauge(mAge, v.Age, j.Name, v.VM)
			}
			gauge(mLate, bool01(v.Late), j.Name, v.VM)
			gauge(mFailed, bool01(v.LastRun == ResultFailed), j.Name, v.VM)
		}
	}
	c.repository(gauge)
	if c.s.config().Mount != "" {
		ch <- prometheus.MustNewConstMetric(mMountRead, prometheus.CounterValue, float64(c.s.mountCounters.ReadBytes.Load()))
		ch <- prometheus.MustNewConstMetric(mMountErrors, prometheus.CounterValue, float64(c.s.mountCounters.ReadErrors.Load()))
	}
}

// repository counts VMs and points from the catalog's keys.
func (c *collector) repository(gauge func(*prometheus.Desc, float64, ...string)) {
	vms, err := c.s.repo.VMs()
	if err != nil {
		c.s.log.Error("metrics", "err", err)
		return
	}
	n, key := 0, catalog.NewPointsKey()
	for _, vm := range vms {
		t, err := c.s.repo.PointTimes(vm)
		if err != nil {
			c.s.log.Error("metrics", "err", err)
			return
		}
		n += len(t)
		key.Add(vm, t)
	}
	gauge(mPoints, float64(n))
	gauge(mVMs, float64(len(vms)))
	st, _, _, err := c.s.stats.Get(context.Background(), c.s.repo, key.Sum(), 0)
	if err != nil {
		c.s.log.Error("metrics: repository figures", "err", err)
	}
	if st != nil {
		gauge(mLogical, float64(st.Logical))
		gauge(mData, float64(st.Data))
		gauge(mUnique, float64(st.Unique))
		gauge(mStoredR, float64(st.Stored))
	}
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
