package control

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"golang.org/x/sys/unix"
)

// Who may talk to whom: the socket directory, and the peer checks of
// both ends.

// privateDir makes dir an owner-only directory of ours, creating it or
// fixing its mode. A directory someone else owns, or a symlink, is refused.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	// Through one descriptor, so what is checked is what is changed.
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory %s (a symlink is refused): %w", dir, err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if int(st.Uid) != os.Geteuid() {
		return fmt.Errorf("directory %s belongs to uid %d, not to uid %d: remove it", dir, st.Uid, os.Geteuid())
	}
	if st.Mode&0o7777 != 0o700 {
		if err := unix.Fchmod(fd, 0o700); err != nil {
			return fmt.Errorf("make %s owner-only: %w", dir, err)
		}
	}
	return nil
}

// allowed checks the peer's uid: only ours and root's are served. A
// refused peer gets 403 and the refusal is logged; its request body is
// never read.
func (s *Server) allowed(w http.ResponseWriter, c net.Conn) bool {
	var cred *unix.Ucred
	err := errors.New("no connection")
	if c != nil {
		cred, err = peerCred(c)
	}
	if err == nil && (int(cred.Uid) == s.uid || cred.Uid == 0) {
		return true
	}
	who := "an unknown peer"
	if err == nil {
		who = fmt.Sprintf("uid %d (pid %d)", cred.Uid, cred.Pid)
	}
	allowed := fmt.Sprintf("uid %d and root", s.uid)
	if s.uid == 0 {
		allowed = "root"
	}
	if s.logger != nil {
		s.logger.Printf("control: refused a connection from %s: only %s may run commands here", who, allowed)
	}
	httpError(w, http.StatusForbidden, fmt.Sprintf("control: refused: only %s may use this repository's holder", allowed))
	return false
}

// checkServer refuses a server that is neither our user nor root: a
// socket planted by another user must not receive our command or secret.
func checkServer(c net.Conn, path string) error {
	cred, err := peerCred(c)
	if err != nil {
		return fmt.Errorf("control: %s: peer credentials: %w", path, err)
	}
	if int(cred.Uid) != os.Geteuid() && cred.Uid != 0 {
		return fmt.Errorf("control: %s is served by uid %d, neither us (uid %d) nor root: command not sent", path, cred.Uid, os.Geteuid())
	}
	return nil
}

// peerCred reads the connected peer's credentials (SO_PEERCRED).
func peerCred(c net.Conn) (*unix.Ucred, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil, fmt.Errorf("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return nil, err
	}
	var cred *unix.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, err
	}
	return cred, cerr
}

// PrivateDir makes dir an owner-only directory of ours, as Listen does
// for the control socket's: other servers (package service's API) put
// their sockets there too.
func PrivateDir(dir string) error { return privateDir(dir) }

// PeerUID returns the uid of the process at the other end of the unix
// connection c (SO_PEERCRED).
func PeerUID(c net.Conn) (int, error) {
	cred, err := peerCred(c)
	if err != nil {
		return 0, err
	}
	return int(cred.Uid), nil
}
