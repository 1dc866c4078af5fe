// Package catalog is the archive: the repository format, the chunk store,
// its pebble index (the catalog) and the recovery points.
//
// # Repository layout (format version 2, FormatVersion; 1 is still read)
//
//	REPO/lock              flock held by the one process that has the repository open
//	REPO/catalog/          pebble: the index, rebuildable from store/ alone
//	REPO/control/ctl.sock  the holder's socket (package control), in a 0700
//	                       directory; not part of the format (made per run)
//	REPO/control/api.sock  `vmarchive serve`'s typed HTTP API (package service)
//	REPO/store/            the chunk store, a backend.Backend of immutable objects:
//	    config                 JSON Config: format version, repository id, chunking
//	                           (format 2; format 1: chunk_size)
//	    data/<hh>/<id>         a chunk, map block or config blob, named by the
//	                           BLAKE3-256 hex of its plaintext (<hh> = first 2 digits)
//	    points/<vm>/<time>     JSON Manifest of one point, <time> = 2006-01-02T15:04:05Z
//	    quarantine/<id>        an object verify or check found damaged for good,
//	                           moved out of data/ and kept for inspection (Healing)
//	    holds/<vm>/<time>/<until>  empty: the point is locked until <until>
//	                           (20060102T150405Z, UTC); Point locks
//
// A stored object is one encoding byte (0 raw, 1 zstd) followed by the
// payload. An object is stored raw unless zstd shrinks it below 97%.
// Frames written since format 2's file boundaries carry no zstd checksum
// (older ones do; both decode): every read hashes the plaintext against
// the object's id anyway.
//
// # Encrypted repositories (format 2, init --encrypt)
//
// Encryption comes with format 2; format-1 repositories are never
// encrypted (a format-1 config naming a cipher is refused). An encrypted
// store holds:
//
//	config                 JSON stub, only what opening needs: version, id,
//	                       "encryption": "aes-256-gcm", "keys": "keys/"
//	config.sealed          the whole Config (chunking, creation time), sealed
//	keys/<id>              a key file, one per password (below), JSON
//	data/<hh>/<id>         a chunk, map block or config blob, sealed; <id> is
//	                       the BLAKE3-256 of its plaintext keyed by the chunk-id key
//	points/<h>             a manifest, sealed; <h> is the hex of the BLAKE3-256,
//	                       keyed by the name key, of vm 0x00 point-time-name
//	quarantine/<id>        as in a plain store (the sealed bytes as found)
//	holds/<h>/<until>      empty: the point of points/<h> is locked until <until>
//
// The master key is 32 random bytes made at init and stored only wrapped.
// BLAKE3 in key-derivation mode, one fixed context per purpose, derives
// from it the object key (AES-256-GCM), the chunk-id key, the name key and
// a seed the chunker may use (Repo.ChunkerSeed), so chunk lengths do not
// fingerprint known content. Every chunk id of the repository comes from
// Repo.HashChunk: the writer, fetch, verify and check use it.
//
// A sealed object is nonce(12) || ciphertext || tag(16): AES-256-GCM of the
// object's plain encoding (the encoding byte and payload above), with
// "vmarchive object" 0x00 and its store name as associated data, so an
// object put under another name (a swapped chunk, a manifest of another
// point) fails like a flipped bit: ErrCorrupt naming the object, found by
// reads, verify and check, and quarantined as in a plain store. The
// nonce is random: one master key should seal fewer than 2^32 objects
// (4 PiB of 1 MiB chunks), where a nonce collision becomes 2^-32 likely.
// AES-256-GCM rather than XChaCha20-Poly1305: it is in the standard
// library and, with AES-NI and carry-less multiply (amd64 and arm64 have
// them), BenchmarkSeal (catalog/format) seals 1 MiB at 3.4 GB/s and
// opens at 3.0 GB/s on this project's machine, XChaCha20-Poly1305 at 1.2
// and 1.4 GB/s (best of three runs, the machine busy with other jobs).
// Compression comes first, so less is sealed than read; BenchmarkWriterAdd
// (hash, compress, seal, write) puts encrypted within its noise of plain.
//
// A key file is JSON: version, id (16 hex digits, its name), created, kdf
// "argon2id" with its parameters (time, memory_kib, threads), a 32-byte
// salt, the wrapped master key (nonce, AES-256-GCM under the argon2id key
// of the password, associated data "key file" 0x00 id, tag) and sum, the
// BLAKE3 of the other fields, so a damaged key file is named as damaged
// instead of looking like a wrong password. argon2id (RFC 9106) is memory
// hard, which makes guessing on GPUs costly, and its parameters are
// stored per key file, so new keys can get dearer ones; new keys use
// RFC 9106's second recommended setting, three passes over 64 MiB in four
// lanes. Opening tries the password against each key file, newest first;
// none opening is ErrWrongPassword, after the derivation and before any
// object but config and keys/ is read. Adding a key writes a new key file;
// removing the only one is refused, and so is removing the one the
// repository was opened with; changing the password writes a new key file,
// durable, before deleting the old one.
//
// Someone with the store but no password sees the repository id, format
// and cipher; the key files' count, creation times and KDF parameters;
// the number and sizes of objects (so roughly how the disks were cut, how
// much each ingest added, and how many points there are) and the files'
// times. Not the data, VM, disk and file names, point times, which objects
// a point uses (maps are sealed), or whether a chunk compressed. Changes
// are detected, but not a replay of a whole earlier object under its own
// name: a deleted manifest put back brings its point back (gc adopts it),
// as would copying the files back in a plain store.
//
// The catalog is a local index and holds manifests (VM names, times, file
// indexes) in clear, protected by its owner-only modes as in a plain
// repository; it is rebuilt from the store with the password. No password
// is ever written anywhere.
//
// # Repositories in object stores
//
// With --repo s3:https://host/bucket/prefix the store is that bucket's
// objects under prefix/ (package backend/s3: names as above), and the
// directory of lock, catalog and control socket is a cache on the host,
// CACHE/<repository id>/ (CACHE: --cache-dir, default
// $XDG_CACHE_HOME/vmarchive), found by reading the bucket's config
// (Attach). A missing catalog is built from the bucket on open, as
// `catalog rebuild` does; catalog.building marks a build in progress, so
// one cut short is done again rather than taken for a whole catalog. The
// cache holds what a local catalog holds (manifests in clear, owner-only)
// and never a password or S3 credential. A mount adds chunks/, a cache of
// the objects its reads fetched (Options.ChunkCacheBytes, package
// chunkcache): bounded in bytes on disk, least recently used evicted,
// each object as the bucket holds it (sealed when encrypted) and kept only
// once verified. Init refuses a bucket holding a
// config, and reads its config back after writing it, so of two inits
// racing one fails.
//
// # Several hosts on one bucket
//
// Each host keeps its own catalog cache and the bucket is the truth.
// Opening refreshes the cache (refresh.go): points/ is listed, manifests
// the cache lacks are read and added with their chunk keys when every
// object they reference is in the bucket (one data/ listing, only when
// there is a new manifest), and points whose manifests are gone (forgotten
// on another host) are dropped. A mount refreshes every --refresh (1m);
// a command run through a holder refreshes first. So a kill after the
// manifest is durable (see Commit order) leaves a point every host lists.
//
// Writers and gc exclude each other across hosts with lock objects
// (bucketlock.go), as restic's exclusive prune lock does, rather than
// Proxmox Backup Server's sweep by access time: the backend interface
// has no object times, and this needs only put, list and delete.
//
//	locks/<owner>-write    held while an open Repo has Writers (ingest, copy)
//	locks/<owner>-gc       held while gc runs
//	gcgen                  random id, rewritten by each gc before it deletes
//
// A Writer takes its Repo's write lock at its first chunk. While another
// owner's live gc lock exists it removes its own object and waits; gc
// keeps its object and waits until no other owner's write or gc lock is
// live (two gcs both back off and retry after a random wait). Both put
// their object before listing, so of a writer and a gc starting together
// at least one sees the other (S3 lists are strongly consistent). Hence
// gc never runs while a writer on another host is between uploading (or
// reusing) a chunk and committing the manifest that references it, and
// marks from every manifest in the bucket. Forget needs no lock: it only
// deletes manifests, and a chunk a running writer reuses from a forgotten
// point stays until that writer's manifest protects it. Within one
// process gc and writers coordinate in memory as before (gc.go). The
// price: gc waits for the ingests running on other hosts, and ingests
// that start while it runs wait for it (both log whom they wait for).
//
// The chunk keys of a cache are kept right by gcgen: gc writes a new id
// there (and in CACHE/<id>/gcgen) before deleting; a host's first writer,
// once it holds the write lock, compares the bucket's id with its own
// copy and, when they differ, lists data/ and drops the keys of objects
// gone, so chunks another host's gc removed are uploaded again. It then
// refreshes, so chunks other hosts stored are not uploaded again.
//
// Failure cases:
//   - A host that dies (kill -9, power loss) holding a lock leaves its
//     object. A lock counts as dead once another host has seen the same
//     bytes for a whole lease (Options.LockLease, 5m; VMARCHIVE_LOCK_LEASE
//     sets it for tests of commands) by its own clock; it is then deleted
//     and named in the log ("removed an ingest on host ... unchanged for
//     5m0s"). A dead writer holds gc up for one lease;
//     its uploaded chunks are unreferenced and collected, its checkpointed
//     chunk keys dropped at that host's next ingest through gcgen.
//   - Clock skew between hosts does not matter: no host compares its
//     clock with a time another wrote. Holders rewrite their object every
//     lease/4; observers count a lease on their own monotonic clock.
//   - A holder that cannot rewrite its object (bucket unreachable, process
//     paused or suspended) for lease/2 takes its lock for lost, before any
//     other host can take it for dead: Commit then fails before writing
//     the manifest ("run it again"), gc stops before its next batch of
//     deletions. What remains is a pause longer than lease/2 exactly
//     between that check and the manifest's PUT (or one batch of
//     deletions), as with any lease without fencing in the store.
//   - All hosts must run a build with these locks: an older one's gc
//     ignores them.
//
// Someone with the bucket but no password also sees the lock objects'
// names and sizes and gcgen (lock contents, host names and pids, are
// sealed like manifests).
//
// # Point locks
//
// A locked point's lock date is in its holds (pointlock.go): one empty
// object per lock or extension, named by the manifest's name under
// points/ and the date; the latest counts. Objects are never rewritten,
// and one under S3 Object Lock cannot be, so an extension adds a hold.
// Forget refuses a point whose date has not passed (a retention policy
// keeps it instead), so gc keeps its objects. The catalog caches no lock:
// forget and lock list holds/ (one request), so a lock made on another
// host counts at once. A date from a retention policy is Decision.Until
// (policy.go): the start of the N-th bucket after the point's own for
// each keep-* option with a count N that keeps it, the latest of these.
//
// When the backend is a backend.Locker (package backend/s3 on a bucket
// with Object Lock), a lock also gives every object the point needs its
// date as retention, the mode --s3-lock-mode (compliance by default):
// manifest, hold, configuration blobs, map blocks, chunks, and the
// repository's config, config.sealed and keys/ (nothing reads without
// them). An object several points need keeps the latest date; retentions
// are extended, never shortened. The holds are made durable first, so a
// lock cut short is refused by forget at once, and the same lock run
// again finishes setting the retentions. A bucket without Object Lock is
// refused before any hold is written. gc never asks to delete an object
// under retention (the backend's Delete finds it by a HEAD and returns
// backend.ErrLocked; versitygw also refuses the DELETE itself, and on a
// versioned AWS bucket a DELETE would add a delete marker): it counts it
// in GCResult.KeptLocked and goes on. The local backend returns
// ErrLocked for a delete refused with EPERM (a file made immutable with
// chattr +i), so gc goes on there too.
//
// holds/ needs no format version bump: older builds never list it, so
// they read such repositories as before; but an older build's forget
// ignores lock dates (with Object Lock the bucket still refuses to delete
// a locked point's manifest and chunks). Someone with an encrypted store
// but no password sees from the holds' names how many points are locked
// and until when, not which VM or point time.
//
// # Permissions and symbolic links
//
// A repository is its owner's alone: directories 0700, files 0600, whatever
// the umask (pebble writes through a vfs that sets the modes, the local
// backend creates 0700/0600, Init makes an existing empty directory 0700).
// Open tightens a looser REPO, REPO/store, REPO/catalog, REPO/lock and the
// catalog's files (layout.go), so repositories of older versions are fixed
// on first use. Nothing inside REPO is a symbolic link: lock is opened with
// O_NOFOLLOW, Open refuses links at REPO's own entries and in catalog/, and
// the local backend refuses a linked directory or object under store/.
//
// # Point times
//
// A new point's time lies from MinPointTime (1990-01-01T00:00:00Z) to
// MaxPointAhead (one day) past now; point keys order unsigned seconds since
// 1970, so every accepted time sorts correctly. Older repositories keep
// whatever points they hold; a point from before 1970 there has a key that
// sorts after every later one, so listings sort by time and latest looks
// below the first such key (testdata/pre1970-repo.tar.gz, written by an
// older build, tests it).
//
// # Failures of the catalog
//
// pebble's errors reach callers as errors (pebble.go): a damaged file is
// ErrCorrupt naming it and `catalog rebuild`; a full disk names the path.
// pebble's fatal paths (its logger's Fatalf, a flush failing forever in the
// background) end the catalog's writes, not the process, which may be a
// mount. Commands that only read open the catalog read-only (Options.ReadOnly),
// which writes nothing and so works on a full disk.
//
// # Chunks (format 2)
//
// Format 2 replaces design.md's "fixed-size chunks" decision (issue 14):
// a disk is cut at 4 KiB-aligned offsets chosen by the content before them
// (package ingest/chunker), each chunk from Chunking.Min to Chunking.Max
// bytes (but a disk's last), Chunking.Avg on average, fixed at init. Data
// that moves on disk (a rebuilt or defragmented filesystem, one OS update
// in many VMs) is then found again at its new offset, while chunks stay
// aligned to the guests' blocks and as few as fixed 1 MiB chunks. A run of
// zero 4 KiB blocks is never stored: it ends a chunk and is a hole.
//
// A full ingest (of an image, or from vSphere without changed areas) also
// ends a chunk where the data of a guest
// file of at least Chunking.Min bytes starts or ends (guestfs.FileBoundaries,
// rounded in to 4 KiB), so such a file's chunks are the same whatever its
// neighbours: content alone lets a chunk span the end of one moved file and
// the start of another, and then neither dedups. On the moved pair of
// bench/format2.sh this took the second version from 62.8 to 34.8 MiB and
// the first from 117.5 to 110.7 MiB (the same files on FAT, NTFS and ext4
// now share chunks), for 50% more chunks. Readers assume nothing of where
// boundaries fall (any extent from 4 KiB to Max is valid), so repositories
// with and without these boundaries are one format. In an encrypted
// repository a chunk ending at a file's end says where a file ended in the
// 4 KiB grid, not what it holds; the stored sizes are padded by nothing,
// as before.
//
// # Disk maps (format 2)
//
// A disk's map lists its extents (length, chunk id or hole) in disk order,
// contiguous from 0 to the disk's size, in a tree of blocks stored like
// chunks (format/mapblock.go):
//
//	block = kind(1: 3 leaf, 4 inner) level(1) count(uvarint) entries
//	leaf entry  = uvarint(length<<1 | hole) [id(32) unless hole]
//	inner entry = uvarint(length) id(32)      (a child block one level down)
//
// Blocks hold lengths, not offsets: a block starts where its parent says,
// so equal runs of extents are equal blocks. A block ends after an entry
// whose id (a hole: its length, mixed) has 7 low zero bits, 16 to 1024
// entries in: boundaries depend on the entries alone, so a changed or
// inserted extent changes its block and perhaps the next at each level,
// not every block after it. Lengths are multiples of 4096 but the disk's
// last; decoders refuse anything else (FuzzMapBlock). The root's id is
// DiskRecord.Map; ZeroID for a disk of zeros or of no bytes.
//
// Lookup descends from the root, a binary search per block: O(log n)
// over decoded blocks the blob cache keeps beside their bytes (cache.go).
// ChangedExtents walks two maps together and skips every block with the
// same id at the same offset in both without reading it, so diff costs
// O(changes). MapBuilder.Append stores each block as soon as it ends:
// memory is one open block per level.
//
// # Chunk maps (format 1)
//
// Format 1 repositories (written by builds before issue 14) still open,
// read and mount; ingest refuses them (copy them into a format-2
// repository). A format-1 disk is cut into ChunkSize pieces aligned to disk
// offsets (the last may be short). Its map is a two-level tree of blocks
// stored like chunks:
//
//	block  = kind(1 byte: 1 leaf, 2 root) count(uint32 LE) count × 32-byte ids
//	root   = ids of the leaves, leaf i covering chunks [1024i, 1024i+1024)
//	leaf   = ids of the chunks
//
// The all-zero id stands for zeros: a zero chunk, a leaf of zero chunks, or
// an all-zero disk (zero root) is never stored. DiskMap serves these maps
// through the same methods: one extent per chunk, a zero chunk a hole.
// Manifests of format 1 are version 1 (chunk_size); of format 2, version 2
// (chunking).
//
// # Catalog keys (SchemaVersion 1)
//
//	's'                          -> schema version (1 byte)
//	'c' id(32)                   -> uvarint stored size: chunk known to be in the store
//	                                (with the map's extent length it gives how well
//	                                the chunk compressed: Repo.ChunkStoredSize)
//	'p' vm 0x00 unixsec(8, BE)   -> manifest JSON (the same bytes as in the store)
//	'd' vm 0x00 unixsec(8, BE) name
//	                             -> derived data of that point, named by name
//	                                ("files": the guest file index of package index;
//	                                "testrestore": the JSON Result of the point's
//	                                latest test restore, package service/testrestore;
//	                                "scan": the JSON State of the point's latest
//	                                vmarchive scan, package forensic/scan;
//	                                "hashes": every guest file's MD5, SHA-1 and
//	                                SHA-256, package forensic/hashes)
//	'r' job 0x00 unixnano(8, BE) -> a run record of `vmarchive serve`'s job
//	                                (package service's JSON; the last N per job)
//	'o' name                     -> the service's operational state named name
//	                                ("rpo-late": the VMs whose RPO breach was
//	                                notified, package service's JSON)
//
// Derived data is computed from a point's chunks and is not in the store:
// `catalog rebuild` drops it and its users rebuild it lazily. Forgetting a
// point deletes its derived keys in the batch that deletes its point key.
// Only the process holding the repository writes it (PutDerived).
// Run records and state are operational data of the service, in no store
// object: `catalog rebuild` drops them too (runs.go).
//
// A test restore result is operational data (what this host found when it
// last read the point back), so it lives here and not in the store: no
// format change, and a rebuilt or other host's catalog shows the point as
// untested until it is tested again. Each test replaces the previous result.
//
// Keys are built only by the helpers in format/keys.go; the structures
// above are defined in package format.
//
// # Commit order
//
// Chunks are written (not synced one by one), then one backend Sync makes
// them durable, then the manifest is written and synced, then one synced
// pebble batch adds the chunk keys and the point key. A crash before the
// manifest is durable leaves no point, only unreferenced objects; a crash
// after it leaves a whole point that only the store lists (see gc below).
// A re-run of that ingest replaces the manifest, so catalog and store hold
// the same bytes.
//
// A long ingest or copy checkpoints (checkpoint.go): every CheckpointBytes
// (256 MiB) of new objects, one Sync makes them durable and one synced
// batch adds their chunk keys, so a re-run after a crash finds them known
// and does not store them again. Until a Commit references them they are
// unreferenced keys, which gc collects (a running Writer's are protected
// as its other chunks are). Objects and manifests the catalog does not know are
// written with backend.Replace, never skipped because a copy (perhaps a
// damaged one) already has the name.
//
// # Garbage collection: the store is the truth
//
// gc's roots are the manifests in the store and the points in the
// catalog; it deletes nothing either references. A manifest the catalog
// lacks (an ingest killed after its manifest was durable, or a catalog
// restored from an older copy) is added to the catalog, with the chunk
// keys of its objects, when every object it references is in the store;
// otherwise gc names it and keeps its surviving objects, and `catalog
// rebuild` lists it as damaged so that forget can remove it. A catalog
// point whose manifest is gone (an interrupted forget) keeps its objects
// until forget is run again or the catalog rebuilt. A chunk key whose
// object is missing from the store is dropped.
//
// # Healing
//
// When verify or check finds an object missing, or damaged for good
// (its content fails its hash or cannot be decoded; a plain I/O error does
// not count), the catalog drops its chunk key. The next ingest of the same
// data then stores the object again, replacing any damaged copy, which
// heals every point that uses it (as Proxmox Backup Server does). Until
// then check reports the object as missing (as not in the catalog if it
// could not be moved).
//
// A damaged object is first moved to quarantine/<id>: backends cannot
// rename, so it is copied there, the copy made durable, then the original
// deleted (a failure leaves it in data/ and is reported). catalog rebuild,
// gc and check list only data/ and points/, so a rebuild does not re-add
// its chunk key, gc never deletes it, and its bytes stay for inspection (a
// false alarm from a reader bug destroys nothing); remove it by hand.
// quarantine/ needs no format version bump: older builds never list it
// (they list only data/ and points/, and the local backend walks only
// the prefix's directory), so they ignore it.
package catalog
