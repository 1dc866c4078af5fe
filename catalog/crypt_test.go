package catalog

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vmarchive/vmarchive/catalog/backend"
	"github.com/vmarchive/vmarchive/catalog/format"
)

// Key files made by this package's tests use argon2id at its cheapest;
// TestDefaultKDF in package format runs the real parameters.
func init() { kdfParams = format.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1} }

const testPassword = "correct horse battery staple 7f3a"

// secretChunk is a chunk whose plaintext must never show in the store:
// random, so a plain repository stores it raw and the grep finds it there.
var secretChunk = testDisk(99, 1, MinChunkSize)[:MinChunkSize]

func pw(s string) func() ([]byte, error) { return func() ([]byte, error) { return []byte(s), nil } }

// encryptedFixture is an encrypted repository holding two points of VM
// "finance-db-7f3a" with a text chunk, random chunks and zeros, and a
// captured config file.
func encryptedFixture(t *testing.T) (*Repo, []byte) {
	t.Helper()
	r := TestEncryptedRepo(t, testPassword)
	disk := testDiskWithSecret(MinChunkSize) // TestWritePoint cuts MinChunkSize pieces
	t0 := time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC)
	TestWritePoint(t, r, "finance-db-7f3a", t0, map[string][]byte{"scsi0-payroll": disk})
	writePointWithConfig(t, r, "finance-db-7f3a", t0.Add(time.Hour), disk, []byte("displayName = \"finance-db-7f3a-vmx\"\n"))
	return r, disk
}

func testDiskWithSecret(cs int) []byte {
	disk := testDisk(7, 6, cs)
	copy(disk[cs:2*cs], secretChunk) // chunk 1 is the secret chunk
	return disk
}

// writePointWithConfig commits a point of one disk and a captured config file.
func writePointWithConfig(t *testing.T, r *Repo, vm string, when time.Time, disk, vmx []byte) *Manifest {
	t.Helper()
	return TestWritePointConfig(t, r, vm, when, map[string][]byte{"scsi0-payroll": disk}, map[string][]byte{"finance.vmx": vmx})
}

func readDisk(t *testing.T, r *Repo, p *Manifest, disk string) []byte {
	t.Helper()
	d, err := r.OpenDisk(context.Background(), p, disk)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestEncryptedRoundTrip(t *testing.T) {
	ctx := context.Background()
	r, disk := encryptedFixture(t)
	if c := r.Config(); !r.Encrypted() || c.Encryption != format.EncryptionAES256GCM || c.Version != 2 || c.Chunking == nil || c.Chunking.Avg != MinChunkSize {
		t.Fatalf("config %+v", c)
	}
	// Ids are keyed: the plain BLAKE3 of a chunk names no object.
	if r.HashChunk(secretChunk) == HashChunk(secretChunk) {
		t.Fatal("encrypted repository hashes chunks unkeyed")
	}
	objs := storeObjects(t, r)
	if _, ok := objs[HashChunk(secretChunk).ObjectName()]; ok {
		t.Fatal("an object is named by the unkeyed hash")
	}
	if _, ok := objs[r.HashChunk(secretChunk).ObjectName()]; !ok {
		t.Fatal("no object named by the keyed hash of the secret chunk")
	}
	pts, err := r.Points("")
	if err != nil || len(pts) != 2 {
		t.Fatalf("points: %v %v", pts, err)
	}
	for _, p := range pts {
		if !bytes.Equal(readDisk(t, r, p, "scsi0-payroll"), disk) {
			t.Fatalf("%s reads back differently", p.ID())
		}
	}
	vmx, err := r.ReadBlob(ctx, pts[1].Config["finance.vmx"].ID, 1<<20)
	if err != nil || !strings.Contains(string(vmx), "finance-db-7f3a-vmx") {
		t.Fatalf("config blob: %q %v", vmx, err)
	}
	// The same data again stores nothing new (dedup by keyed id).
	n := len(storeObjects(t, r))
	TestWritePoint(t, r, "other", time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), map[string][]byte{"scsi0-payroll": disk})
	if len(storeObjects(t, r)) != n {
		t.Fatal("identical data stored again")
	}
	res, err := r.Check(ctx, CheckOptions{ReadData: true})
	if err != nil || !res.OK() {
		t.Fatalf("check: %+v %v", res, err)
	}
	// Reopened with the password, it reads the same.
	dir := r.Dir()
	r.Close()
	r2, err := Open(ctx, dir, Options{Password: pw(testPassword)})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if a, b := r2.Config(), r.Config(); !reflect.DeepEqual(a, b) {
		t.Fatalf("config after reopen %+v, want %+v", a, b)
	}
	p, err := r2.Point("finance-db-7f3a", "latest")
	if err != nil || !bytes.Equal(readDisk(t, r2, p, "scsi0-payroll"), disk) {
		t.Fatalf("after reopen: %v", err)
	}
	// Forget and gc work through the hashed manifest names.
	if err := r2.Forget(ctx, "other", []time.Time{time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)}); err != nil {
		t.Fatal(err)
	}
	if err := r2.Forget(ctx, "finance-db-7f3a", []time.Time{pts[0].Time}); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Backend().Get(ctx, r2.manifestName(pts[0].ID())); !errors.Is(err, backend.ErrNotFound) {
		t.Fatalf("forgotten manifest still stored: %v", err)
	}
	gres, err := r2.GC(ctx, GCOptions{})
	if err != nil || len(gres.Warnings) != 0 || len(gres.Adopted) != 0 {
		t.Fatalf("gc: %+v %v", gres, err)
	}
	if res, err := r2.Check(ctx, CheckOptions{ReadData: true}); err != nil || !res.OK() || res.Points != 1 {
		t.Fatalf("check after gc: %+v %v", res, err)
	}
}

