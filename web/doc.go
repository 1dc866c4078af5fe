// Package web serves the archive over HTTP to people without FUSE: an
// HTML interface at /ui/, WebDAV at /dav/ and downloads at /download/,
// views over the same read paths as the mount (fs/tree), behind the
// access control of the service config's web: section.
//
// # The HTML interface
//
// Server-rendered pages (html/template, CSS embedded, no script):
// /ui/ lists the VMs a user sees with their newest point and, from the
// service's API, their state against the job's RPO, failures first;
// /ui/tree/<vm>/<point>/<disk>/p<N>/... browses the tree as the mount
// shows it, a page of 100 entries at a time, sorted on the server (by
// name only the page's entries are read); a file's page shows its
// metadata, xattrs, SHA-256 on request and a link to its other versions;
// /ui/search finds names through the file index (as `vmarchive find`);
// /ui/compare shows diff.Compare of two points as `vmarchive diff` prints
// it, a table paged and filtered on the server (reports kept, 8 at most);
// the dashboard shows admins catalog.Repo.Stats, computed in the
// background once per set of points;
// /ui/jobs lists the jobs with a run-now button (admins). Guest names are
// text on the page, quoted when they hold control characters or bytes
// that are not UTF-8.
//
// # Sessions
//
// Browsers log in at /login: the password (over TLS or from loopback
// only) buys a random cookie, HttpOnly, SameSite=Strict, Secure over
// TLS, kept in memory (a restart logs everyone out). It ends on logout,
// after 30 minutes idle or 12 hours. A cookie authenticates GET and HEAD
// anywhere and POST only to the UI, whose every POST (the login form
// included) must carry a CSRF token; the API does not take cookies.
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
