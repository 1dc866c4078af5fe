// Package web serves the archive over HTTP to people without FUSE: WebDAV
// at /dav/ and downloads at /download/, views over the same read paths as
// the mount (fs/tree), behind the access control of the service config's
// web: section.
//
// # Access
//
// Nothing is served to a request without a user. A user proves who they
// are with HTTP Basic (a password checked against a bcrypt or argon2id
// hash from `vmarchive hash-password`), accepted only over TLS or from a
// loopback address, or with a bearer token read from a file. Each user is
// an admin (everything) or an operator limited to the VMs matching their
// globs: other VMs do not exist for them, in listings or by URL. The
// typed API under /v1/ is admin-only.
//
// Behind a reverse proxy, have the proxy talk TLS to vmarchive or run on
// the same host (loopback): forwarded headers are not trusted, so Basic
// over plain HTTP from another host is refused whatever the proxy says.
//
// Guest file permissions are not enforced: web users are backup
// operators and read every file of the VMs they see. Every download is
// logged with user, VM, point and path.
//
// A verified password is remembered for five minutes under a keyed hash
// (never in clear), so WebDAV clients, which send Basic with every
// request, do not pay a password hash per request.
package web