// TestEncryptedStoreHidesNames greps every byte under store/ for the
// plaintext of a known chunk, the VM, disk and config file names, the
// captured config's text, the point's time and the password; the same
// grep of a plain repository finds them (so it can fail).
func TestEncryptedStoreHidesNames(t *testing.T) {
	secrets := map[string][]byte{
		"chunk bytes": secretChunk[1000:1064],
		"VM name":     []byte("finance-db-7f3a"),
		"disk name":   []byte("scsi0-payroll"),
		"config name": []byte("finance.vmx"),
		"config text": []byte("finance-db-7f3a-vmx"),
		"point time":  []byte("2026-11-20T01"),
		"password":    []byte(testPassword),
	}
	r, _ := encryptedFixture(t)
	found := grepTree(t, filepath.Join(r.Dir(), storeDir), secrets)
	if len(found) != 0 {
		t.Fatalf("the encrypted store shows: %s", strings.Join(found, "; "))
	}
	// The catalog is a local index with plaintext manifests, but never the
	// password.
	if found := grepTree(t, r.Dir(), map[string][]byte{"password": []byte(testPassword)}); len(found) != 0 {
		t.Fatalf("the repository holds the password: %v", found)
	}
	plain := TestRepo(t)
	disk := testDiskWithSecret(MinChunkSize)
	writePointWithConfig(t, plain, "finance-db-7f3a", time.Date(2026, 11, 20, 1, 0, 0, 0, time.UTC), disk, []byte("displayName = \"finance-db-7f3a-vmx\"\n"))
	found = grepTree(t, filepath.Join(plain.Dir(), storeDir), secrets)
	kinds := map[string]bool{}
	for _, f := range found {
		kinds[strings.SplitN(f, " in ", 2)[0]] = true
	}
	if len(kinds) != len(secrets)-1 { // all but the password
		t.Fatalf("the grep finds only %v in a plain store", found)
	}
}

// grepTree returns "what in file" for every secret found in a file name
// or file under root.
func grepTree(t *testing.T, root string, secrets map[string][]byte) []string {
	t.Helper()
	var found []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var b []byte
		if d.Type().IsRegular() {
			if b, err = os.ReadFile(p); err != nil {
				return err
			}
		}
		for what, s := range secrets {
			if bytes.Contains(b, s) || strings.Contains(p, string(s)) {
				found = append(found, what+" in "+p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(found)
	return slices.Compact(found)
}

// recordingBackend records the names of the objects read.
type recordingBackend struct {
	backend.Backend
	mu   sync.Mutex
	gets []string
}

func (b *recordingBackend) Get(ctx context.Context, name string) ([]byte, error) {
	b.mu.Lock()
	b.gets = append(b.gets, name)
	b.mu.Unlock()
	return b.Backend.Get(ctx, name)
}

func TestWrongPassword(t *testing.T) {
	ctx := context.Background()
	r, _ := encryptedFixture(t)
	dir := r.Dir()
	r.Close()
	rec := &recordingBackend{}
	wrap := func(b backend.Backend) backend.Backend { rec.Backend = b; return rec }
	_, err := Open(ctx, dir, Options{Password: pw("Correct horse battery staple 7f3a"), WrapBackend: wrap})
	if !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "orrect horse") {
		t.Fatalf("the error shows the password: %v", err)
	}
	for _, name := range rec.gets {
		if !strings.HasPrefix(name, format.KeyPrefix) {
			t.Errorf("read %s with a wrong password", name)
		}
	}
	if len(rec.gets) == 0 {
		t.Error("no key file read")
	}
	if _, err := Open(ctx, dir, Options{}); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("no password: %v", err)
	}
	if _, err := Rebuild(ctx, dir, Options{Password: pw("nope")}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("rebuild with a wrong password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, catalogDir)); err != nil {
		t.Fatalf("a refused rebuild lost the catalog: %v", err)
	}
	if _, err := Init(ctx, filepath.Join(t.TempDir(), "r"), InitOptions{Encrypt: true}); err == nil {
		t.Fatal("encrypted init without a password accepted")
	}
}

func TestKeysAddRemoveChange(t *testing.T) {
	ctx := context.Background()
	r, disk := encryptedFixture(t)
	dir := r.Dir()
	keys, err := r.Keys(ctx)
	if err != nil || len(keys) != 1 || !keys[0].Current || keys[0].KDF != "argon2id" {
		t.Fatalf("keys: %+v %v", keys, err)
	}
	first := keys[0].ID
	if err := r.RemoveKey(ctx, first); !errors.Is(err, ErrLastKey) {
		t.Fatalf("removing the only key: %v", err)
	}
	second, err := r.AddKey(ctx, []byte("second password"))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveKey(ctx, first); err == nil || !strings.Contains(err.Error(), "opened the repository with") {
		t.Fatalf("removing the key in use: %v", err)
	}
	r.Close()

	// Opened with the second password, the first key goes.
	r, err = Open(ctx, dir, Options{Password: pw("second password")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.RemoveKey(ctx, "0123456789abcdef"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removing an unknown key: %v", err)
	}
	if err := r.RemoveKey(ctx, first); err != nil {
		t.Fatal(err)
	}
	if keys, _ := r.Keys(ctx); len(keys) != 1 || keys[0].ID != second.ID || !keys[0].Current {
		t.Fatalf("keys after remove: %+v", keys)
	}
	if err := r.RemoveKey(ctx, second.ID); !errors.Is(err, ErrLastKey) {
		t.Fatalf("removing the last key: %v", err)
	}
	r.Close()
	if _, err := Open(ctx, dir, Options{Password: pw(testPassword)}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("removed key's password: %v", err)
	}

	// A new password replaces the second; the second no longer opens.
	r, err = Open(ctx, dir, Options{Password: pw("second password")})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.ChangePassword(ctx, []byte("third password")); err != nil {
		t.Fatal(err)
	}
	keys, _ = r.Keys(ctx)
	if len(keys) != 1 || keys[0].ID == second.ID || !keys[0].Current {
		t.Fatalf("keys after change: %+v", keys)
	}
	r.Close()
	if _, err := Open(ctx, dir, Options{Password: pw("second password")}); !errors.Is(err, ErrWrongPassword) {
		t.Fatalf("old password after change: %v", err)
	}
	r, err = Open(ctx, dir, Options{Password: pw("third password")})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	p, _ := r.Point("finance-db-7f3a", "latest")
	if !bytes.Equal(readDisk(t, r, p, "scsi0-payroll"), disk) {
		t.Fatal("data differs after key changes")
	}
	if found := grepTree(t, dir, map[string][]byte{"1": []byte("second password"), "2": []byte("third password")}); len(found) != 0 {
		t.Fatalf("passwords stored: %v", found)
	}
	// A damaged key file is listed as such and may always be removed.
	k, _ := r.AddKey(ctx, []byte("fourth"))
	flip(t, r, format.KeyPrefix+k.ID, func(n int) int { return n / 2 })
	keys, err = r.Keys(ctx)
	if err != nil || len(keys) != 2 || keys[1].ID != k.ID || !strings.Contains(keys[1].Damaged, "damaged") {
		t.Fatalf("keys with a damaged one: %+v %v", keys, err)
	}
	if err := r.RemoveKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if keys, _ = r.Keys(ctx); len(keys) != 1 {
		t.Fatalf("keys after removing the damaged one: %+v", keys)
	}
	plain := TestRepo(t)
	if _, err := plain.AddKey(ctx, []byte("x")); err == nil {
		t.Fatal("a plain repository took a key")
	}
}

func TestEncryptedRebuildFromStoreAlone(t *testing.T) {
	ctx := context.Background()
	r, disk := encryptedFixture(t)
	dir := r.Dir()
	before, _ := r.Points("")
	r.Close()
	if err := os.RemoveAll(filepath.Join(dir, catalogDir)); err != nil {
		t.Fatal(err)
	}
	if _, err := Rebuild(ctx, dir, Options{}); !errors.Is(err, ErrNoPassword) {
		t.Fatalf("rebuild without password: %v", err)
	}
	res, err := Rebuild(ctx, dir, Options{Password: pw(testPassword)})
	if err != nil || res.Points != 2 || res.Missing != 0 || len(res.Warnings) != 0 {
		t.Fatalf("rebuild: %+v %v", res, err)
	}
	r, err = Open(ctx, dir, Options{Password: pw(testPassword)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	after, _ := r.Points("")
	if len(after) != len(before) {
		t.Fatalf("%d points after rebuild, want %d", len(after), len(before))
	}
	for i := range after {
		a, _ := before[i].Encode()
		b, _ := after[i].Encode()
		if !bytes.Equal(a, b) {
			t.Fatalf("point %d differs after rebuild", i)
		}
		if !bytes.Equal(readDisk(t, r, after[i], "scsi0-payroll"), disk) {
			t.Fatalf("point %d reads differently after rebuild", i)
		}
	}
	if res, err := r.Check(ctx, CheckOptions{ReadData: true}); err != nil || !res.OK() {
		t.Fatalf("check after rebuild: %+v %v", res, err)
	}
	// gc adopts a manifest the catalog lacks (as after a kill between the
	// manifest and the catalog batch): forget the point, then put its
	// sealed manifest back.
	name := r.manifestName(after[0].ID())
	sealed, err := r.Backend().Get(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Forget(ctx, after[0].VM, []time.Time{after[0].Time}); err != nil {
		t.Fatal(err)
	}
	if err := r.Backend().Put(ctx, name, sealed); err != nil {
		t.Fatal(err)
	}
	g, err := r.GC(ctx, GCOptions{})
	if err != nil || len(g.Adopted) != 1 || g.Adopted[0] != after[0].ID().String() || g.DeletedObjects != 0 {
		t.Fatalf("gc: %+v %v", g, err)
	}
	if p, err := r.PointByID(after[0].ID()); err != nil || !bytes.Equal(readDisk(t, r, p, "scsi0-payroll"), disk) {
		t.Fatalf("adopted point: %v", err)
	}
}

// TestEncryptedFlippedBytes flips one byte of every kind of object an
// encrypted repository stores and checks that the damage is found as
// corruption naming the object, as in a plain repository.
func TestEncryptedFlippedBytes(t *testing.T) {
	ctx := context.Background()
	type target struct {
		name string
		obj  func(r *Repo) string // store name
		at   func(n int) int      // which byte of n
	}
	mid := func(n int) int { return n / 2 }
	var targets []target
	for _, at := range []struct {
		where string
		at    func(int) int
	}{{"nonce", func(int) int { return 0 }}, {"ciphertext", mid}, {"tag", func(n int) int { return n - 1 }}} {
		targets = append(targets, target{"data chunk " + at.where, func(r *Repo) string { return r.HashChunk(secretChunk).ObjectName() }, at.at})
	}
	targets = append(targets, target{"config blob", func(r *Repo) string {
		p, _ := r.Point("finance-db-7f3a", "latest")
		return p.Config["finance.vmx"].ID.ObjectName()
	}, mid})
	// Every kind of map block the walk reports.
	probe, _ := encryptedFixture(t)
	p0, _ := probe.Point("finance-db-7f3a", "latest")
	kinds := map[string]bool{}
	probe.walkMap(ctx, p0, &p0.Disks[0], func(kind string, id ChunkID, off, _ int64, err error) {
		if kind != "data" && !kinds[kind] {
			kinds[kind] = true
			targets = append(targets, target{kind, func(r *Repo) string {
				var name string
				p, _ := r.Point("finance-db-7f3a", "latest")
				r.walkMap(ctx, p, &p.Disks[0], func(k string, id ChunkID, off, _ int64, err error) {
					if k == kind && name == "" {
						name = id.ObjectName()
					}
				})
				return name
			}, mid})
		}
	})
	if len(kinds) == 0 {
		t.Fatal("the map walk reports no map block")
	}
	for _, tg := range targets {
		t.Run(tg.name, func(t *testing.T) {
			r, _ := encryptedFixture(t)
			name := tg.obj(r)
			flip(t, r, name, tg.at)
			r = reopen(t, r) // nothing from before the damage in the cache
			id, err := ParseChunkID(name[strings.LastIndex(name, "/")+1:])
			if err != nil {
				t.Fatal(err)
			}
			res, err := r.Check(ctx, CheckOptions{ReadData: true})
			if err != nil {
				t.Fatal(err)
			}
			probs := append(res.Problems, res.Data.Problems...)
			i := slices.IndexFunc(probs, func(pr Problem) bool { return pr.ID == id })
			if i < 0 {
				t.Fatalf("check missed the damage: %+v", res)
			}
			pr := probs[i]
			t.Logf("%s", pr.Err)
			if pr.Missing || len(pr.Uses) == 0 || !strings.Contains(pr.Err, id.String()) && !strings.Contains(pr.Err, "map") || !strings.Contains(pr.Err, ErrCorrupt.Error()) || pr.Quarantined != QuarantineName(id) {
				t.Fatalf("problem: %+v", pr)
			}
		})
	}
	t.Run("data chunk read", func(t *testing.T) {
		r, _ := encryptedFixture(t)
		flip(t, r, r.HashChunk(secretChunk).ObjectName(), mid)
		r = reopen(t, r)
		p, _ := r.Point("finance-db-7f3a", "latest")
		d, err := r.OpenDisk(ctx, p, "scsi0-payroll")
		if err != nil {
			t.Fatal(err)
		}
		cs := MinChunkSize
		_, err = d.ReadAt(make([]byte, 10), int64(cs)+5)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), r.HashChunk(secretChunk).String()) || !strings.Contains(err.Error(), "offset") {
			t.Fatalf("read of a damaged chunk: %v", err)
		}
	})
	t.Run("swapped objects", func(t *testing.T) {
		// Another object's sealed bytes under a name fail to open: a data
		// object under a chunk's name, one point's manifest under another's.
		r, _ := encryptedFixture(t)
		pts, _ := r.Points("")
		chunk := r.HashChunk(secretChunk).ObjectName()
		swap := func(from, to string) {
			b, err := r.Backend().Get(ctx, from)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(r.Dir(), storeDir, filepath.FromSlash(to)), b, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		swap(pts[1].Config["finance.vmx"].ID.ObjectName(), chunk)
		swap(r.manifestName(pts[1].ID()), r.manifestName(pts[0].ID()))
		r = reopen(t, r)
		res, err := r.Check(ctx, CheckOptions{ReadData: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Data.Problems) != 1 || res.Data.Problems[0].ID != r.HashChunk(secretChunk) || !strings.Contains(res.Data.Problems[0].Err, ErrCorrupt.Error()) {
			t.Fatalf("swapped chunk: %+v", res.Data.Problems)
		}
		if len(res.Manifests) != 1 || !strings.Contains(res.Manifests[0], pts[0].ID().String()) || !strings.Contains(res.Manifests[0], ErrCorrupt.Error()) {
			t.Fatalf("swapped manifest: %v", res.Manifests)
		}
	})
	t.Run("manifest", func(t *testing.T) {
		r, _ := encryptedFixture(t)
		p, _ := r.Point("finance-db-7f3a", "latest")
		name := r.manifestName(p.ID())
		flip(t, r, name, mid)
		r = reopen(t, r)
		res, err := r.Check(ctx, CheckOptions{})
		t.Logf("%s", res.Manifests)
		if err != nil || len(res.Manifests) != 1 || !strings.Contains(res.Manifests[0], p.ID().String()) || !strings.Contains(res.Manifests[0], ErrCorrupt.Error()) {
			t.Fatalf("check: %+v %v", res.Manifests, err)
		}
		if _, err := r.GC(ctx, GCOptions{}); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), name) {
			t.Fatalf("gc: %v", err)
		}
		dir := r.Dir()
		r.Close()
		rb, err := Rebuild(ctx, dir, Options{Password: pw(testPassword)})
		if err != nil || rb.Points != 1 || len(rb.Warnings) != 1 || !strings.Contains(rb.Warnings[0], name) {
			t.Fatalf("rebuild: %+v %v", rb, err)
		}
	})
	for _, tg := range []struct {
		name string
		obj  func(r *Repo) string
	}{
		{"sealed config", func(*Repo) string { return format.SealedConfigName }},
		{"key file", func(r *Repo) string { return format.KeyPrefix + r.crypt.keyID }},
		{"plain config", func(*Repo) string { return configName }},
	} {
		t.Run(tg.name, func(t *testing.T) {
			r, _ := encryptedFixture(t)
			name := tg.obj(r)
			at := mid
			if name == configName {
				b, _ := r.Backend().Get(ctx, name)
				at = func(int) int { return bytes.Index(b, []byte(r.Config().ID)) + 3 }
			}
			flip(t, r, name, at)
			dir := r.Dir()
			r.Close()
			_, err := Open(ctx, dir, Options{Password: pw(testPassword)})
			t.Logf("%v", err)
			if !errors.Is(err, ErrCorrupt) || name != configName && !strings.Contains(err.Error(), name) {
				t.Fatalf("open: %v", err)
			}
		})
	}
}

// flip flips a byte of the object called name in r's store.
func flip(t *testing.T, r *Repo, name string, at func(n int) int) {
	t.Helper()
	p := filepath.Join(r.Dir(), storeDir, filepath.FromSlash(name))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[at(len(b))] ^= 0x01
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// reopen closes r and opens its repository again, closed when the test ends.
func reopen(t *testing.T, r *Repo) *Repo {
	t.Helper()
	r.Close()
	r, err := Open(context.Background(), r.Dir(), Options{Password: pw(testPassword)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func TestSameChunkIDs(t *testing.T) {
	a, b := TestRepo(t), TestRepo(t)
	e, f := TestEncryptedRepo(t, "x"), TestEncryptedRepo(t, "x")
	if !a.SameChunkIDs(b) || a.SameChunkIDs(e) || e.SameChunkIDs(a) || e.SameChunkIDs(f) || !e.SameChunkIDs(e) {
		t.Fatal("SameChunkIDs")
	}
}
